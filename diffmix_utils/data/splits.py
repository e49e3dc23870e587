"""The split file: train / val / test indices (plus few-shot or long-tail subsetting) of a dataset.

One JSON file per ``data`` section, written once and read by every stage, so the fine-tune, the
synthesis pool and the classifier all see the same images (the reference drew few-shot subsets
with different seeds in different stages; see the spec, G.1 item 1).

Protocol, per class, from one ``numpy`` permutation seeded by ``(split_seed, class)``:
1. the first ``ceil(val_fraction * n)`` train images (at least 1 when val_fraction > 0) are the
   validation split used for model selection -- unless the release defines its own validation
   images (items with split ``val``: Flowers-102 official, FGVC-Aircraft ``train``, Waterbirds),
   which are then used as they are and ``val_fraction`` is ignored;
2. few-shot: the next ``shots`` images are the training set;
   long-tail: class rank r (by count, descending; ties by class id) keeps
   ``n_r = max(1, floor(n_max * IF ** (-r / (C - 1))))`` images;
   otherwise all remaining images train.
The official test split is never touched.
"""
from __future__ import annotations

import math

import numpy as np

from .common import DatasetError


def longtail_counts(counts: list[int], imbalance: float, formula: str = "kit") -> list[int]:
    """Per-class kept counts for imbalance factor IF, head = most frequent class (rank 0).

    ``kit``: ``n_max * IF^(-r/(C-1))`` (n_max / n_min = IF exactly). ``reference``: the reference's
    ``gen_imbalanced_data``, ``(N/C) * IF^(-r/(C-2))`` (its head is the average count and its
    exponent uses C-2, so the last class falls below n_max/IF, floored at 1)."""
    order = sorted(range(len(counts)), key=lambda c: (-counts[c], c))
    C = len(counts)
    if formula == "reference":
        head, span = sum(counts) / C, max(C - 2, 1)
    else:
        head, span = counts[order[0]], max(C - 1, 1)
    kept = [0] * C
    for rank, c in enumerate(order):
        target = head * imbalance ** (-rank / span)
        kept[c] = min(counts[c], max(1, math.floor(target + 1e-9)))
    return kept


def _named(classes: list[str], ids: list[int]) -> str:
    shown = ", ".join(f"{c} ({classes[c]})" for c in ids[:5])
    return shown + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")


def make_split(items: list[dict], classes: list[str], data: dict) -> dict:
    """Index lists into ``items`` for train/val/test following the protocol above."""
    num_classes = len(classes)
    by_class: list[list[int]] = [[] for _ in range(num_classes)]
    test, given_val = [], []
    for i, it in enumerate(items):
        {"train": by_class[it["label"]], "val": given_val, "test": test}[it["split"]].append(i)
    empty = [c for c, idx in enumerate(by_class) if not idx]
    if empty:
        raise DatasetError(f"classes {_named(classes, empty)} have no training images")
    untested = sorted(set(range(num_classes)) - {items[i]["label"] for i in test})
    if untested:
        raise DatasetError(f"classes {_named(classes, untested)} have no test images: their accuracy "
                           "could not be measured; add test images or remove the classes")
    val, rest = list(given_val), []
    for c, idx in enumerate(by_class):
        perm = [idx[j] for j in np.random.default_rng([data["split_seed"], c]).permutation(len(idx))]
        n_val = (math.ceil(data["val_fraction"] * len(perm))
                 if data["val_fraction"] > 0 and not given_val else 0)
        if n_val >= len(perm):
            raise DatasetError(f"class {_named(classes, [c])} has {len(perm)} train images; val_fraction "
                             f"{data['val_fraction']} leaves none to train on")
        val += perm[:n_val]
        rest.append(perm[n_val:])
    if data["shots"] is not None:
        short = [c for c, r in enumerate(rest) if len(r) < data["shots"]]
        if short:
            raise DatasetError(f"data.shots = {data['shots']} but classes {_named(classes, short)} have only "
                             f"{min(len(rest[c]) for c in short)} train images after the val split")
        rest = [r[:data["shots"]] for r in rest]
    elif data["imbalance"] is not None:
        kept = longtail_counts([len(r) for r in rest], data["imbalance"], data.get("longtail_formula", "kit"))
        rest = [r[:k] for r, k in zip(rest, kept)]
    train = sorted(i for r in rest for i in r)
    return {"train": train, "val": sorted(val), "test": sorted(test)}


def class_counts(split: dict, part: str = "train") -> list[int]:
    counts = [0] * len(split["classes"])
    for i in split[part]:
        counts[split["items"][i]["label"]] += 1
    return counts
