"""The toy reproduction's two dials (``analyze.dials``; docs/toy-reproduction.md, "Two dials"): tables
of the pre-registered comparisons and a figure each.

- **Name dial** (claim ``names``): real-mix prompted with each ``data.class_names`` setting against the
  baseline, the neighbouring settings against each other (N1), and Diff-Mix against real-mix with
  uninformative names (N2); paired by draw.
- **Fidelity dial** (claim ``fidelity``): each pool's gain over the baseline against its *measured*
  fidelity (the oracle's target-class rate in the images trained on, ``measure.pool_fidelity``): noise,
  the q-pools (``train.oracle_fraction``; q = 0 is Diff-Mix, q = 1 the oracle control), and the
  capacity arms (a fine-tune other than the file's). Tests: the per-draw slope of gain on q (F1), the
  first "better" q (F2), the convexity prediction, each capacity arm's fidelity against q = ¼ (F3) and,
  marked exploratory (not in the plan), each capacity arm's fidelity and gain against Diff-Mix's (q = 0).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .. import artifacts, params
from ..measure.pool_fidelity import pool_fidelity
from ..data.class_names import setting
from .claims import _columns, _metric, _paired, _result, _same_seed
from .paired import round2, t_interval, verdict
from .power import mdd, sd_of

SETTINGS = ("dataset", "partial", "uninformative", "misleading")
KEY = "test_acc_at_best_val"


def _row(comparison: str, hypothesis: str, d: dict) -> dict:
    return {"comparison": comparison, "hypothesis": hypothesis,
            **{k.replace("acc ", ""): v for k, v in _columns("acc", d).items()}}


def _by_seed_diff(a: list[dict], b: list[dict], cache: dict) -> dict:
    """Arm ``a`` minus arm ``b``, paired by seed (draw)."""
    return _paired(a, _same_seed(b), KEY, cache)


def name_arms(arms: dict[str, list[dict]]) -> tuple[dict[str, list[dict]], list[dict] | None]:
    """({setting: real-mix members}, the diff-mix members) of the ``names`` claim."""
    real = {setting(ms[0]["data"]): ms for ms in arms.values() if ms[0]["synthesize"]["strategy"] == "real-mix"}
    diff = next((ms for ms in arms.values() if ms[0]["synthesize"]["strategy"] == "diff-mix"), None)
    return real, diff


def name_table(arms: dict[str, list[dict]], cache: dict | None = None) -> pd.DataFrame:
    """The name dial's comparisons, in points with 95 % intervals and MDDs (see the module doc)."""
    cache = {} if cache is None else cache
    real, diff = name_arms(arms)
    present = [s for s in SETTINGS if s in real]
    rows = [_row(f"real-mix {s} − baseline", "N1", _paired(real[s], params.baseline_of, KEY, cache)) for s in present]
    rows += [_row(f"real-mix {a} − real-mix {b}", "N1", _by_seed_diff(real[a], real[b], cache))
             for a, b in zip(present, present[1:])]
    if diff is not None:
        rows.append(_row("diff-mix − baseline", "", _paired(diff, params.baseline_of, KEY, cache)))
        if "uninformative" in real:
            rows.append(_row("diff-mix − real-mix uninformative", "N2", _by_seed_diff(diff, real["uninformative"], cache)))
    return pd.DataFrame(rows)


def arm_q(m: dict, reference_finetune: dict) -> float | None:
    """An arm's q on the fidelity dial: diff-mix with the file's fine-tune is its ``oracle_fraction``, the oracle
    control is 1; None for noise and for the capacity arms (another fine-tune)."""
    strategy = m["synthesize"]["strategy"]
    if strategy == "oracle-mix":
        return 1.0
    if strategy == "diff-mix" and m["finetune"] == reference_finetune:
        return float(m["train"]["oracle_fraction"])
    return None


def fidelity_values(members: list[dict], fidelity: dict) -> list[float]:
    """Each member's measured fidelity (%), from ``fidelity`` {train folder: rate} or measured now."""
    out = []
    for m in members:
        folder = artifacts.train_dir(m)
        pool = artifacts.synthesis_dir(m)
        if folder not in fidelity and pool is not None and artifacts.is_done(pool):
            measured = pool_fidelity(m)
            fidelity[folder] = None if measured is None else measured["target_rate"]
        v = fidelity.get(folder)
        out.append(math.nan if v is None else 100 * float(v))
    return out


def fidelity_table(arms: dict[str, list[dict]], reference_finetune: dict, cache: dict | None = None,
                   fidelity: dict | None = None) -> pd.DataFrame:
    """One row per pool arm: its kind, q, measured fidelity (mean, std over draws, %) and gain over the baseline."""
    cache, fidelity = ({} if cache is None else cache), ({} if fidelity is None else fidelity)
    rows = []
    for arm, ms in arms.items():
        strategy = ms[0]["synthesize"]["strategy"]
        if strategy == "none":
            continue
        q = arm_q(ms[0], reference_finetune)
        f = pd.Series(fidelity_values(ms, fidelity))
        kind = "noise" if strategy == "noise-mix" else "q-pool" if q is not None else "capacity"
        rows.append({"arm": arm, "kind": kind, "q": q, "seeds": int(sum(_result(m, cache) is not None for m in ms)),
                     "fidelity mean": round2(float(f.mean())), "fidelity std": round2(float(f.std(ddof=1))),
                     **{k.replace("acc ", ""): v for k, v in
                        _columns("acc vs baseline", _paired(ms, params.baseline_of, KEY, cache)).items()}})
    return pd.DataFrame(rows)


