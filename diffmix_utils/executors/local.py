"""``--executor local --workers N``: N jobs at once on this machine, each a process of its own.

On a machine with GPUs each worker owns one (``CUDA_VISIBLE_DEVICES``); on CPU each gets
``cluster.cpu_threads`` torch threads (fixed, 1 by default: the same bytes as the serial executor). A job's output goes to ``runs/<name>/logs/<stage>-<key>.log``.
Workers die with the runner (``children``), also after a ``kill -9``.
"""
from __future__ import annotations

import os
from pathlib import Path

from .. import children, handoff
from ..graph import Job
from .scheduler import member_file


class LocalBackend:
    def __init__(self, run_dir: Path, workers: int, gpus: int, threads: int):
        self.run_dir, self.capacity, self.gpus, self.threads = run_dir, workers, gpus, threads
        self.free = list(range(workers))

    def start(self, job: Job, attempt: int):
        slot = self.free.pop(0)
        env = dict(os.environ)
        env.pop("DIFFMIX_TERMINAL_PROGRESS", None)  # a worker's bars go to its log
        if self.gpus:
            env["CUDA_VISIBLE_DEVICES"] = str(slot % self.gpus)
        else:
            env.update({"OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads)})
        log = self.run_dir / "logs" / f"{job.stage}-{job.folder.name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as fh:
            fh.write(f"--- attempt {attempt} ---\n")
            fh.flush()
            proc = children.popen(handoff.command(job.module, member_file(job, self.run_dir)),
                                  stdout=fh, stderr=fh, env=env)
        return proc, slot, log

    def ended(self, handle) -> int | None:
        proc, slot, _ = handle
        status = proc.poll()
        if status is not None and slot not in self.free:
            self.free.append(slot)
        return status

    def log(self, handle) -> str:
        return str(handle[2])

    def stop(self, handles) -> None:
        children.stop([h[0] for h in handles])


def gpu_count() -> int:
    import torch
    return torch.cuda.device_count() if torch.cuda.is_available() else 0
