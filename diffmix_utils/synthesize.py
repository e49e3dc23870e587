"""Synthesis stage: plan the tasks, run them in fixed batches, write images and the manifest.

The task plan (``synthesis_plan``) is written (``plan.csv``) before any image; its batches run in
fixed order. Bad inputs (a class without a training image, a fine-tune folder without the files
the strategy loads) stop the stage before anything is written.

Each image is written atomically, so a rerun after ``kill -9`` skips finished batches and ends
with exactly the files an uninterrupted run writes; ``manifest.csv`` and ``done.json`` come last.

``synthesize.num_processes`` N > 1 spreads the fixed batches over N worker processes (batch b goes
to worker b mod N; on GPUs worker k uses ``cuda:k``), so the images are byte-identical for any N.
On CPU a process runs its batches side by side in ``synthesize.cpu_workers`` threads of
``synthesize.cpu_threads`` torch threads each (``cpu_lanes``), the same bytes for any number of them.
Under ``accelerate launch`` / ``torchrun ... -m diffmix_utils.synthesize params.yaml`` the launched
processes shard the same way by ``RANK`` / ``WORLD_SIZE``, and rank 0 writes the manifest once all
planned images are on disk.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import artifacts
from .cpu_lanes import cpu_threads, lane_count, lane_pipeline, run_in_lanes
from .data import ensure_split, open_image
from .models.base import apply_finetune, load_pipeline, pick_device
from .strategies import get_strategy
from .synthesis_plan import make_batches, plan_tasks


def check_finetune(p: dict, strategy) -> None:
    """A strategy that loads the fine-tune needs its folder complete and holding the files it loads."""
    if not strategy.needs_finetune:
        return
    ft = artifacts.finetune_dir(p)
    if not artifacts.is_done(ft):
        raise FileNotFoundError(f"strategy {strategy.name!r} needs the fine-tuned model, but "
                                f"{ft} is not complete: run the finetune stage first")
    need = (["pytorch_lora_weights.safetensors"] if strategy.lora else []) + \
        (["learned_embeds.safetensors"] if strategy.tokens and p["finetune"]["mode"] != "lora_only" else [])
    missing = [name for name in need if not (ft / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{ft} is marked complete but has no {' and no '.join(missing)}, which strategy "
                                f"{strategy.name!r} loads: delete that folder and rerun the finetune stage")


DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def synthesis_dtype(p: dict, device: str) -> torch.dtype:
    """``synthesize.dtype``; auto is fp16 on CUDA (as the reference) and fp32 on CPU."""
    name = p["synthesize"]["dtype"]
    if name == "auto":
        name = "fp16" if device.startswith("cuda") else "fp32"
    return DTYPES[name]


def load_strategy_pipeline(p: dict, strategy, device: str, merge_lora: bool = True):
    """The pipeline a strategy needs (fine-tuned, tokens only, or base) and whether it has the tokens;
    ``merge_lora=False`` leaves the LoRA as a separate branch, as the reference runs it."""
    kind = "img2img" if strategy.img2img else "txt2img"
    check_finetune(p, strategy)
    pipe = load_pipeline(p["model"]["base"], artifacts.store(p), kind, device, dtype=synthesis_dtype(p, device))
    tokens = []
    if strategy.needs_finetune:
        ft = artifacts.finetune_dir(p)
        has_tokens = (ft / "learned_embeds.safetensors").is_file()
        tokens = apply_finetune(pipe, ft, lora=strategy.lora, embeddings=strategy.tokens and has_tokens)
        if strategy.lora and merge_lora:  # merge W + BA once: calls skip the LoRA branch (last bits differ)
            pipe.fuse_lora()
    return pipe, bool(tokens)


def pipeline_call(pipe, prompts: list[str], seeds: list[int], steps: int, guidance: float, resolution: int,
                  images: list | None = None, strength: float = 1.0) -> list:
    """The kit's one pipeline call: per-image prompts and seeded generators, one strength; img2img
    when ``images`` (already ``resolution`` px) are given, else text-to-image. PIL images out."""
    common = dict(prompt=prompts, num_inference_steps=steps, guidance_scale=guidance,
                  generator=[torch.Generator().manual_seed(s) for s in seeds])
    if images is None:
        return pipe(height=resolution, width=resolution, **common).images
    return pipe(image=images, strength=strength, **common).images


def render_batch(p: dict, split: dict, pipe, strategy, with_tokens: bool, batch: list[dict]) -> list:
    """One pipeline call for tasks that share a strength: each task's own prompt and seed; img2img
    sources are resized to ``model.resolution`` and the results back to the source size."""
    syn, res = p["synthesize"], p["model"]["resolution"]
    superclass = p["finetune"]["superclass"] or split["superclass"]
    prompts = [strategy.prompt(t["target_class"], split["classes"], superclass, with_tokens) for t in batch]
    call = dict(steps=syn["steps"], guidance=syn["guidance"], resolution=res)
    if not strategy.img2img:
        return pipeline_call(pipe, prompts, [t["seed"] for t in batch], **call)
    sources = [open_image(split, t["source_index"]) for t in batch]
    images = pipeline_call(pipe, prompts, [t["seed"] for t in batch], **call,
                           images=[s.resize((res, res), resample=3) for s in sources], strength=batch[0]["strength"])
    return [im.resize(s.size, resample=3) for im, s in zip(images, sources)]


def _generate(p: dict, out: Path, split: dict, batches: list[list[dict]], device: str, desc: str,
              processes: int = 1) -> int:
    """Run the batches whose images are not all on disk yet; returns the number of images made.
    On CPU the batches run side by side in lanes (``cpu_lanes``) of ``cpu_threads`` torch threads."""
    syn = p["synthesize"]
    todo = [b for b in batches if not all((out / t["path"]).is_file() for t in b)]
    if not todo:
        return 0
    strategy = get_strategy(syn["strategy"])
    on_cpu = device == "cpu"
    lanes = worker_threads(p, device, processes, len(todo))
    with cpu_threads(syn["cpu_threads"] if on_cpu else None):
        pipe, with_tokens = load_strategy_pipeline(p, strategy, device)
    if syn["compile"]:  # static shapes: a batch's kernels never depend on what ran before it
        pipe.unet = torch.compile(pipe.unet, dynamic=False)
    pipes = [pipe] + [lane_pipeline(pipe) for _ in range(lanes - 1)]
    bar, lock = tqdm(total=sum(map(len, todo)), desc=desc, unit="img"), threading.Lock()

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


def _prepare(p: dict) -> tuple[Path, dict, list[dict], list[list[dict]]]:
    out = artifacts.synthesis_dir(p)
    split = ensure_split(artifacts.split_path(p), p["data"], artifacts.store(p) / "datasets")
    tasks = plan_tasks(p, split)
    return out, split, tasks, make_batches(tasks, p["synthesize"]["batch_size"])


def run_shard(p: dict, index: int, count: int, device: str | None = None) -> int:
    """Worker ``index`` of ``count``: make the images of batches index, index + count, ..."""
    out, split, _, batches = _prepare(p)
    if device is None:
        device = pick_device(p["device"])
        if device == "cuda" and torch.cuda.device_count() > 1:
            device = f"cuda:{index % torch.cuda.device_count()}"
    return _generate(p, out, split, batches[index::count], device, f"synthesize shard {index + 1}/{count}",
                     processes=count)


def _run_workers(p: dict, count: int) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(p, fh)
    try:
        procs = [subprocess.Popen([sys.executable, "-m", "diffmix_utils.synthesize", "--member-json", fh.name,
                                   "--shard", str(k), str(count)]) for k in range(count)]
        failed = [k for k, proc in enumerate(procs) if proc.wait() != 0]
    finally:
        os.unlink(fh.name)
    if failed:
        raise RuntimeError(f"synthesis workers {failed} of {count} failed (see their output above); "
                           "rerun to continue: finished images are kept")


def _wait_for_images(p: dict, out: Path, timeout_s: float = 24 * 3600) -> None:
    """Rank 0 under a launcher: wait until the other ranks' images of the plan are all on disk."""
    _, _, tasks, _ = _prepare(p)
    deadline = time.time() + timeout_s
    while not all((out / t["path"]).is_file() for t in tasks):
        if time.time() > deadline:
            raise TimeoutError(f"{out}: other ranks did not finish their images in {timeout_s:.0f} s")
        time.sleep(2)


