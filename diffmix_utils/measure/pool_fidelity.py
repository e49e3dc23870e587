"""A pool's measured fidelity: the rate at which the toybirds oracle reads the target class in the
synthetic images a classifier actually trains on (after a filter, ``train.oracle_fraction`` and
``train.target_classes_per_source``). The x axis of the fidelity dial (docs/toy-reproduction.md).

Kept in the store by the images' paths and the oracle's version, so the analysis reads it once.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import artifacts
from ..data import read_image
from ..pool_rows import synthetic_rows
from .oracles import ORACLE_VERSION, load_or_train_oracle


def pool_fidelity(m: dict, batch_size: int = 64) -> dict | None:
    """{"images", "target_rate", "source_rate"} of member ``m``'s training pool; None without a pool."""
    rows, folder = synthetic_rows(m)
    if not rows:
        return None
    store = artifacts.store(m).resolve()
    paths = [Path(folder).resolve() / r["path"] for r in rows]  # an oracle row's path is already absolute
    key = artifacts.stable_hash([ORACLE_VERSION, [[str(p.relative_to(store)), r["target_class"]]
                                                  for p, r in zip(paths, rows)]])
    cached = artifacts.store(m) / "fidelity" / f"{key}.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    split = artifacts.open_split(m)
    oracle = load_or_train_oracle(store / "oracles", len(split["classes"]), m["data"]["image_size"])
    drawn = []
    for b in range(0, len(paths), batch_size):
        drawn += list(oracle.predict([read_image(p) for p in paths[b:b + batch_size]])[0])
    out = {"images": len(rows),
           "target_rate": float(np.mean([d == r["target_class"] for d, r in zip(drawn, rows)])),
           "source_rate": float(np.mean([d == r["source_class"] for d, r in zip(drawn, rows)]))}
    cached.parent.mkdir(parents=True, exist_ok=True)
    artifacts.atomic_write(cached, lambda tmp: Path(tmp).write_text(json.dumps(out) + "\n"))
    return out
