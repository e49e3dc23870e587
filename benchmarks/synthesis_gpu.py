"""Synthesis throughput of an SD-1.5-sized model with random weights on a GPU: images/s at batch 1
(the reference's way) and larger batches, peak memory, and the fraction of the GPU's peak FLOP/s.

    python benchmarks/synthesis_gpu.py [--batches 1 4 8 16 32] [--strength 0.7] [--dtype fp16]
                                       [--images 64] [--compile] [--json gpu.json]
    python benchmarks/synthesis_gpu.py --config tiny --device cpu --batches 1 2   # a smoke run on CPU

Nothing is downloaded. SD-1.5's UNet, VAE and CLIP ViT-L/14 text encoder are built from the configs
in ``diffmix_utils/models/sd15_config.py`` with seeded random weights; the tokenizer is the bundled
real CLIP vocabulary plus eight ``<class_j>`` tokens; the noise schedule is SD-1.5's; the sampler
DPM-Solver++ (25 steps, CFG 7.5). Random weights cost the FLOPs trained ones cost, so the speed is
honest; the images are noise. Every batch goes through the synthesis stage's own pipeline call
(``models.translate.pipeline_call``: per-image prompt and seeded generator, one strength, PIL images out)
on random 512 px sources; the first call of each batch size is a warm-up and is not timed.

FLOPs per image are counted with ``torch.utils.flop_counter`` on meta tensors (``costs.image_flops``):
int(s x steps) UNet passes of the CFG pair, one VAE encode and one decode (the text encoder, < 0.2 %,
is left out). The fraction of peak divides the FLOP/s reached by the GPU's dense fp16/bf16 tensor
peak from ``PEAK_TFLOPS`` (or ``--peak-tflops``). The authors' own rate at the same strength (dev
notebook, unnamed GPU, ``assets/measured_throughput.yaml``) is printed beside the best batch's.
Then images/s at the best batch across strengths (the paper's throughput figure). Asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings

import numpy as np
import torch
from PIL import Image

from diffmix_utils import costs
from diffmix_utils.atomic import atomic_write
from diffmix_utils.models import sd15_config, tiny_sd
from diffmix_utils.models.clip_vocab import ASSET_DIR as TOKENIZER_DIR, load_tokenizer
from diffmix_utils.models.translate import DTYPES, pipeline_call

# Dense fp16/bf16 tensor-core peaks (fp32 accumulate), TFLOP/s, from the vendors' data sheets; the
# first name found in torch.cuda.get_device_name() wins, so the more specific names come first.
PEAK_TFLOPS = [("H100 PCIe", 756.0), ("H100", 989.0), ("H200", 989.0), ("GH200", 989.0), ("B200", 2250.0),
               ("A100", 312.0), ("L40S", 362.0), ("L40", 181.0), ("L4", 121.0), ("A10G", 70.0), ("A10", 125.0),
               ("RTX 4090", 165.0), ("RTX 3090", 71.0), ("V100", 125.0), ("T4", 65.0)]
CLASSES = 8


def configs(name: str) -> tuple[dict, dict, dict]:
    """(UNet, VAE, text-encoder) configs: SD-1.5's, or the bundled tiny model's (smoke runs)."""
    if name == "sd15":
        return sd15_config.UNET, sd15_config.VAE, sd15_config.TEXT
    return tiny_sd.UNET_CONFIG, tiny_sd.VAE_CONFIG, tiny_sd.TEXT_CONFIG


def build_pipeline(name: str, device: str, dtype: torch.dtype, seed: int = 0):
    """A random-weight img2img pipeline of the named architecture, built on ``device``."""
    from diffusers import (AutoencoderKL, DDPMScheduler, DPMSolverMultistepScheduler,
                           StableDiffusionImg2ImgPipeline, UNet2DConditionModel)
    from transformers import CLIPTextConfig, CLIPTextModel

    ucfg, vcfg, tcfg = configs(name)
    torch.manual_seed(seed)
    tokenizer = load_tokenizer(TOKENIZER_DIR)
    tokenizer.add_tokens([f"<class_{j}>" for j in range(CLASSES)])
    with torch.device(device):
        unet, vae = UNet2DConditionModel(**ucfg), AutoencoderKL(**vcfg)
        text = CLIPTextModel(CLIPTextConfig(**tcfg))
    text.resize_token_embeddings(len(tokenizer))
    scheduler = DPMSolverMultistepScheduler.from_config(DDPMScheduler(**tiny_sd.SCHEDULER_CONFIG).config)
    pipe = StableDiffusionImg2ImgPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
                                          scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                          requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device, dtype)


def peak_flops(device: str, override: float | None) -> tuple[float | None, str]:
    if override:
        return override * 1e12, f"{override:g} TFLOP/s (--peak-tflops)"
    if not device.startswith("cuda"):
        return None, "unknown on CPU (pass --peak-tflops)"
    gpu = torch.cuda.get_device_name(torch.device(device))
    for key, tflops in PEAK_TFLOPS:
        if key in gpu:
            return tflops * 1e12, f"{tflops:g} TFLOP/s dense fp16 ({key} data sheet)"
    return None, f"unknown for {gpu!r} (pass --peak-tflops)"


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(torch.device(device))


def time_batch(pipe, device: str, batch: int, images: int, strength: float, steps: int, guidance: float,
               resolution: int) -> dict:
    """images/s of the kit's pipeline call at one batch size (one untimed warm-up call first)."""
    rng = np.random.default_rng(batch)
    sources = [Image.fromarray(rng.integers(0, 256, (resolution, resolution, 3), dtype=np.uint8))
               for _ in range(batch)]
    prompts = [f"a photo of a <class_{j % CLASSES}> bird" for j in range(batch)]
    calls = max(1, math.ceil(images / batch))

    def call(k: int) -> None:
        pipeline_call(pipe, prompts, [k * batch + j for j in range(batch)], steps, guidance, resolution,
                      images=sources, strength=strength)

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(torch.device(device))
    call(-1)
    _sync(device)
    start = time.perf_counter()
    for k in range(calls):
        call(k)
    _sync(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(torch.device(device)) / 2**30 if device.startswith("cuda") else None
    return {"batch": batch, "images": calls * batch, "seconds": round(seconds, 3),
            "images_per_second": calls * batch / seconds, "peak_memory_gib": peak}


def parser() -> argparse.ArgumentParser:
    """The command line of ``python benchmarks/synthesis_gpu.py`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python benchmarks/synthesis_gpu.py", description=__doc__.split("\n")[0])
    ap.add_argument("--config", choices=("sd15", "tiny"), default="sd15")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", choices=tuple(DTYPES), default="fp16")
    ap.add_argument("--resolution", type=int, default=None, help="default: 512 (sd15), 64 (tiny)")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 4, 8, 16, 32])
    ap.add_argument("--images", type=int, default=64, help="images timed per batch size (rounded up)")
    ap.add_argument("--strength", type=float, default=0.7)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--guidance", type=float, default=7.5)
    ap.add_argument("--compile", action="store_true", help="also time the best batch with torch.compile'd UNet")
    ap.add_argument("--strengths", type=float, nargs="*", default=[0.1, 0.3, 0.5, 0.7, 0.9, 1.0],
                    help="strengths timed at the best batch (none: skip)")
    ap.add_argument("--peak-tflops", type=float, default=None)
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    return ap


def main(argv=None) -> int:
    ap = parser()
    a = ap.parse_args(argv)
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        ap.error("--device cuda, but CUDA is not available here; use --config tiny --device cpu for a smoke run")
    res = a.resolution or (512 if a.config == "sd15" else 64)
    ucfg, vcfg, _ = configs(a.config)
    diff = costs.config_flops(ucfg, vcfg, res)
    flops = lambda s: costs.image_flops(diff, a.steps, s, a.guidance, img2img=True)  # noqa: E731
    peak, peak_source = peak_flops(a.device, a.peak_tflops)
    by_strength = costs.measured()["reference_synthesis_images_per_gpu_hour"]["by_strength"]
    authors = {float(k): v for k, v in by_strength.items()}
    warnings.filterwarnings("ignore", message="invalid value encountered in cast")  # random weights: NaN pixels

    start = time.perf_counter()
    pipe = build_pipeline(a.config, a.device, DTYPES[a.dtype])
    gpu = torch.cuda.get_device_name(torch.device(a.device)) if a.device.startswith("cuda") else "CPU"
    print(f"{a.config} random weights, {a.dtype}, {res} px on {gpu} ({a.device}); built in "
          f"{time.perf_counter() - start:.1f} s; {a.steps} DPM-Solver++ steps, CFG {a.guidance}, s = {a.strength}; "
          f"{flops(a.strength) / 1e9:,.1f} GFLOP per image; peak {peak_source}")

    def line(r: dict, label: str) -> str:
        r["flop_fraction"] = r["images_per_second"] * r["flops_per_image"] / peak if peak else None
        mem = f", peak memory {r['peak_memory_gib']:.1f} GiB" if r["peak_memory_gib"] is not None else ""
        frac = f", {100 * r['flop_fraction']:.1f} % of peak FLOP/s" if peak else ""
        rate = r["images_per_second"]
        return f"  {label:18s} {rate:8.2f} img/s = {3600 * rate:9,.0f} img/h{mem}{frac}"

    rows = []
    for b in a.batches:
        try:
            r = time_batch(pipe, a.device, b, a.images, a.strength, a.steps, a.guidance, res)
        except torch.cuda.OutOfMemoryError:
            print(f"  batch {b}: out of memory; larger batches skipped")
            torch.cuda.empty_cache()
            break
        r["flops_per_image"] = flops(a.strength)
        rows.append(r)
        print(line(r, f"batch {b}" + (" (reference)" if b == 1 else "")))
    if not rows:
        print("no batch size fitted in memory")
        return 1
    best = max(rows, key=lambda r: r["images_per_second"])
    result = {"config": a.config, "device": gpu, "dtype": a.dtype, "resolution": res, "steps": a.steps,
              "guidance": a.guidance, "strength": a.strength, "peak_flops": peak, "batches": rows,
              "best_batch": best["batch"]}
    if a.config != "sd15" or res != 512:
        authors = {}  # the authors' rate is SD-1.5 at 512 px: no comparison for other sizes
    summary = f"best batch {best['batch']}: {3600 * best['images_per_second']:,.0f} img/h"
    if rows[0]["batch"] == 1:
        summary += f" = {best['images_per_second'] / rows[0]['images_per_second']:.2f}x batch 1's"
    if a.strength in authors:
        ratio = 3600 * best["images_per_second"] / authors[a.strength]
        result["authors_images_per_hour"], result["ratio_to_authors"] = authors[a.strength], ratio
        summary += (f"; the authors' {authors[a.strength]:,.0f} img/h at s = {a.strength} (unnamed GPU): "
                    f"{ratio:.2f}x of it (target >= 4x)")
    print(summary)
    if a.compile:
        pipe.unet = torch.compile(pipe.unet, dynamic=False)
        t0 = time.perf_counter()
        r = time_batch(pipe, a.device, best["batch"], a.images, a.strength, a.steps, a.guidance, res)
        r["flops_per_image"], r["compile_and_run_seconds"] = flops(a.strength), time.perf_counter() - t0
        result["compiled"] = r
        print(line(r, f"batch {best['batch']}, compile") + f" (compile + run {r['compile_and_run_seconds']:.0f} s)")
    if a.strengths:
        print(f"images/s across strengths at batch {best['batch']}{' (compiled UNet)' if a.compile else ''}:")
        result["by_strength"] = []
        for s in a.strengths:
            r = time_batch(pipe, a.device, best["batch"], a.images, s, a.steps, a.guidance, res)
            r["strength"], r["flops_per_image"] = s, flops(s)
            result["by_strength"].append(r)
            print(line(r, f"s = {s:.1f}") + (f"; authors {authors[s]:,.0f} img/h" if s in authors else ""))
    if a.json:
        atomic_write(a.json, lambda tmp: tmp.write_text(json.dumps(result, indent=1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