def run_synthesis(p: dict) -> Path | None:
    """Make the synthetic pool of ``p``; returns its folder (None for strategy 'none')."""
    out = artifacts.synthesis_dir(p)
    if out is None or artifacts.is_done(out):
        print("synthesis: nothing to do" if out is None else f"synthesis already complete: {out}")
        return out
    check_finetune(p, get_strategy(p["synthesize"]["strategy"]))
    out, split, tasks, batches = _prepare(p)
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
    generating = time.time() - start  # the generation alone (the filter below is not synthesis throughput)
    missing = [t["path"] for t in tasks if not (out / t["path"]).is_file()]
    if missing:
        raise RuntimeError(f"{len(missing)} planned images are missing in {out}, e.g. {missing[0]}; rerun")
    filtered = _filter(p, out, split, tasks)  # writes the manifest with score,kept when on
    if filtered is None:
        artifacts.write_manifest(out / "manifest.csv", tasks)
    artifacts.mark_done(out, {"filter": filtered, "images": len(tasks), "strategy": p["synthesize"]["strategy"],
                              "device": device,
                              "dtype": str(synthesis_dtype(p, device)).replace("torch.", ""),
                              "processes": count, "cpu_threads": p["synthesize"]["cpu_threads"]
                              if device == "cpu" else None, "seconds_this_run": round(time.time() - start, 1),
                              # wall clock of the generation, worker start-up and model loading included
                              "images_per_second_this_run": round(made / max(generating, 1e-9), 3)})
    return out


