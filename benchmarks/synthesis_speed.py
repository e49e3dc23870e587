"""Synthesis throughput: the kit's batched img2img vs the reference's one call per image.

    python benchmarks/synthesis_speed.py [params/demo.yaml] [--images 48] [--repeats 2]

Both use the same pipeline object (the parameter file's base model, DPM-Solver++, its steps and
guidance, resolution) on the same real source images, alternating in one process: the kit sends
``synthesize.batch_size`` images per call (one strength per batch), the reference's way sends one
image per call; the kit with ``synthesize.compile`` (a torch.compile'd UNet) is timed too, after
its one-off compilation. Then the kit's cost per image across strengths (img2img runs about s x steps
denoising steps). Prints images/s and the ratio. Asserts nothing.
"""
from __future__ import annotations

import argparse
import sys
import time

import torch

from diffmix_utils import artifacts, params
from diffmix_utils.data import ensure_split, open_image
from diffmix_utils.models.base import load_pipeline, pick_device

from _timing import alternate, report


def run(pipe, images, prompts, strength, steps, guidance, batch):
    start = time.perf_counter()
    for b in range(0, len(images), batch):
        chunk = images[b:b + batch]
        pipe(prompt=prompts[b:b + batch], image=chunk, strength=strength, num_inference_steps=steps,
             guidance_scale=guidance, generator=[torch.Generator().manual_seed(b + j) for j in range(len(chunk))])
    return len(images) / (time.perf_counter() - start)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("params_file", nargs="?", default="params/demo.yaml")
    ap.add_argument("--images", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--strength", type=float, default=0.7)
    args = ap.parse_args(argv)
    p = params.expand_sweep(params.load(args.params_file))[-1]
    syn, res = p["synthesize"], p["model"]["resolution"]
    split = ensure_split(artifacts.split_path(p), p["data"], artifacts.store(p) / "datasets")
    device = pick_device(p["device"])
    pipe = load_pipeline(p["model"]["base"], artifacts.store(p), "img2img", device)
    idx = (split["train"] * (args.images // len(split["train"]) + 1))[:args.images]
    images = [open_image(split, i).resize((res, res), resample=3) for i in idx]
    prompts = [f"a photo of a {split['classes'][(split['items'][i]['label'] + 1) % len(split['classes'])]} "
               f"{split['superclass']}" for i in idx]
    common = (syn["steps"], syn["guidance"])
    run(pipe, images[:4], prompts[:4], args.strength, *common, 4)  # warm-up
    print(f"{p['model']['base']} at {res} px on {device}, {syn['steps']} steps, CFG {syn['guidance']}, "
          f"s = {args.strength}, {args.images} images x {args.repeats} repeats")
    compiled = load_pipeline(p["model"]["base"], artifacts.store(p), "img2img", device)
    compiled.unet = torch.compile(compiled.unet, dynamic=False)  # synthesize.compile: true
    start = time.perf_counter()
    run(compiled, images, prompts, args.strength, *common, syn["batch_size"])  # compiles each batch shape once
    print(f"torch.compile warm-up (each batch shape once): {time.perf_counter() - start:.1f} s")
    kit, kitc, ref = report(alternate({
        "kit (batched)": lambda: run(pipe, images, prompts, args.strength, *common, syn["batch_size"]),
        "kit (batched, compile)": lambda: run(compiled, images, prompts, args.strength, *common, syn["batch_size"]),
        "reference (1 per call)": lambda: run(pipe, images, prompts, args.strength, *common, 1)}, args.repeats), 2)
    print(f"kit / reference: {kit / ref:.2f}x; with synthesize.compile: {kitc / ref:.2f}x (target >= 3x)")
    print("kit cost per image across strengths (batched):")
    for s in (0.1, 0.3, 0.5, 0.7, 0.9, 1.0):
        rate = run(pipe, images, prompts, s, *common, syn["batch_size"])
        print(f"  s = {s:.1f}: {rate:7.2f} img/s = {1000 / rate:7.1f} ms/img")
    return 0


if __name__ == "__main__":
    sys.exit(main())
