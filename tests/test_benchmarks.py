"""The GPU synthesis benchmark's code path, run on CPU with the tiny architecture, and its FLOP count."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from diffmix_utils import costs
from diffmix_utils.models import sd15_config, tiny_sd

ROOT = Path(__file__).resolve().parents[1]


def test_image_flops_counts_the_denoising_passes_the_pipeline_runs():
    diff = {"unet_pair": 10.0, "encode": 3.0, "decode": 5.0}
    assert costs.image_flops(diff, 25, 0.7, 7.5, img2img=True) == 17 * 10 + 3 + 5  # int(25 * 0.7) = 17
    assert costs.image_flops(diff, 25, 1.0, 1.0, img2img=False) == 25 * 5 + 5  # no CFG: one pass, no encode
    sd = costs.config_flops(sd15_config.UNET, sd15_config.VAE, 512)
    assert sd["unet_pair"] == pytest.approx(1.61e12, rel=0.01)  # SD-1.5 at 512 px: 1.61 TFLOP per CFG pair (docs/benchmarks.md)
    assert costs.image_flops(sd, 25, 0.7, 7.5, True) == pytest.approx(30.9e12, rel=0.01)  # 30.9 TFLOP at s = 0.7


def test_gpu_benchmark_runs_its_code_path_on_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "synthesis_gpu.py"), "--config", "tiny",
                           "--device", "cpu", "--dtype", "fp32", "--batches", "1", "2", "--images", "2",
                           "--steps", "4", "--strength", "0.5", "--strengths", "1.0", "--peak-tflops", "1",
                           "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(out.read_text())
    assert [b["batch"] for b in r["batches"]] == [1, 2] and r["best_batch"] in (1, 2)
    diff = costs.config_flops(tiny_sd.UNET_CONFIG, tiny_sd.VAE_CONFIG, 64)
    for row in r["batches"]:
        assert row["images"] == 2 and row["images_per_second"] > 0
        assert row["flops_per_image"] == costs.image_flops(diff, 4, 0.5, 7.5, True)
        assert row["flop_fraction"] == pytest.approx(row["images_per_second"] * row["flops_per_image"] / 1e12)
    assert [s["strength"] for s in r["by_strength"]] == [1.0]
    assert "img/s" in proc.stdout and "% of peak FLOP/s" in proc.stdout
