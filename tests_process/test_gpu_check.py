"""``benchmarks/gpu_check.py``'s code path on the CPU with the tiny model (the GPU figures come from
running it on a GPU; see docs/benchmarks.md). In ``make test-process``: it takes a minute or two."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_gpu_check_runs_every_check_but_the_executor_on_cpu_with_the_tiny_model(tmp_path):
    out = tmp_path / "check.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--tiny", "--device", "cpu",
                           "--skip", "executor", "--peak-tflops", "1", "--json", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    r = json.loads(out.read_text())
    settings = [(row["check"], row["setting"]) for row in r["rows"]]
    assert [c for c, _ in settings] == ["fine-tune"] * 2 + ["synthesis"] * 5 + ["classifier"] * 2
    assert "checkpointing off" in settings[0][1] and "checkpointing on" in settings[1][1]
    assert [s.split(" (")[0] for c, s in settings if c == "synthesis"] == [
        "batch 1", "batch 2", "batch 2, vae_slicing", "batch 2, cpu_offload", "batch 2, compile"]
    assert all(row["rate"] > 0 for row in r["rows"])
    assert all(0 < row["peak_fraction"] for row in r["rows"] if row["check"] == "synthesis")
    assert "steps/s" in proc.stdout and "images/s" in proc.stdout
