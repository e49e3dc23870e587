"""The kit's published results: the committed files behind every result table in README and docs.

``results/<name>/`` holds, for a finished run of ``params/<name>.yaml``:

- ``runs.csv``        one row per sweep member (per seed, or per draw with ``replicate: draw``): its
                      accuracies as ``result.json`` holds them (fractions), its classifier's artifact
                      key (``train_key``) and its baseline's (``baseline_key``), so anyone can pair the
                      rows and recompute every mean, interval and verdict from this file alone;
- ``results.csv``     the analysis' summary (``analyze.tables``: mean ± std over seeds, paired
                      differences with their 95 % intervals);
- ``claim_<claim>.csv`` the claim tables, where the file has ``analyze.claims``;
- ``environment.csv`` the environments the classifiers were trained in (``provenance``);
- ``meta.json``       the date, the kit's commit, the parameter file and the command that made it;
- ``dial_*.csv``, ``name_check.json`` with ``analyze.dials``: the two dials' tables and the name check.

Written by ``python -m diffmix_utils.analyze.published PARAMS_FILE [--set ...]`` after a finished run (a
maintainer's step); read back by ``verify`` (a run against its reference) and by
``tools/result_tables.py`` (README's and docs' tables).
"""
from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
from pathlib import Path

import pandas as pd

from .. import artifacts, params, provenance

RESULTS_DIR = provenance.KIT_ROOT / "results"


def runs_table(p: dict) -> pd.DataFrame:
    """One row per finished member of ``p``, with its classifier's key and its baseline's, no paths."""
    from .tables import collect_results
    rows = collect_results(p)
    rows.insert(rows.columns.get_loc("train_dir"), "train_key", [Path(d).name for d in rows["train_dir"]])
    rows.insert(rows.columns.get_loc("train_dir"), "baseline_key", [Path(d).name for d in rows["baseline_dir"]])
    return rows


def with_paths(rows: pd.DataFrame) -> pd.DataFrame:
    """Committed rows in the shape ``analyze.tables`` pairs: the keys stand in for the folders."""
    return rows.assign(train_dir=rows["train_key"], baseline_dir=rows["baseline_key"])


def claim_tables(p: dict, cache: dict | None = None) -> dict[str, pd.DataFrame]:
    """``{"claim_<claim>": table}`` of ``p`` (none without ``analyze.claims``); ``cache`` as in ``claim_table``."""
    from .claims import claim_members, claim_table
    from .stage import _slug
    if not p["analyze"]["claims"]:
        return {}
    return {f"claim_{_slug(claim)}": claim_table(arms, None if cache is None else dict(cache))
            for claim, arms in claim_members(p).items()}


def recomputed(p: dict, runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The summary and claim tables of ``p`` computed again from published per-member rows alone (no
    store): each member's classifier is found by its key, and pairs are made as the analysis makes them."""
    from .dials import dial_tables
    from .tables import EXTRA_METRICS, MEASURED, METRICS, add_reference, summarize
    by_key = runs.drop_duplicates("train_key").set_index("train_key")
    names = {**{k: k for k in METRICS}, **EXTRA_METRICS}  # result.json's name -> the table's column
    cache = {}  # every classifier of the file, partners of the controls included, by its folder
    for m in params.expand_sweep(p) if p["analyze"]["claims"] else []:
        folder = artifacts.train_dir(m)
        if folder.name in by_key.index:
            cache[folder] = {raw: by_key.at[folder.name, col] for raw, col in names.items() if col in by_key}
    fidelity = {artifacts.train_dir(m): by_key.at[artifacts.train_dir(m).name, MEASURED[0]]
                for m in params.expand_sweep(p) if MEASURED[0] in by_key and artifacts.train_dir(m).name in by_key.index}
    return {"results": add_reference(summarize(with_paths(runs))), **claim_tables(p, cache),
            **dial_tables(p, cache, fidelity)}


def publish(p: dict, params_file: str, argv: list[str], folder: Path | None = None) -> Path:
    """Write the reference files of the finished run ``p`` into ``results/<name>/`` (all at once)."""
    from ..atomic import atomic_dir
    from ..measure.name_check import stored_record
    from .dials import dial_tables
    from .tables import add_reference, environment_table, summarize
    rows = runs_table(p)
    expected = len(params.expand_sweep(p))
    if len(rows) != expected:
        raise FileNotFoundError(f"{expected - len(rows)} of the {expected} members of {params_file} are not "
                                "trained yet: finish the run before publishing it")
    tables = {"runs": rows.drop(columns=["train_dir", "baseline_dir"]),
              "results": add_reference(summarize(rows)),
              "environment": environment_table(rows), **claim_tables(p), **dial_tables(p)}
    out = folder or RESULTS_DIR / p["name"]
    check = stored_record(p) if p["analyze"]["dials"] else None  # the name dial's check, as the analysis read it
    meta = {"name": p["name"], "params_file": params_file, "date": datetime.date.today().isoformat(),
            "command": "python -m diffmix_utils.run " + shlex.join(argv), "members": expected,
            **provenance.kit()}
    with atomic_dir(out) as tmp:
        for name, table in tables.items():
            table.to_csv(tmp / f"{name}.csv", index=False)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        if check is not None:
            (tmp / "name_check.json").write_text(json.dumps(check, indent=2) + "\n")
    return out


def load(name: str, folder: Path | None = None) -> dict[str, pd.DataFrame | dict]:
    """The published files of run ``name``: ``{"runs": ..., "results": ..., "environment": ...,
    "claim_<claim>": ..., "meta": {...}}``; a missing reference names the ones there are."""
    where = folder or RESULTS_DIR / name
    if not (where / "runs.csv").is_file():
        there = sorted(f.name for f in RESULTS_DIR.iterdir() if (f / "runs.csv").is_file()) if RESULTS_DIR.is_dir() else []
        raise FileNotFoundError(f"no published results for {name!r} in {where.parent}; published: "
                                f"{', '.join(there) or 'none'}")
    out: dict = {f.stem: pd.read_csv(f) for f in sorted(where.glob("*.csv"))}
    out["meta"] = json.loads((where / "meta.json").read_text())
    if (where / "name_check.json").is_file():
        out["name_check"] = json.loads((where / "name_check.json").read_text())
    return out


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m diffmix_utils.analyze.published`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python -m diffmix_utils.analyze.published",
                                 description="Write a finished run's reference files into results/<name>/.")
    ap.add_argument("params_file", help="the parameter file of the finished run")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key, as the run did")
    ap.add_argument("--variants", metavar="PATTERN", help="publish only the variants matching this glob, as the "
                    "run kept them (e.g. the complete blocks of a pre-registered order)")
    ap.add_argument("--allow-dirty", action="store_true", help="publish from a checkout with uncommitted changes "
                    "(meta.json then names a commit that is not what ran)")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    a = ap.parse_args(argv)
    if provenance.kit()["kit_dirty"] and not a.allow_dirty:
        print("error: the checkout has uncommitted changes, so meta.json would name a commit that is not what "
              "ran: commit first (or pass --allow-dirty)", file=sys.stderr)
        return 2
    try:
        p = params.load(a.params_file, params.parse_overrides(a.set))
        p = params.keep_variants(p, a.variants) if a.variants else p
        argv = [a.params_file] + [x for s in a.set for x in ("--set", s)] + (["--variants", a.variants] if a.variants else [])
        out = publish(p, a.params_file, argv)
    except (ValueError, OSError) as exc:  # ParamsError is a ValueError; a missing run an OSError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"published {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
