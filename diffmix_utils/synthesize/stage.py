"""Synthesis stage: plan the tasks, run them in fixed batches, write images and the manifest.

The task plan (``plan``) is written (``plan.csv``) before any image; its batches run in
fixed order. Bad inputs (a class without a training image, a fine-tune folder without the files
the strategy loads) stop the stage before anything is written.

Each image is written atomically, so a rerun after ``kill -9`` skips finished batches and ends
with exactly the files an uninterrupted run writes; ``manifest.csv`` and ``done.json`` come last.

``synthesize.num_processes`` N > 1 spreads the fixed batches over N worker processes (batch b goes
to worker b mod N; on GPUs worker k uses ``cuda:k``), so the images are byte-identical for any N.
On CPU a process runs its batches side by side in ``synthesize.cpu_workers`` threads of
``synthesize.cpu_threads`` torch threads each (``lanes``), the same bytes for any number of them.
Under ``accelerate launch`` / ``torchrun ... -m diffmix_utils.synthesize params.yaml`` the launched
processes shard the same way by ``RANK`` / ``WORLD_SIZE`` (``__main__``).

The pool is never rewritten after ``done.json``: a filter's scores live in their own folder
(``filtering``), keyed by (pool, scorer, fraction).
"""
from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import torch

from .. import artifacts, children, handoff, jobs, locks, progress, provenance
from ..devices import deterministic_kernels, pick_device
from ..measure.name_check import require as require_name_check
from ..models.translate import check_finetune, load_strategy_pipeline, render_batch, synthesis_dtype
from ..strategies import get_strategy
from .lanes import cpu_threads, lane_count, lane_pipeline, run_in_lanes
from .plan import make_batches, plan_tasks


def _generate(p: dict, out: Path, split: dict, batches: list[list[dict]], device: str, desc: str,
              processes: int = 1) -> int:
    """Run the batches whose images are not all on disk yet; returns the number of images made.
    On CPU the batches run side by side in lanes (``lanes``) of ``cpu_threads`` torch threads."""
    syn = p["synthesize"]
    todo = [b for b in batches if not all((out / t["path"]).is_file() for t in b)]
    if not todo:
        return 0
    strategy = get_strategy(syn["strategy"])
    on_cpu = device == "cpu"
    if not on_cpu and p["deterministic"]:
        deterministic_kernels(True)
    lanes = worker_threads(p, device, processes, len(todo))
    with cpu_threads(syn["cpu_threads"] if on_cpu else None):
        pipe, with_tokens = load_strategy_pipeline(p, strategy, device)
    if syn["compile"] and pipe is not None:  # static shapes: a batch's kernels never depend on what ran before it
        pipe.unet = torch.compile(pipe.unet, dynamic=False)
    pipes = [pipe] + [lane_pipeline(pipe) if pipe is not None else None for _ in range(lanes - 1)]
    bar, lock = progress.bar(total=sum(map(len, todo)), desc=desc, unit="img"), threading.Lock()

    def render_and_write(lane: int, batch: list[dict]) -> None:
        for t, im in zip(batch, render_batch(p, split, pipes[lane], strategy, with_tokens, batch)):
            artifacts.atomic_write(out / t["path"], lambda tmp, im=im: im.save(tmp, format="PNG"))
        with lock:
            bar.update(len(batch))

    try:
        run_in_lanes(todo, lanes, syn["cpu_threads"] if on_cpu else None, render_and_write)
    finally:
        bar.close()
    return sum(map(len, todo))


def worker_threads(p: dict, device: str, processes: int, batches: int) -> int:
    """Threads of one process that run batches side by side: on CPU ``synthesize.cpu_workers`` (null:
    the cores shared by the processes); one on GPUs, and one with ``compile``, since torch.compile is
    not thread-safe (pytorch#118260) and ``process_count`` spreads such a CPU run over processes."""
    syn = p["synthesize"]
    if device != "cpu" or syn["compile"]:
        return 1
    return lane_count(syn["cpu_workers"], syn["cpu_threads"], processes, batches)


