"""Filter from the command line.

    python -m diffmix_utils.filtering params/demo.yaml            # every pool of the file that has a filter
    python -m diffmix_utils.filtering POOL --scorer clip [--model openai/clip-vit-base-patch32]
        [--superclass bird] [--fraction 0.1]                      # one pool, by hand
    python -m diffmix_utils.filtering POOL --scorer classifier --model runs/store/train/<key>
    python -m diffmix_utils.filtering --member-json FILE          # one member's filter (an executor's job)

By hand, the scores go to ``<store>/filter/<key>/``, the folder a parameter file with the same pool,
scorer, model and fraction reads (for ``classifier``, ``--model`` is the train folder of the run's
baseline trained with the pool's seed).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import artifacts, handoff, params
from ..devices import torch_threads
from .stage import run_filter, run_stage, score_pool


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m diffmix_utils.filtering`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python -m diffmix_utils.filtering",
                                 description="Score a synthetic pool and mark its lowest-scored images.")
    ap.add_argument("source", type=Path, nargs="?", help="a parameter file, or a complete synthesis folder")
    ap.add_argument("--member-json", type=Path, help="a resolved sweep member (written by an executor)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key")
    ap.add_argument("--scorer", choices=("clip", "classifier"), default="clip")
    ap.add_argument("--model", default="openai/clip-vit-base-patch32",
                    help="CLIP hub id or folder; for --scorer classifier, a train stage folder")
    ap.add_argument("--superclass", default="", help="super-category in the CLIP captions (bird, flower, ...)")
    ap.add_argument("--fraction", type=float, default=0.1, help="lowest-scored fraction marked not kept")
    return ap


def main(argv=None) -> int:
    ap = parser()
    a = ap.parse_args(argv)
    if (a.source is None) == (a.member_json is None):
        ap.error("give a parameter file or a synthesis folder, or --member-json")
    try:
        if a.member_json:
            print(run_filter(handoff.read_member(a.member_json)))
            return 0
        if a.source.is_file():
            for folder in run_stage(params.load(a.source, params.parse_overrides(a.set))):
                print(folder)
            return 0
        pool = a.source.resolve()
        # the classifier by its train key; a CLIP folder by its content, as a parameter file keys it
        model = Path(a.model).resolve().name if a.scorer == "classifier" else artifacts.folder_identity(a.model)
        out = pool.parent.parent / "filter" / artifacts.scores_key(pool.name, a.scorer, model, a.fraction)
        with torch_threads(artifacts.DEFAULT_CPU_THREADS):  # the key's thread count (cluster.cpu_threads' default)
            print(score_pool(pool, out, a.scorer, a.model, a.fraction, a.superclass))
    except (ValueError, OSError) as exc:  # ParamsError and DatasetError are ValueErrors; FileNotFoundError an OSError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
