"""Data-loading throughput of the training set: synthetic replacement (p = 0.5) vs real only.

    python benchmarks/loading.py [params/benchmark.yaml] [--repeats 5] [--p 0.5] [--set KEY=VALUE]

Uses the first Diff-Mix member of the parameter file whose synthetic pool is complete (run
its synthesize stage first), iterates one epoch of the training DataLoader (train transforms, the file's
batch size and workers) for each setting, alternating settings ``--repeats`` times in one
process, and prints images/s and the synthetic path's cost relative to real only. Asserts nothing.
"""
from __future__ import annotations

import argparse
import sys
import time
from functools import partial

from torch.utils.data import DataLoader

from diffmix_utils import artifacts, params
from diffmix_utils.data import ensure_split
from diffmix_utils.models.classifiers import classifier_transforms
from diffmix_utils.train import synthetic_rows
from diffmix_utils.train.data import RealWithSynthetic

from _timing import alternate, report


def parser() -> argparse.ArgumentParser:
    """The command line of ``python benchmarks/loading.py`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python benchmarks/loading.py", description=__doc__.split("\n")[0])
    ap.add_argument("params_file", nargs="?", default="params/benchmark.yaml",
                    help="the parameter file (default: %(default)s)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--p", type=float, default=0.5)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key")
    return ap


def main(argv=None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    members = [m for m in params.expand_sweep(params.load(args.params_file, params.parse_overrides(args.set)))
               if m["synthesize"]["strategy"] != "none" and artifacts.is_done(artifacts.synthesis_dir(m))]
    if not members:
        print(f"no complete synthetic pool for {args.params_file}: run its synthesize stage first (python -m diffmix_utils.run params/benchmark.yaml --only synthesize)")
        return 1
    p, tr = members[0], members[0]["train"]
    split = ensure_split(artifacts.split_path(p), p["data"], artifacts.store(p) / "datasets")
    rows, root = synthetic_rows(p)  # the kept rows the training stage would use
    tf, _ = classifier_transforms(tr["image_size"])
    sets = {"real only": RealWithSynthetic(split, split["train"], tf),
            f"p = {args.p}": RealWithSynthetic(split, split["train"], tf, rows, root, args.p)}
    epochs = max(1, 2000 // len(split["train"]))  # enough per timing to last a moment on a small dataset

    def rate(ds) -> float:
        n, start = 0, time.perf_counter()
        for epoch in range(epochs):
            ds.set_epoch(epoch)
            for x, *_ in DataLoader(ds, batch_size=tr["batch_size"], shuffle=True, num_workers=tr["num_workers"]):
                n += len(x)
        return n / (time.perf_counter() - start)

    print(f"{len(split['train'])} real train images, {len(rows)} synthetic, {tr['image_size']} px, "
          f"batch {tr['batch_size']}, workers {tr['num_workers']}, {epochs} epochs x {args.repeats} repeats")
    real, syn = report(alternate({name: partial(rate, ds) for name, ds in sets.items()}, args.repeats))
    print(f"synthetic path cost: {100 * (1 - syn / real):+.1f} % of real-only throughput (target <= 5 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
