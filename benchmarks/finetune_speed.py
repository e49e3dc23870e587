"""Fine-tune speed on this machine: optimizer steps/s of the kit's fine-tune stage.

    python benchmarks/finetune_speed.py [params/benchmark.yaml] [--steps 60] [--checkpoint-every 0] [--set KEY=VALUE]

Runs the parameter file's fine-tune (model, resolution, batch, mode) for ``--steps`` steps in a
temporary work folder and prints steps/s and images/s, excluding model loading (timed from the
stage's own log). Asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

from diffmix_utils import params
from diffmix_utils.finetune import run_finetune


def parser() -> argparse.ArgumentParser:
    """The command line of ``python benchmarks/finetune_speed.py`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python benchmarks/finetune_speed.py", description=__doc__.split("\n")[0])
    ap.add_argument("params_file", nargs="?", default="params/benchmark.yaml",
                    help="the parameter file (default: %(default)s)")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--checkpoint-every", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a key (the fine-tune always runs in a temporary work folder)")
    return ap


def main(argv=None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        p = params.expand_sweep(params.load(args.params_file, {
            **params.parse_overrides(args.set), "workdir": work, "finetune.steps": args.steps,
            "finetune.checkpoint_every": args.checkpoint_every}))[-1]
        start = time.time()
        out = run_finetune(p)
        total = time.time() - start
        done = json.loads((out / "done.json").read_text())
    ft = p["finetune"]
    rate = ft["steps"] / done["seconds"]
    print(f"{p['model']['base']} at {p['model']['resolution']} px, mode {ft['mode']}, batch {ft['batch_size']}, "
          f"{ft['steps']} steps on {done['device']}: {rate:.2f} steps/s = {rate * ft['batch_size']:.1f} images/s "
          f"(training loop {done['seconds']} s; {total:.1f} s with loading, data render and saving)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
