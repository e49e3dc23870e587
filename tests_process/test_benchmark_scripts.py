"""Every benchmark script whose figures docs/benchmarks.md quotes runs, at a small size, on the smoke
file (a move inside the package cannot break one silently). ``synthesis_gpu.py`` is run in
``tests/test_benchmarks.py`` and ``gpu_check.py`` in ``test_gpu_check.py``. The figures printed here
mean nothing at this size: each test checks that the script ran to its report."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SMOKE = str(ROOT / "params" / "smoke.yaml")
# the script, its arguments at a small size, and a phrase of its report
SMALL = {
    "finetune_speed.py": (["--steps", "2"], "steps/s"),
    "synthesis_speed.py": (["--images", "4", "--repeats", "1", "--per-strength", "4", "--set", "synthesize.steps=10"],
                           "s = 1.0"),
    "fidelity.py": (["--sources", "2", "--strengths", "0.5", "--set", "finetune.steps=2",
                     "--set", "synthesize.steps=2"], "target"),
    "class_names.py": (["--per-class", "1", "--set", "synthesize.steps=2"], "chance"),
    "loading.py": (["--repeats", "1"], "synthetic path cost"),
    "executor_speed.py": (["--workers", "2", "--set", "train.epochs=1", "--set", "finetune.steps=2"], "serial"),
}


def _bench(script: str, args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    where = ["--set", f"workdir={tmp_path / 'runs'}", "--set", f"analyze.figures_dir={tmp_path / 'figures'}"]
    extra = ["--out", str(tmp_path / "bench")] if script == "executor_speed.py" else []
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), SMOKE, *args, *where, *extra],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize("script", sorted(SMALL))
def test_each_benchmark_script_runs_at_a_small_size(script, tmp_path):
    args, phrase = SMALL[script]
    if script == "loading.py":  # it times a finished pool: make the smoke file's pools first
        made = subprocess.run([sys.executable, "-m", "diffmix_utils.run", SMOKE, "--only", "finetune", "--only",
                               "synthesize", "--set", f"workdir={tmp_path / 'runs'}", "--set", "finetune.steps=2"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=900)
        assert made.returncode == 0, made.stderr[-3000:]
        args = [*args, "--set", "finetune.steps=2"]
    proc = _bench(script, args, tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert phrase in proc.stdout, proc.stdout[-2000:]


def test_every_benchmark_script_is_run_by_a_test():
    tested = set(SMALL) | {"synthesis_gpu.py", "gpu_check.py"}
    scripts = {p.name for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_")}
    assert scripts == tested, scripts ^ tested