def _filter(p: dict, out: Path, split: dict, tasks: list[dict]) -> dict | None:
    """``synthesize.filter``: score the pool, write the manifest with ``score,kept``; None if off."""
    sy = p["synthesize"]
    if sy["filter"] == "none":
        return None
    from .filter import score_and_mark
    if sy["filter"] == "classifier":  # the run's own baseline on real data, reused by the train stage
        from .params import baseline_of
        from .train import run_training
        model = str(run_training(baseline_of(p)))
    else:
        model = sy["filter_model"]
    superclass = p["finetune"]["superclass"] or split["superclass"]
    counts = score_and_mark(out, tasks, sy["filter"], model, sy["filter_fraction"], superclass)
    return {"scorer": sy["filter"], "model": model, **counts}


def expected_images(p: dict, num_train: int) -> int:
    """How many images ``run_synthesis`` makes for a training set of ``num_train`` images."""
    return 0 if p["synthesize"]["strategy"] == "none" else max(1, round(p["synthesize"]["multiplier"] * num_train))


def run_stage(p: dict) -> list:
    """Run this stage for every sweep member that needs its own artifact folder."""
    return [run_synthesis(m) for m in artifacts.stage_jobs(p, "synthesize")]


def main(argv=None) -> int:
    """Workers and ``accelerate launch``: ``python -m diffmix_utils.synthesize params.yaml``."""
    import argparse
    from . import params
    ap = argparse.ArgumentParser(description="Synthesis stage (sharded workers, or under accelerate launch).")
    ap.add_argument("params_file", nargs="?")
    ap.add_argument("--member-json", help="a resolved sweep member (written by the parent process)")
    ap.add_argument("--shard", nargs=2, type=int, metavar=("INDEX", "COUNT"))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key")
    a = ap.parse_args(argv)
    if a.member_json:
        with open(a.member_json) as fh:
            run_shard(json.load(fh), *a.shard)
        return 0
    from .run import parse_overrides
    p = params.load(a.params_file, parse_overrides(a.set))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:  # accelerate launch / torchrun: shard by RANK; the rank-0 process writes the manifest
        rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
        device = f"cuda:{local}" if pick_device(p["device"]) == "cuda" else "cpu"
        for member in artifacts.stage_jobs(p, "synthesize"):
            member = {**member, "synthesize": {**member["synthesize"], "num_processes": 1}}
            out = artifacts.synthesis_dir(member)
            if out is None or artifacts.is_done(out):
                continue
            run_shard(member, rank, world, device)
            if rank == 0:
                _wait_for_images(member, out)
                run_synthesis(member)
        return 0
    run_stage(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