def process_count(p: dict, device: str, batches: int) -> int:
    """``synthesize.num_processes``; null is one per GPU, or on CPU one process whose worker threads
    share the cores (with ``compile``, one process per worker instead); never more than there are batches."""
    syn = p["synthesize"]
    wanted = syn["num_processes"]
    if wanted is None and device.startswith("cuda"):
        wanted = torch.cuda.device_count()
    elif wanted is None:
        wanted = lane_count(syn["cpu_workers"], syn["cpu_threads"], 1, batches) if syn["compile"] else 1
    return max(1, min(wanted, batches))


def prepare(p: dict) -> tuple[Path, dict, list[dict], list[list[dict]]]:
    out = artifacts.synthesis_dir(p)
    split = artifacts.open_split(p)
    tasks = plan_tasks(p, split)
    return out, split, tasks, make_batches(tasks, p["synthesize"]["batch_size"])


def run_shard(p: dict, index: int, count: int, device: str | None = None) -> int:
    """Worker ``index`` of ``count``: make the images of batches index, index + count, ..."""
    out, split, _, batches = prepare(p)
    if device is None:
        device = pick_device(p["device"])
        if device == "cuda" and torch.cuda.device_count() > 1:
            device = f"cuda:{index % torch.cuda.device_count()}"
    return _generate(p, out, split, batches[index::count], device, f"synthesize shard {index + 1}/{count}",
                     processes=count)


def _run_workers(p: dict, count: int) -> None:
    with tempfile.TemporaryDirectory() as work:
        member = handoff.write_member(p, Path(work) / "member.json")
        procs = [children.popen(handoff.command("diffmix_utils.synthesize", member, "--shard", str(k), str(count)))
                 for k in range(count)]
        failed = [k for k, code in enumerate(children.wait_all(procs)) if code != 0]  # interrupted: all stop
    if failed:
        raise RuntimeError(f"synthesis workers {failed} of {count} failed (see their output above); "
                           "rerun to continue: finished images are kept")


def run_synthesis(p: dict) -> Path | None:
    """Make the synthetic pool of ``p``; returns its folder (None for strategy 'none')."""
    out = artifacts.synthesis_dir(p)
    if out is None or artifacts.is_done(out):
        if out is None:
            print("synthesis: nothing to do")
        else:
            progress.already_complete("synthesis", out)
        return out
    return locks.once(out, "synthesis", lambda: _synthesize(p))


def _synthesize(p: dict) -> Path:
    strategy = get_strategy(p["synthesize"]["strategy"])
    check_finetune(p, strategy)
    if not strategy.tokens and not strategy.control:  # prompted with class names: a checked setting must pass
        require_name_check(p)
    out, split, tasks, batches = prepare(p)
    artifacts.write_manifest(out / "plan.csv", tasks)
    for partial in out.glob("images/*/.*.tmp"):  # a killed run's half-written image, never in the manifest
        partial.unlink()
    device, start = pick_device(p["device"]), time.time()
    count = process_count(p, device, len(batches))
    made = sum(not (out / t["path"]).is_file() for t in tasks)
    if count > 1:
        _run_workers(p, count)
    else:
        _generate(p, out, split, batches, device, f"synthesize {p['synthesize']['strategy']}")
    generating = time.time() - start
    missing = [t["path"] for t in tasks if not (out / t["path"]).is_file()]
    if missing:
        raise RuntimeError(f"{len(missing)} planned images are missing in {out}, e.g. {missing[0]}; rerun")
    artifacts.write_manifest(out / "manifest.csv", tasks)
    provenance.write(out, p, device, str(synthesis_dtype(p, device)).replace("torch.", ""))
    artifacts.mark_done(out, {"images": len(tasks), "strategy": p["synthesize"]["strategy"],
                              "device": device,
                              "dtype": str(synthesis_dtype(p, device)).replace("torch.", ""),
                              "processes": count, "cpu_threads": p["synthesize"]["cpu_threads"]
                              if device == "cpu" else None, "seconds_this_run": round(time.time() - start, 1),
                              # wall clock of the generation, worker start-up and model loading included
                              "images_per_second_this_run": round(made / max(generating, 1e-9), 3)})
    return out


def run_stage(p: dict) -> list:
    """Run this stage for every sweep member that needs its own artifact folder."""
    return [run_synthesis(m) for m in progress.members(jobs.stage_jobs(p, "synthesize"), "synthesize")]
