"""Does the base model know toybirds' classes by name, and not by the opaque names? Prints figures;
asserts nothing.

    python benchmarks/class_names.py [params/toy_regimes.yaml] [--per-class 12] [--json FILE]

Draws ``--per-class`` images per class with the base model prompted with each naming
(``data.class_names``: dataset, opaque) and reports the rate at which the toybirds oracle sees the
prompted class (``diffmix_utils.measure.names``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from diffmix_utils import params
from diffmix_utils.measure.names import format_names_report, name_fidelity


def parser() -> argparse.ArgumentParser:
    """The command line of ``python benchmarks/class_names.py`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python benchmarks/class_names.py", description=__doc__.split("\n")[0])
    ap.add_argument("params_file", nargs="?", default="params/toy_regimes.yaml",
                    help="the parameter file (default: %(default)s)")
    ap.add_argument("--per-class", type=int, default=12)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--json", help="also write the figures here")
    return ap


def main(argv=None) -> int:
    ap = parser()
    a = ap.parse_args(argv)
    p = params.expand_sweep(params.load(a.params_file, params.parse_overrides(a.set)))[0]
    start = time.time()
    report = name_fidelity(p, a.per_class)
    report["seconds"] = round(time.time() - start, 1)
    print(format_names_report(report))
    print(f"\n({report['seconds']} s, {time.strftime('%Y-%m-%d')})")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(report, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
