"""Which rows of a synthetic pool a classifier trains on: the pool's manifest, less what a filter did not
keep, with ``train.oracle_fraction`` of them taken from the oracle pool of the same plan, and limited to K
target classes per source (``train.target_classes_per_source``). Shared ground: the training stage and
the measured fidelity (``measure.pool_fidelity``) read the same rows from here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import artifacts


def synthetic_rows(p: dict) -> tuple[list[dict], Path | None]:
    """The synthetic pool rows training draws from (kept by the filter, if any; K-limited) and their folder."""
    folder = artifacts.synthesis_dir(p)
    if folder is None or p["train"]["p"] == 0:
        return [], None
    if not artifacts.is_done(folder):
        raise FileNotFoundError(f"the synthetic pool {folder} is not complete: run the synthesize stage first")
    rows = artifacts.read_manifest(folder)
    scored = artifacts.filter_dir(p)
    if scored is not None:  # a filter's rejects stay on disk, and out of training
        if not artifacts.is_done(scored):
            raise FileNotFoundError(f"filter.scorer = {p['filter']['scorer']!r} but the pool's scores {scored} "
                                    "are not complete: run filtering.run_stage(P) (03_train's filter step) first")
        scores = artifacts.read_scores(scored)
        rows = [r for r in rows if scores[r["task"]]["kept"]]
    rows = with_oracle_rows(p, rows)
    return limit_targets(rows, p["train"]["target_classes_per_source"], p["seed"]), folder


def limit_targets(rows: list[dict], k: int | None, seed: int) -> list[dict]:
    """Keep, per source class, the rows whose target is among K targets drawn by ``seed``."""
    if k is None:
        return rows
    keep = {}
    for src in sorted({r["source_class"] for r in rows}):
        targets = sorted({r["target_class"] for r in rows if r["source_class"] == src})
        keep[src] = {targets[j] for j in np.random.default_rng([seed, src]).permutation(len(targets))[:k]}
    return [r for r in rows if r["target_class"] in keep[r["source_class"]]]


def with_oracle_rows(p: dict, rows: list[dict]) -> list[dict]:
    """``train.oracle_fraction`` q: the first round(q·n) tasks of a permutation seeded by the synthesis seed
    take the oracle pool's image of the same task (same source, target, strength: the same soft label),
    by its absolute path; a larger q keeps a smaller one's choice."""
    partner = artifacts.oracle_partner(p)
    if partner is None:
        return rows
    folder = artifacts.synthesis_dir(partner).resolve()  # absolute: the rows are read beside another pool's
    if not artifacts.is_done(folder):
        raise FileNotFoundError(f"train.oracle_fraction = {p['train']['oracle_fraction']} reads the oracle pool "
                                f"{folder}, which is not complete: run the synthesize stage first")
    oracle = {r["task"]: r for r in artifacts.read_manifest(folder)}
    order = np.random.default_rng([p["synthesize"]["seed"], 17]).permutation(len(rows))
    chosen = set(order[:round(p["train"]["oracle_fraction"] * len(rows))].tolist())
    out = []
    for k, r in enumerate(rows):
        if k in chosen:
            o = oracle[r["task"]]
            if (o["source_class"], o["target_class"], o["strength"]) != (r["source_class"], r["target_class"],
                                                                        r["strength"]):
                raise RuntimeError(f"task {r['task']} of {folder} is not the same translation as the pool's")
            r = {**o, "path": str(folder / o["path"])}
        out.append(r)
    return out
