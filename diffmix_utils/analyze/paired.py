"""Paired statistics: each method's difference from its baseline, seed by seed, with a 95 % interval.

Members that differ only in the method share their seeds (the split, the classifier's
initialisation and data order, the synthetic draws), so the noise they share cancels in the
per-seed difference d_k = acc(method, seed k) - acc(baseline, seed k). The interval is the
t-interval of the mean difference over the paired seeds, mean ± t(0.975, n-1)·sd/√n; with fewer
than two pairs there is none. The verdict says "better" or "worse" only when the interval leaves
out zero, and "no difference detected" when it holds zero (which is not evidence of no effect:
the interval's width says how large an effect could hide).

``paired_differences`` turns a results table (``tables.collect_results``: one row per member, with
its ``train_dir`` and its baseline's, ``baseline_dir``) into one row per method setting with the
difference, its interval, the number of pairs and the verdict, for any metric column.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

NO_DIFFERENCE = "no difference detected"


def t_interval(diffs: list[float] | np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of the mean of paired differences; low/high NaN with fewer than 2 pairs."""
    d = np.asarray(diffs, dtype=float)
    d = d[~np.isnan(d)]
    if len(d) == 0:
        return math.nan, math.nan, math.nan
    mean = float(d.mean())
    if len(d) < 2:
        return mean, math.nan, math.nan
    from scipy.stats import t
    half = float(t.ppf(0.5 + level / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d)))
    return mean, mean - half, mean + half


def verdict(low: float, high: float) -> str:
    if math.isnan(low) or math.isnan(high):
        return "too few paired seeds"
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    return NO_DIFFERENCE


def paired_differences(results: pd.DataFrame, keys: list[str], metric: str = "test_acc_at_best_val",
                       against: str = "baseline_dir") -> pd.DataFrame:
    """One row per group of ``keys`` (the method setting; seeds are paired inside a group): the mean
    paired difference of ``metric`` (in points, ×100) from the row's partner (``against``: the column
    holding the partner's ``train_dir``), its 95 % interval, the pairs and the verdict (columns
    ``diff``, ``ci95_low``, ``ci95_high``, ``pairs``, ``verdict``). Groups whose rows are their own
    partners (the baselines) are left out."""
    # a classifier shared by two variants (the regimes' baseline) is one row per variant: one value
    by_dir = results.drop_duplicates("train_dir").set_index("train_dir")[metric]
    rows = []
    present = [k for k in keys if k in results]
    for group, g in results.groupby(present, dropna=False, sort=False):
        partners = g[against]
        if (partners == g["train_dir"]).all():
            continue
        diffs = [100 * (a - by_dir[b]) for a, b in zip(g[metric], partners)
                 if b in by_dir.index and not pd.isna(a) and not pd.isna(by_dir[b])]
        mean, low, high = t_interval(diffs)
        rows.append({**dict(zip(present, group if isinstance(group, tuple) else (group,))),
                     "diff": round2(mean), "ci95_low": round2(low), "ci95_high": round2(high),
                     "pairs": len(diffs), "verdict": verdict(low, high)})
    return pd.DataFrame(rows)


def round2(x: float) -> float:
    """``x`` to 2 decimals (NaN stays NaN)."""
    return x if math.isnan(x) else round(x, 2)
