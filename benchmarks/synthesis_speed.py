"""Synthesis throughput: the kit's synthesis stage vs the reference's one pipeline call per image.

    python benchmarks/synthesis_speed.py [params/benchmark.yaml] [--images 192] [--repeats 2] [--per-strength 48] [--compile]
                                         [--set synthesize.batch_size=48]

Every setting makes the same number of images from the parameter file's synthesis settings (its
strategy, base model, fine-tune, DPM-Solver steps, guidance, resolution; s = --strength, filter
off), each round with a fresh synthesis seed, timed from start to the last PNG on disk, model
loading included, and the settings alternate within one process so drifts hit all alike:

- kit stage, end to end: ``run_synthesis`` with the file's ``synthesize`` settings (on CPU, by
  default, one worker thread per core running whole batches with one torch thread each; batched
  calls; LoRA merged into the weights), model loading, plan and manifest included;
- the reference's way, end to end: one pipeline loaded and re-used, one image per call, the LoRA
  loaded unmerged, torch's default threads, each image written as it is made;
- the same two with the model already loaded (generation alone, the steady state of a large pool),
  and the kit's batches on one worker with torch's default threads (batching and the merged LoRA
  alone);
- with --compile, the kit stage with ``synthesize.compile`` (each worker compiles each batch shape;
  the first round pays the compilation, later rounds hit torch's on-disk cache).

Then the kit's cost per image across strengths in one process (img2img runs int(s * steps)
denoising steps; the paper's throughput figure). Prints images/s and ratios; asserts nothing.
"""
from __future__ import annotations

import argparse
import copy
import shutil
import sys
import tempfile
import time
from pathlib import Path

from diffmix_utils import artifacts, params
from diffmix_utils.synthesize.lanes import lane_pipeline, run_in_lanes
from diffmix_utils.data import ensure_split
from diffmix_utils.finetune import run_finetune
from diffmix_utils.params import parse_overrides
from diffmix_utils.devices import pick_device
from diffmix_utils.strategies import get_strategy
from diffmix_utils.synthesize.plan import make_batches, plan_tasks
from diffmix_utils.models.translate import load_strategy_pipeline, render_batch  # noqa: E402
from diffmix_utils.synthesize import (process_count, run_synthesis,
                                     worker_threads)

from _timing import alternate, report

_seeds = iter(range(10_000, 20_000))


def with_synthesis(p: dict, **changes) -> dict:
    """``p`` with a fresh synthesis seed and ``changes`` in its synthesize section."""
    m = copy.deepcopy(p)
    m["synthesize"].update(seed=next(_seeds), **changes)
    return m


def kit_stage(p: dict, **changes) -> float:
    m = with_synthesis(p, **changes)
    start = time.perf_counter()
    out = run_synthesis(m)
    rate = len(list(out.glob("images/*/*.png"))) / (time.perf_counter() - start)
    shutil.rmtree(out)
    return rate


def reference_way(p: dict, pipe=None) -> float:
    """One image per call, written as it is made; model loading timed unless ``pipe`` is given."""
    m = with_synthesis(p)
    split = ensure_split(artifacts.split_path(m), m["data"], artifacts.store(m) / "datasets")
    strategy = get_strategy(m["synthesize"]["strategy"])
    tasks = plan_tasks(m, split)
    start = time.perf_counter()
    pipe, with_tokens = pipe or load_strategy_pipeline(m, strategy, pick_device(m["device"]), merge_lora=False)
    with tempfile.TemporaryDirectory() as tmp:
        for t in tasks:
            render_batch(m, split, pipe, strategy, with_tokens, [t])[0].save(Path(tmp) / f"{t['task']}.png")
    return len(tasks) / (time.perf_counter() - start)


