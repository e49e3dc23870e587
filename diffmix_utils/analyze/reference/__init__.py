"""Reference numbers with their provenance: ``paper.csv`` (the paper's tables: structure only, every
value "not available" until a user fills it from the PDF) and ``dev_notebook.csv`` (numbers from the
authors' development notebooks, the authors' development notebooks, diffmix_utils/analyze/reference/README.md). Every row has a ``source`` and a ``kind``
(``paper`` | ``dev-notebook``); the two kinds are never merged or relabelled. See README.md.

A reference row matches a kit result when every column the row fills (dataset, shots, imbalance,
backbone, variant, strategy, strength, gamma, p, and ``x_name`` = ``x_value`` for a swept key)
equals the result's; empty reference cells match anything, except shots and imbalance, where
empty means all-shot / balanced.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

FOLDER = Path(__file__).parent
KINDS = ("paper", "dev-notebook")
NOT_AVAILABLE = "not available"
# swept keys that the results table already shows under a short column name
COLUMN_OF = {"synthesize.strategy": "strategy", "synthesize.strength": "strength", "train.gamma": "gamma",
             "train.p": "p", "data.shots": "shots", "data.imbalance": "imbalance"}
EXACT_WHEN_EMPTY = ("shots", "imbalance")  # empty = all-shot / no imbalance, not "any"
MATCH_COLUMNS = ["dataset", "shots", "imbalance", "backbone", "variant", "strategy", "strength", "gamma", "p"]


class ReferenceError(ValueError):
    pass


def load(folder: Path = FOLDER) -> pd.DataFrame:
    """Both files, checked: known kind, a source on every row, a value on every dev-notebook row, and
    no paper value whose source still says it is not available."""
    frames = []
    for name in ("paper.csv", "dev_notebook.csv"):
        df = pd.read_csv(Path(folder) / name, dtype={"variant": str, "backbone": str, "x_name": str})
        df["file"] = name
        frames.append(df)
    ref = pd.concat(frames, ignore_index=True)
    for i, r in ref.iterrows():
        where = f"{r.file} row {i + 2 if r.file == 'paper.csv' else i - len(frames[0]) + 2}"
        if r.kind not in KINDS:
            raise ReferenceError(f"{where}: kind = {r.kind!r}; valid: {', '.join(KINDS)}")
        if not isinstance(r.source, str) or not r.source.strip():
            raise ReferenceError(f"{where}: every number needs a source")
        if r.kind == "dev-notebook" and pd.isna(r.value):
            raise ReferenceError(f"{where}: a dev-notebook row needs a value")
        if r.kind == "paper" and not pd.isna(r.value) and NOT_AVAILABLE in r.source:
            raise ReferenceError(f"{where}: a paper value was filled in but its source still says "
                                 f"'{NOT_AVAILABLE}'; write where it comes from (e.g. 'paper Table 2')")
    return ref


def _equal(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    return abs(float(a) - float(b)) < 1e-9


def matches(ref: pd.DataFrame, result: dict, metric: str = "test_acc") -> pd.DataFrame:
    """Reference rows for one kit result (a dict with the MATCH_COLUMNS it knows and swept keys)."""
    keep = []
    for _, r in ref[ref.metric == metric].iterrows():
        ok = True
        for col in MATCH_COLUMNS:
            want, have = r[col], result.get(col)
            if col in EXACT_WHEN_EMPTY and (pd.isna(want) or want == ""):
                if have is None or (isinstance(have, float) and pd.isna(have)):
                    continue  # all-shot / balanced on both sides
                ok = False
                break
            if pd.isna(want) or want == "":
                continue
            if have is None or (isinstance(have, float) and pd.isna(have)) or not _equal(want, have):
                ok = False
                break
        if ok and isinstance(r.x_name, str) and r.x_name:
            have = result.get(r.x_name, result.get(COLUMN_OF.get(r.x_name, r.x_name)))
            ok = have is not None and not (isinstance(have, float) and pd.isna(have)) and _equal(r.x_value, have)
        if ok:
            keep.append(r)
    return pd.DataFrame(keep, columns=ref.columns)