def _gains(ms: list[dict], cache: dict) -> dict[int, float]:
    """{seed: arm − its baseline} in points."""
    return {m["seed"]: _metric(_result(m, cache), KEY) - _metric(_result(params.baseline_of(m), cache), KEY)
            for m in ms}


def _test(name: str, statement: str, diffs: list[float]) -> dict:
    mean, low, high = t_interval(diffs)
    n = int(np.sum(~np.isnan(np.asarray(diffs, float))))
    return {"hypothesis": name, "statement": statement, "estimate": round2(mean), "low": round2(low),
            "high": round2(high), "verdict": verdict(low, high), "MDD": round2(mdd(sd_of(diffs), n)),
            "draws": n}


def fidelity_tests(arms: dict[str, list[dict]], table: pd.DataFrame, reference_finetune: dict,
                   cache: dict | None = None, fidelity: dict | None = None) -> pd.DataFrame:
    """F1 (per-draw slope of gain on q, points per unit q), convexity (gain at ½ − half the gain at 1), F2
    (the first "better" q, by its measured fidelity), F3 (each capacity arm's fidelity − the q = ¼ pool's) and
    the capacity arms' exploratory comparisons with Diff-Mix (q = 0)."""
    cache, fidelity = ({} if cache is None else cache), ({} if fidelity is None else fidelity)
    qs = {arm_q(ms[0], reference_finetune): ms for ms in arms.values() if arm_q(ms[0], reference_finetune) is not None}
    gains = {q: _gains(ms, cache) for q, ms in sorted(qs.items())}
    seeds = sorted(set.intersection(*(set(g) for g in gains.values()))) if gains else []
    rows = []
    if len(gains) >= 2:
        x = np.array(sorted(gains))
        slopes = []
        for s in seeds:
            y = np.array([gains[q][s] for q in x])
            slopes.append(float(np.polyfit(x, y, 1)[0]) if not np.isnan(y).any() else math.nan)
        rows.append(_test("F1", "gain rises with q: per-draw least-squares slope (points per unit q)", slopes))
    if 0.5 in gains and 1.0 in gains:
        rows.append(_test("convexity", "gain at q = ½ minus half the gain at q = 1 (predicted below 0)",
                          [gains[0.5][s] - gains[1.0][s] / 2 for s in seeds]))
    better = table[(table.kind == "q-pool") & (table["vs baseline verdict"] == "better")].sort_values("q")
    first = better.iloc[0] if len(better) else None
    rows.append({"hypothesis": "F2", "statement": "the smallest q whose pool is 'better' than the baseline",
                 "estimate": None if first is None else first.q, "verdict": "none is better" if first is None else
                 f"q = {first.q:g} at measured fidelity {first['fidelity mean']:.1f} %", "draws": len(seeds)})
    rows += _capacity_tests(arms, qs, gains, reference_finetune, cache, fidelity)
    return pd.DataFrame(rows)


def _capacity_tests(arms: dict[str, list[dict]], qs: dict[float, list[dict]], q_gains: dict[float, dict[int, float]],
                    reference_finetune: dict, cache: dict, fidelity: dict) -> list[dict]:
    """Per capacity arm: F3 (its measured fidelity − the q = ¼ pool's, the plan's test) and, marked
    ``exploratory`` (not in the plan), its fidelity and its gain against Diff-Mix's own (q = 0), by draw;
    ``q_gains`` are the q-pools' gains by draw, already computed."""
    def by_seed(ms: list[dict]) -> dict[int, float]:
        return dict(zip([m["seed"] for m in ms], fidelity_values(ms, fidelity)))

    def paired(a: dict[int, float], b: dict[int, float]) -> list[float]:
        return [a[s] - b[s] for s in a if s in b]

    quarter = by_seed(qs[0.25]) if 0.25 in qs else None
    own = by_seed(qs[0.0]) if 0.0 in qs else None
    rows = []
    for arm, ms in arms.items():
        if ms[0]["synthesize"]["strategy"] != "diff-mix" or arm_q(ms[0], reference_finetune) is not None:
            continue
        mine = by_seed(ms)
        if quarter is not None:
            rows.append(_test("F3", f"{arm}: measured fidelity − the q = ¼ pool's (points of %)", paired(mine, quarter)))
        if own is not None:
            rows.append(_test("exploratory", f"{arm}: measured fidelity − Diff-Mix's (q = 0; points of %)",
                              paired(mine, own)))
            rows.append(_test("exploratory", f"{arm}: gain − Diff-Mix's gain (q = 0; points)",
                              paired(_gains(ms, cache), q_gains[0.0])))
    return rows


def dial_tables(p: dict, cache: dict | None = None, fidelity: dict | None = None) -> dict[str, pd.DataFrame]:
    """``{"dial_names", "dial_fidelity", "dial_fidelity_tests"}`` of ``p`` (those of its claims it has; none
    without ``analyze.dials``); ``cache`` / ``fidelity`` by train folder, e.g. from published rows."""
    from .claims import claim_members
    if not p["analyze"]["dials"]:
        return {}
    claims, out = claim_members(p), {}
    fidelity = {} if fidelity is None else dict(fidelity)
    if "names" in claims:
        out["dial_names"] = name_table(claims["names"], None if cache is None else dict(cache))
    if "fidelity" in claims:
        table = fidelity_table(claims["fidelity"], p["finetune"], None if cache is None else dict(cache), fidelity)
        out["dial_fidelity"] = table
        out["dial_fidelity_tests"] = fidelity_tests(claims["fidelity"], table, p["finetune"],
                                                    None if cache is None else dict(cache), fidelity)
    return out
