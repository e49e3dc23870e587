"""Fidelity benchmark: does Diff-Mix work in miniature on toybirds? Prints figures; asserts nothing.

    python benchmarks/fidelity.py [params/benchmark.yaml] [--sources 100] [--strengths 0.1 0.3 0.5 0.7 0.9 1.0]

Fine-tunes the parameter file's model with the kit's own fine-tune stage (cached), translates
held-out test images toward other classes at each strength, scores them with the toybirds
oracles, and writes fidelity.{json,png,pdf} to figures/<name>/.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings

warnings.filterwarnings("ignore", message="bundled:tiny-sd has no pretrained weights")

from diffmix_utils import artifacts, params  # noqa: E402
from diffmix_utils.finetune import run_finetune  # noqa: E402
from diffmix_utils.measure.fidelity import format_report, measure  # noqa: E402


def plot(report: dict, base, formats) -> None:
    from diffmix_utils.analyze.figures import save
    import matplotlib.pyplot as plt
    rows = report["rows"]
    s = [r["strength"] for r in rows]
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ax.plot(s, [r["target_rate"] for r in rows], "o-", label="target class (oracle)")
    ax.plot(s, [r["source_rate"] for r in rows], "s-", label="source class (oracle)")
    ax.plot(s, [r["background_kept"] for r in rows], "^-", label="background kept")
    ax.axhline(report["chance"], ls=":", color="gray", label="chance")
    ax.axhline(report["text_to_image_acc"], ls="--", color="purple", label="text-to-image class rate")
    ax.set_xlabel("strength s")
    ax.set_ylabel("rate")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7)
    save(fig, base, formats, 150)


def parser() -> argparse.ArgumentParser:
    """The command line of ``python benchmarks/fidelity.py`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python benchmarks/fidelity.py", description=__doc__.split("\n")[0])
    ap.add_argument("params_file", nargs="?", default="params/benchmark.yaml",
                    help="the parameter file (default: %(default)s)")
    ap.add_argument("--sources", type=int, default=100)
    ap.add_argument("--strengths", type=float, nargs="+", default=[0.1, 0.3, 0.5, 0.7, 0.9, 1.0])
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    return ap


def main(argv=None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    from diffmix_utils.params import parse_overrides
    p = params.expand_sweep(params.load(args.params_file, parse_overrides(args.set)))[-1]
    p["synthesize"]["strategy"] = "diff-mix"
    start = time.time()
    run_finetune(p)
    report = measure(p, args.strengths, args.sources)
    report["seconds"] = round(time.time() - start, 1)
    print(format_report(report))
    out = artifacts.figures_dir(p)
    artifacts.write_json(out / "fidelity.json", report)
    plot(report, out / "fidelity", p["analyze"]["formats"])
    print(f"\nwritten: {out}/fidelity.json, fidelity.png, fidelity.pdf ({report['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
