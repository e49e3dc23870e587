"""The first GPU hour: every CUDA path a cluster job takes, in a few minutes, with figures.

    python benchmarks/gpu_check.py [--json gpu_check.json] [--skip executor]      # on a GPU (sized for minutes; not yet run on one)
    python benchmarks/gpu_check.py --tiny --device cpu --json /tmp/check.json     # the code path, on CPU

Nothing is downloaded. The diffusion model is SD-1.5's architecture (``models/sd15_config.py``) with
seeded random weights, saved once as a local diffusers folder, so the kit loads it as it loads any
local model: random weights cost the FLOPs trained ones cost, so the speeds are honest (the images are
noise). The checks, each timed and with its peak GPU memory:

1. **fine-tune**: the kit's own fine-tune stage (tokens + LoRA, ``finetune.mixed_precision: fp16``)
   for a few steps on kit-rendered toybirds at 512 px, gradient checkpointing off and on;
2. **synthesis**: the synthesis stage's pipeline call (``models.translate.pipeline_call``) at batch
   sizes 1, 8 and 16, then at batch 8 with ``vae_slicing``, ``cpu_offload`` and ``compile`` (each
   the stage's own switch, ``save_memory`` / ``torch.compile(dynamic=False)``);
3. **classifier**: optimizer steps of ResNet-50 at 448 px and ViT-B/16 at 384 px (``create_classifier``,
   fp16 autocast with loss scaling and channels_last, as ``train.amp`` does);
4. **executor**: ``params/smoke.yaml`` run by ``--executor local`` with one worker per GPU (tiny model).

It prints one table (rate, unit, peak memory, fraction of the GPU's dense fp16 peak where the FLOPs
are counted) and writes it as JSON. ``--tiny`` swaps in the bundled tiny architecture, small images
and the CPU, so the tests run every line of it. A check that fails is reported in the table with
its error and the others go on; the exit status is 1 if any failed. Asserts nothing about speed.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthesis_gpu import configs, peak_flops, time_batch  # noqa: E402

from diffmix_utils import costs, params  # noqa: E402
from diffmix_utils.models.clip_vocab import ASSET_DIR as TOKENIZER_DIR, load_tokenizer  # noqa: E402
from diffmix_utils.models import tiny_sd  # noqa: E402
from diffmix_utils.models.translate import save_memory  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHECKS = ("finetune", "synthesis", "classifier", "executor")


def random_model_folder(name: str, dest: Path) -> Path:
    """A diffusers folder of the ``name`` architecture (sd15 or tiny) with seeded random weights."""
    from diffusers import AutoencoderKL, DDPMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel
    ucfg, vcfg, tcfg = configs(name)
    torch.manual_seed(0)
    pipe = StableDiffusionPipeline(vae=AutoencoderKL(**vcfg), text_encoder=CLIPTextModel(CLIPTextConfig(**tcfg)),
                                   tokenizer=load_tokenizer(TOKENIZER_DIR), unet=UNet2DConditionModel(**ucfg),
                                   scheduler=DDPMScheduler(**tiny_sd.SCHEDULER_CONFIG), safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(dest, safe_serialization=True)
    return dest


def _peak(device: str, reset: bool = False) -> float | None:
    if not device.startswith("cuda"):
        return None
    if reset:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        return None
    return round(torch.cuda.max_memory_allocated() / 2**30, 2)


def check_finetune(model: Path, work: Path, device: str, resolution: int, steps: int, batch: int) -> list[dict]:
    from diffmix_utils.finetune import run_finetune
    rows = []
    for checkpointing in (False, True):
        p = params.expand_sweep(params.resolve({
            "workdir": str(work / f"ft-{checkpointing}"), "device": device,
            "data": {"num_classes": 8, "train_per_class": 4, "test_per_class": 1, "val_fraction": 0.0},
            "model": {"base": str(model), "resolution": resolution},
            "finetune": {"steps": steps, "batch_size": batch, "gradient_checkpointing": checkpointing,
                         "mixed_precision": "fp16", "checkpoint_every": 0}}))[0]
        _peak(device, reset=True)
        done = json.loads((run_finetune(p) / "done.json").read_text())
        precision = "fp16 autocast" if device.startswith("cuda") else "fp32"
        rows.append({"check": "fine-tune", "setting": f"{precision}, batch {batch}, {resolution} px, gradient "
                     f"checkpointing {'on' if checkpointing else 'off'}", "rate": steps / done["seconds"],
                     "unit": "steps/s", "peak_gib": _peak(device)})
    return rows


def check_synthesis(model: Path, device: str, resolution: int, batches: list[int], images: int,
                    steps: int, peak: float | None) -> list[dict]:
    from diffmix_utils.models.base import load_pipeline
    flops = costs.image_flops(costs.config_flops(*configs("tiny" if resolution <= 64 else "sd15")[:2], resolution),
                              steps, 0.7, 7.5, True)
    dtype = torch.float16 if device.startswith("cuda") else torch.float32

    def pipe_with(**switches):
        pipe = load_pipeline(str(model), model.parent, "img2img", device, dtype=dtype)
        save_memory(pipe, {"vae_slicing": False, "cpu_offload": False, **switches}, device)
        if switches.get("compile"):
            pipe.unet = torch.compile(pipe.unet, dynamic=False)
        return pipe

    settings = [(f"batch {b}", b, {}) for b in batches]
    middle = batches[len(batches) // 2]
    settings += [(f"batch {middle}, {k}", middle, {k: True}) for k in ("vae_slicing", "cpu_offload", "compile")]
    rows = []
    for label, batch, switches in settings:
        pipe = pipe_with(**switches)
        _peak(device, reset=True)
        r = time_batch(pipe, device, batch, images, 0.7, steps, 7.5, resolution)
        rows.append({"check": "synthesis", "setting": f"{label} (s = 0.7, {steps} steps, CFG)",
                     "rate": r["images_per_second"], "unit": "images/s", "peak_gib": _peak(device),
                     "peak_fraction": r["images_per_second"] * flops / peak if peak else None})
        del pipe
    return rows


def check_classifier(device: str, tiny: bool, steps: int) -> list[dict]:
    from diffmix_utils.models.classifiers import create_classifier
    models = ([("resnet18", 64, {}), ("vit_tiny_patch16_224", 64, {"img_size": 64})] if tiny else
              [("resnet50", 448, {}), ("vit_base_patch16_384", 384, {})])
    cuda = device.startswith("cuda")
    rows = []
    for backbone, size, kwargs in models:
        batch = 4 if tiny else 32
        model = create_classifier(backbone, 200, False, kwargs).to(device)
        if cuda:
            model = model.to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        scaler = torch.amp.GradScaler("cuda", enabled=cuda)
        x = torch.randn(batch, 3, size, size, device=device)
        y = torch.randint(0, 200, (batch,), device=device)

        def step():
            with torch.autocast("cuda", dtype=torch.float16, enabled=cuda):
                loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()

        _peak(device, reset=True)
        step()  # warm-up
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        if cuda:
            torch.cuda.synchronize()
        rate = steps / (time.perf_counter() - start)
        rows.append({"check": "classifier", "setting": f"{backbone} at {size} px, batch {batch}, "
                     f"{'fp16 autocast' if cuda else 'fp32'}", "rate": rate, "unit": "steps/s",
                     "peak_gib": _peak(device)})
        del model, opt
    return rows


def check_executor(work: Path, device: str) -> list[dict]:
    gpus = torch.cuda.device_count() if device.startswith("cuda") else 0
    sets = [f"workdir={work / 'runs'}", f"analyze.figures_dir={work / 'figures'}", f"device={device}",
            "finetune.steps=4", "synthesize.multiplier=1", "train.epochs=1"]
    cmd = [sys.executable, "-m", "diffmix_utils.run", str(ROOT / "params" / "smoke.yaml"), "--executor", "local",
           *([] if gpus else ["--workers", "2"]), *[x for s in sets for x in ("--set", s)]]
    start = time.time()
    done = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(f"exit status {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    jobs = next((line for line in done.stdout.splitlines() if line.startswith("[jobs ")), "")
    return [{"check": "executor", "setting": f"smoke.yaml, local, {gpus or 2} worker(s){' (one per GPU)' if gpus else ''}"
             f"; {jobs.split(']')[0].strip('[')}", "rate": time.time() - start, "unit": "s wall", "peak_gib": None}]


def table(rows: list[dict]) -> str:
    lines = [f"{'check':<11} {'setting':<64} {'rate':>9} {'unit':<9} {'peak GiB':>8} {'of peak':>8}"]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['check']:<11} FAILED: {r['error']}")
            continue
        frac = f"{100 * r['peak_fraction']:.1f} %" if r.get("peak_fraction") else "-"
        peak = f"{r['peak_gib']:.2f}" if r.get("peak_gib") is not None else "-"
        lines.append(f"{r['check']:<11} {r['setting'][:64]:<64} {r['rate']:9.2f} {r['unit']:<9} {peak:>8} {frac:>8}")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    """The command line of ``python benchmarks/gpu_check.py`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python benchmarks/gpu_check.py", description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true", help="the bundled tiny architecture and small sizes (CPU tests)")
    ap.add_argument("--skip", nargs="*", default=[], choices=CHECKS)
    ap.add_argument("--peak-tflops", type=float, default=None)
    ap.add_argument("--json", type=Path)
    return ap


def main(argv=None) -> int:
    ap = parser()
    a = ap.parse_args(argv)
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        ap.error("--device cuda but no CUDA device is available; use --tiny --device cpu for the code path")
    resolution = 64 if a.tiny else 512
    peak, peak_text = peak_flops(a.device, a.peak_tflops)
    rows, started = [], time.time()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = random_model_folder("tiny" if a.tiny else "sd15", work / "model")
        plan = {"finetune": lambda: check_finetune(model, work, a.device, resolution, 3 if a.tiny else 10,
                                                   2 if a.tiny else 4),
                "synthesis": lambda: check_synthesis(model, a.device, resolution, [1, 2] if a.tiny else [1, 8, 16],
                                                     2 if a.tiny else 32, 4 if a.tiny else 25, peak),
                "classifier": lambda: check_classifier(a.device, a.tiny, 2 if a.tiny else 20),
                "executor": lambda: check_executor(work, a.device)}
        for name in CHECKS:
            if name in a.skip:
                continue
            try:
                rows += plan[name]()
            except Exception as exc:  # noqa: BLE001 - reported in the table; the other checks go on
                traceback.print_exc()
                rows.append({"check": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
    device = torch.cuda.get_device_name() if a.device.startswith("cuda") else f"cpu ({torch.get_num_threads()} threads)"
    print(f"{device}; peak {peak_text}; {time.time() - started:.0f} s in all ({time.strftime('%Y-%m-%d')})")
    print(table(rows))
    if a.json:
        a.json.write_text(json.dumps({"device": device, "peak": peak_text, "date": time.strftime("%Y-%m-%d"),
                                      "seconds": round(time.time() - started, 1), "rows": rows}, indent=2) + "\n")
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