def kit_generation(p: dict, pipes: list, with_tokens: bool, threads: int | None) -> float:
    """The stage's batches on its workers (``pipes``: one per worker), model already loaded."""
    m = with_synthesis(p)
    split = ensure_split(artifacts.split_path(m), m["data"], artifacts.store(m) / "datasets")
    strategy = get_strategy(m["synthesize"]["strategy"])
    batches = make_batches(plan_tasks(m, split), m["synthesize"]["batch_size"])
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        def work(lane, batch):
            for t, im in zip(batch, render_batch(m, split, pipes[lane], strategy, with_tokens, batch)):
                im.save(Path(tmp) / f"{t['task']}.png")
        run_in_lanes(batches, len(pipes), threads, work)
    return sum(map(len, batches)) / (time.perf_counter() - start)


def parser() -> argparse.ArgumentParser:
    """The command line of ``python benchmarks/synthesis_speed.py`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python benchmarks/synthesis_speed.py", description=__doc__.split("\n")[0])
    ap.add_argument("params_file", nargs="?", default="params/benchmark.yaml",
                    help="the parameter file (default: %(default)s)")
    ap.add_argument("--images", type=int, default=192)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--strength", type=float, default=0.7)
    ap.add_argument("--per-strength", type=int, default=48, help="images timed at each strength of the last table")
    ap.add_argument("--compile", action="store_true", help="also time synthesize.compile")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key")
    return ap


def main(argv=None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    p = params.expand_sweep(params.load(args.params_file, parse_overrides(args.set)))[-1]
    split = ensure_split(artifacts.split_path(p), p["data"], artifacts.store(p) / "datasets")
    p["synthesize"].update(strength=args.strength, strength_choices=None, filter="none",
                           multiplier=args.images / len(split["train"]))
    strategy = get_strategy(p["synthesize"]["strategy"])
    if strategy.needs_finetune:
        run_finetune(p)  # reused from the store when a run of the file has made it
    syn, device = p["synthesize"], pick_device(p["device"])
    batches = len(make_batches(plan_tasks(p, split), syn["batch_size"]))
    processes = process_count(p, device, batches)
    lanes = worker_threads(p, device, processes, batches)
    print(f"{strategy.name} on {p['model']['base']} at {p['model']['resolution']} px on {device}, {syn['steps']} "
          f"steps, CFG {syn['guidance']}, s = {args.strength}, {args.images} images x {args.repeats} rounds; kit: "
          f"batch {syn['batch_size']}, {processes} process(es) x {lanes} worker(s) x {syn['cpu_threads']} thread(s)")
    pipe, with_tokens = load_strategy_pipeline(p, strategy, device)
    lane_pipes = [pipe] + [lane_pipeline(pipe) for _ in range(lanes - 1)]
    reference = load_strategy_pipeline(p, strategy, device, merge_lora=False)
    threads = syn["cpu_threads"] if device == "cpu" else None
    settings = {
        "kit stage, end to end": lambda: kit_stage(p),
        "reference's way, end to end": lambda: reference_way(p),
        f"kit generation, {lanes} worker(s)": lambda: kit_generation(p, lane_pipes, with_tokens, threads),
        "kit generation, 1 worker, default threads": lambda: kit_generation(p, [pipe], with_tokens, None),
        "reference's way, generation": lambda: reference_way(p, reference)}
    if args.compile:
        settings["kit stage + synthesize.compile, end to end"] = lambda: kit_stage(p, compile=True)
    r = report(alternate(settings, args.repeats), 2)
    print(f"kit / reference, end to end (model loading included): {r[0] / r[1]:.2f}x"
          + (f"; with compile: {r[5] / r[1]:.2f}x" if args.compile else ""))
    print(f"kit / reference, generation (steady state): {r[2] / r[4]:.2f}x (target >= 3x); "
          f"batching and the merged LoRA alone (1 worker): {r[3] / r[4]:.2f}x")
    print(f"kit cost per image across strengths ({lanes} worker(s), batched, generation alone):")
    for s in (0.1, 0.3, 0.5, 0.7, 0.9, 1.0):
        rate = kit_generation({**p, "synthesize": {**syn, "strength": s, "multiplier": args.per_strength / len(split["train"])}},
                              lane_pipes, with_tokens, threads)
        print(f"  s = {s:.1f}: {rate:7.2f} img/s = {1000 / rate:7.1f} ms/img")
    return 0


if __name__ == "__main__":
    sys.exit(main())
