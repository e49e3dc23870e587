"""Side-by-side synthesis batches on CPU: K Python threads ("lanes") in one process, each running
whole batches with a fixed number of torch threads.

Why: one batch of small UNet calls does not keep two cores busy (two torch threads are barely
faster than one at batch 2, and 1.4x at batch 48), while two lanes of one thread each are. Lanes
share the model's weights (a pipeline per lane is a shallow copy with its own scheduler and
tokenizer), start in milliseconds (worker processes pay seconds to import torch and load the model)
and release the GIL inside every torch op. The torch thread count of a lane is fixed
(``synthesize.cpu_threads``) because it changes the float reduction order, hence the images' last
bits; with it fixed, an image's bytes do not depend on the lane, the number of lanes or processes.
"""
from __future__ import annotations

import copy
import os
import threading
from typing import Callable, Sequence

import torch

from ..devices import torch_threads

_NO_JOB = object()


cpu_threads = torch_threads  # run a block with a fixed number of torch threads (devices)


def lane_count(wanted: int | None, threads: int, processes: int, jobs: int) -> int:
    """Lanes per process: ``wanted``, or (null) the usable cores shared by ``processes`` processes of
    ``threads``-thread lanes; never more than there are jobs."""
    if wanted is None:
        wanted = len(os.sched_getaffinity(0)) // (threads * processes)
    return max(1, min(wanted, jobs))


def lane_pipeline(pipe):
    """A pipeline for one more lane: the same modules, its own scheduler state and tokenizer."""
    lane = copy.copy(pipe)
    lane.scheduler = copy.deepcopy(pipe.scheduler)
    if getattr(pipe, "tokenizer", None) is not None:
        lane.tokenizer = copy.deepcopy(pipe.tokenizer)
    return lane


def run_in_lanes(jobs: Sequence, lanes: int, threads: int | None, work: Callable[[int, object], None]) -> None:
    """Call ``work(lane, job)`` for every job, each lane a thread with ``threads`` torch threads (None:
    leave them) taking the next job in order when it is free, so lanes stay busy when jobs differ in
    cost (a job's result must not depend on its lane). The first error stops every lane after its
    current job and is raised; so is an interrupt of the calling thread."""
    if lanes == 1:
        with cpu_threads(threads):
            for job in jobs:
                work(0, job)
        return
    stop, errors, take, queue = threading.Event(), [], threading.Lock(), iter(jobs)

    def lane_main(lane: int) -> None:
        try:
            if threads is not None:
                torch.set_num_threads(threads)
            while not stop.is_set():
                with take:
                    job = next(queue, _NO_JOB)
                if job is _NO_JOB:
                    return
                work(lane, job)
        except BaseException as exc:  # handed to the calling thread below
            errors.append(exc)
            stop.set()

    pool = [threading.Thread(target=lane_main, args=(k,), name=f"synthesis-lane-{k}", daemon=True)
            for k in range(lanes)]
    before = torch.get_num_threads()
    try:
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    except BaseException:
        stop.set()
        for t in pool:
            t.join()
        raise
    finally:
        torch.set_num_threads(before)
    if errors:
        raise errors[0]
