"""The synthesis task plan: which real image goes to which target class, at which strength, with
which seed.

The plan is a pure function of the parameters and the split file. Source and target classes are
uniform over classes, as in the reference (so the pool is class-balanced even when the real set is
not), or the target is tail-weighted, p(c) ∝ 1/(n_c + 1) (``synthesize.target_sampling``); the
source image is uniform within its class. Tasks are grouped into fixed batches of one strength
each, and every image has its own seed from (synthesis seed, task index), so the images depend
neither on how the batches are spread over processes nor on the resume history.
"""
from __future__ import annotations

import numpy as np

from ..strategies import get_strategy, pool_size


def task_seed(seed: int, task: int) -> int:
    """The image seed of a task: a pure function of (synthesis seed, task index)."""
    return int(np.random.SeedSequence([seed, task]).generate_state(1)[0])


def plan_tasks(p: dict, split: dict) -> list[dict]:
    """The full, deterministic task list of a synthesis run."""
    syn = p["synthesize"]
    strategy = get_strategy(syn["strategy"])
    classes = len(split["classes"])
    by_class: list[list[int]] = [[] for _ in range(classes)]
    for i in split["train"]:
        by_class[split["items"][i]["label"]].append(i)
    empty = [c for c in range(classes) if not by_class[c]]
    if empty:
        raise ValueError(f"class {empty[0]} ({split['classes'][empty[0]]!r}) has no training image"
                         f"{f' (nor do {len(empty) - 1} more classes)' if len(empty) > 1 else ''}: synthesis "
                         "needs a real image of every class; check data.shots / data.imbalance or the dataset")
    n = pool_size(syn, len(split["train"]))
    rng = np.random.default_rng([syn["seed"], 7])
    sources = rng.choice(classes, size=n)
    if not strategy.inter_class:
        targets = sources
    elif syn["target_sampling"] == "tail":
        weights = 1.0 / (np.array([len(b) for b in by_class]) + 1.0)
        targets = rng.choice(classes, size=n, p=weights / weights.sum())
    else:
        targets = rng.integers(0, classes, size=n)
    picks = rng.random(n)
    if not strategy.img2img:
        strengths = np.ones(n)
    elif syn["strength_choices"]:
        strengths = np.asarray(syn["strength_choices"])[rng.integers(0, len(syn["strength_choices"]), n)]
    else:
        strengths = np.full(n, syn["strength"])
    tasks = []
    for t in range(n):
        src, tgt, s = int(sources[t]), int(targets[t]), float(strengths[t])
        index = by_class[src][int(picks[t] * len(by_class[src]))] if strategy.img2img else -1
        tasks.append({"task": t, "strategy": strategy.name, "source_class": src, "target_class": tgt,
                      "source_index": index, "strength": s, "seed": task_seed(syn["seed"], t),
                      "path": f"images/{src:03d}/{tgt:03d}-{index}-{s:g}-t{t:06d}.png"})
    return tasks


def make_batches(tasks: list[dict], batch_size: int) -> list[list[dict]]:
    """Fixed batches: tasks grouped by strength (in task order), then cut into ``batch_size``."""
    batches = []
    for s in sorted({t["strength"] for t in tasks}):
        group = [t for t in tasks if t["strength"] == s]
        batches += [group[i:i + batch_size] for i in range(0, len(group), batch_size)]
    return batches
