"""How many seeds a paired comparison needs, and how small an effect it could have seen.

For the paired t-test at level 0.95 (two-sided) with n paired seeds whose differences have standard
deviation sd, the minimal detectable difference at power 0.8 is

    MDD = (t(0.975, n-1) + t(0.8, n-1)) · sd / √n,

the true difference that the 95 % interval would leave zero out of in 80 % of repeated experiments
(the usual t approximation of the power of a paired test). An interval that holds zero beside an
MDD of 12 points says "an effect below about 12 points could hide here", not "no effect".

``seeds_needed`` inverts it: the fewest seeds whose MDD is at most a wanted effect, from a spread
measured earlier. ``python -m diffmix_utils.analyze.power TABLE.csv --effect 5`` reads a claim
table (its intervals and seeds give back each comparison's spread) and prints both per comparison.
"""
from __future__ import annotations

import argparse
import math
import sys

import numpy as np


def _t(q: float, df: int) -> float:
    from scipy.stats import t
    return float(t.ppf(q, df))


def mdd(sd: float, n: int, power: float = 0.8, level: float = 0.95) -> float:
    """The minimal detectable difference of n paired seeds with differences of spread ``sd`` (NaN below 2)."""
    if n < 2 or math.isnan(sd):
        return math.nan
    return (_t(0.5 + level / 2, n - 1) + _t(power, n - 1)) * sd / math.sqrt(n)


def seeds_needed(sd: float, effect: float, power: float = 0.8, level: float = 0.95, most: int = 100_000) -> int:
    """The fewest paired seeds (at least 2) whose MDD is at most ``effect``."""
    if not effect > 0:
        raise ValueError(f"effect = {effect!r} must be a positive difference (in points)")
    n = 2
    while mdd(sd, n, power, level) > effect:
        n += 1
        if n > most:
            raise ValueError(f"more than {most} seeds would be needed for sd = {sd:.2f} and effect = {effect}")
    return n


def sd_of(diffs) -> float:
    d = np.asarray(diffs, dtype=float)
    d = d[~np.isnan(d)]
    return float(d.std(ddof=1)) if len(d) > 1 else math.nan


def sd_from_interval(low: float, high: float, n: int, level: float = 0.95) -> float:
    """The spread of the paired differences behind a t-interval [low, high] over n seeds."""
    return (high - low) / 2 * math.sqrt(n) / _t(0.5 + level / 2, n - 1)


def table_power(table, effect: float, power: float = 0.8):
    """Per arm and comparison of a claim table: seeds, spread, MDD and the seeds ``effect`` needs."""
    import pandas as pd
    rows = []
    for _, r in table.iterrows():
        for col in [c for c in table.columns if c.endswith(" low")]:
            what = col[:-4]
            low, high, n = r[col], r.get(f"{what} high"), int(r["seeds"])
            if pd.isna(low) or pd.isna(high) or n < 2:
                continue
            sd = sd_from_interval(float(low), float(high), n)
            rows.append({"arm": r["arm"], "comparison": what, "seeds": n, "sd": round(sd, 2),
                         "MDD": round(mdd(sd, n, power), 2), f"seeds for {effect:g}": seeds_needed(sd, effect, power)})
    return pd.DataFrame(rows)


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m diffmix_utils.analyze.power`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python -m diffmix_utils.analyze.power",
                                 description="seeds needed to detect an effect, from a claim table's spread")
    ap.add_argument("tables", nargs="+", help="claim_<claim>.csv files written by analyze")
    ap.add_argument("--effect", type=float, default=5.0, help="the true difference to detect, in points")
    ap.add_argument("--power", type=float, default=0.8)
    return ap


def main(argv=None) -> int:
    ap = parser()
    a = ap.parse_args(argv)
    import pandas as pd
    for path in a.tables:
        print(f"## {path}\n{table_power(pd.read_csv(path), a.effect, a.power).to_string(index=False)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
