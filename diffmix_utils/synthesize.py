"""Synthesis stage: plan the tasks, run them in fixed batches, write images and the manifest.

The task plan (task -> source image, target class, strength, seed) is a pure function of the
parameters and the split file and is written (``plan.csv``) before any image. Source and target
classes are uniform over classes, as in the reference (so the pool is class-balanced even when the
real set is not); the source image is uniform within its class. Tasks are grouped into fixed
batches of one strength each; every image has its own generator seeded from (seed, task), so the
images do not depend on how batches are scheduled or on the resume history.

Each image is written atomically, so a rerun after ``kill -9`` skips finished batches and ends
with exactly the files an uninterrupted run writes; ``manifest.csv`` and ``done.json`` come last.

``synthesize.num_processes`` N > 1 spreads the fixed batches over N worker processes (batch b goes
to worker b mod N; on GPUs worker k uses ``cuda:k``), so the images are byte-identical for any N.
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
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from . import artifacts
from .data import ensure_split, open_image
from .models.base import apply_finetune, load_pipeline, pick_device
from .strategies import get_strategy


def task_seed(seed: int, task: int) -> int:
    """The image seed of a task: a pure function of (synthesis seed, task index)."""
    return int(np.random.SeedSequence([seed, task]).generate_state(1)[0])


def plan_tasks(p: dict, split: dict) -> list[dict]:
    """The full, deterministic task list of a synthesis run."""
    syn = p["synthesize"]
    strategy = get_strategy(syn["strategy"])
    classes = len(split["classes"])
    by_class: list[list[int]] = [[] for _ in range(classes)]
    for i in split["train"]:
        by_class[split["items"][i]["label"]].append(i)
    present = [c for c in range(classes) if by_class[c]]
    n = max(1, round(syn["multiplier"] * len(split["train"])))
    rng = np.random.default_rng([syn["seed"], 7])
    sources = rng.choice(present, size=n)
    targets = rng.integers(0, classes, size=n) if strategy.inter_class else sources
    picks = rng.random(n)
    if not strategy.img2img:
        strengths = np.ones(n)
    elif syn["strength_choices"]:
        strengths = np.asarray(syn["strength_choices"])[rng.integers(0, len(syn["strength_choices"]), n)]
    else:
        strengths = np.full(n, syn["strength"])
    tasks = []
    for t in range(n):
        src, tgt, s = int(sources[t]), int(targets[t]), float(strengths[t])
        index = by_class[src][int(picks[t] * len(by_class[src]))] if strategy.img2img else -1
        tasks.append({"task": t, "strategy": strategy.name, "source_class": src, "target_class": tgt,
                      "source_index": index, "strength": s, "seed": task_seed(syn["seed"], t),
                      "path": f"images/{src:03d}/{tgt:03d}-{index}-{s:g}-t{t:06d}.png"})
    return tasks


def make_batches(tasks: list[dict], batch_size: int) -> list[list[dict]]:
    """Fixed batches: tasks grouped by strength (in task order), then cut into ``batch_size``."""
    batches = []
    for s in sorted({t["strength"] for t in tasks}):
        group = [t for t in tasks if t["strength"] == s]
        batches += [group[i:i + batch_size] for i in range(0, len(group), batch_size)]
    return batches


def load_strategy_pipeline(p: dict, strategy, device: str):
    """The pipeline a strategy needs (fine-tuned, tokens only, or base) and whether it has the tokens."""
    kind = "img2img" if strategy.img2img else "txt2img"
    pipe = load_pipeline(p["model"]["base"], artifacts.store(p), kind, device)
    tokens = []
    if strategy.needs_finetune:
        ft = artifacts.finetune_dir(p)
        if not artifacts.is_done(ft):
            raise FileNotFoundError(f"strategy {strategy.name!r} needs the fine-tuned model, but "
                                    f"{ft} is not complete: run the finetune stage first")
        has_tokens = (ft / "learned_embeds.safetensors").is_file()
        tokens = apply_finetune(pipe, ft, lora=strategy.lora, embeddings=strategy.tokens and has_tokens)
    return pipe, bool(tokens)


def render_batch(p: dict, split: dict, pipe, strategy, with_tokens: bool, batch: list[dict]) -> list:
    """One pipeline call for tasks that share a strength: each task's own prompt and seed; img2img
    sources are resized to ``model.resolution`` and the results back to the source size."""
    syn, res = p["synthesize"], p["model"]["resolution"]
    superclass = p["finetune"]["superclass"] or split["superclass"]
    prompts = [strategy.prompt(t["target_class"], split["classes"], superclass, with_tokens) for t in batch]
    common = dict(prompt=prompts, num_inference_steps=syn["steps"], guidance_scale=syn["guidance"],
                  generator=[torch.Generator().manual_seed(t["seed"]) for t in batch])
    if not strategy.img2img:
        return pipe(height=res, width=res, **common).images
    sources = [open_image(split, t["source_index"]) for t in batch]
    images = pipe(image=[s.resize((res, res), resample=3) for s in sources], strength=batch[0]["strength"],
                  **common).images
    return [im.resize(s.size, resample=3) for im, s in zip(images, sources)]


def _generate(p: dict, out: Path, split: dict, batches: list[list[dict]], device: str, desc: str) -> int:
    """Run the batches whose images are not all on disk yet; returns the number of images made."""
    todo = [b for b in batches if not all((out / t["path"]).is_file() for t in b)]
    if not todo:
        return 0
    strategy = get_strategy(p["synthesize"]["strategy"])
    pipe, with_tokens = load_strategy_pipeline(p, strategy, device)
    if p["synthesize"]["compile"]:  # static shapes: a batch's kernels never depend on what ran before it
        pipe.unet = torch.compile(pipe.unet, dynamic=False)
    bar = tqdm(total=sum(map(len, todo)), desc=desc, unit="img")
    for batch in todo:
        for t, im in zip(batch, render_batch(p, split, pipe, strategy, with_tokens, batch)):
            artifacts.atomic_write(out / t["path"], lambda tmp, im=im: im.save(tmp, format="PNG"))
        bar.update(len(batch))
    bar.close()
    return sum(map(len, todo))


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
    # on CPU every worker keeps torch's default thread count: fewer threads change the float
    # reduction order, and then the images would differ in the last bits between 1 and N processes
    return _generate(p, out, split, batches[index::count], device, f"synthesize shard {index + 1}/{count}")


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
    out, split, tasks, batches = _prepare(p)
    artifacts.write_manifest(out / "plan.csv", tasks)
    device, start, count = pick_device(p["device"]), time.time(), p["synthesize"]["num_processes"]
    if count > 1:
        _run_workers(p, count)
        made = 0
    else:
        made = _generate(p, out, split, batches, device, f"synthesize {p['synthesize']['strategy']}")
    generating = time.time() - start  # the generation alone (the filter below is not synthesis throughput)
    missing = [t["path"] for t in tasks if not (out / t["path"]).is_file()]
    if missing:
        raise RuntimeError(f"{len(missing)} planned images are missing in {out}, e.g. {missing[0]}; rerun")
    filtered = _filter(p, out, split, tasks)  # writes the manifest with score,kept when on
    if filtered is None:
        artifacts.write_manifest(out / "manifest.csv", tasks)
    artifacts.mark_done(out, {"filter": filtered, "images": len(tasks), "strategy": p["synthesize"]["strategy"],
                              "device": device,
                              "processes": count, "seconds_this_run": round(time.time() - start, 1),
                              "images_per_second_this_run": round(made / max(generating, 1e-9), 3)
                              if count == 1 else None})
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
