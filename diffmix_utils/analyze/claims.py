"""Claims: a parameter file's variants named ``<claim>/<arm>`` reported per claim, with paired
statistics (``analyze.claims: true``; ``params/toy_paper.yaml`` is the example).

For each claim: one row per arm with its mean test accuracy (epoch chosen on validation) and,
where the data have a group shift (``data.registry.has_group_shift``: toybirds with ``data.background_match``,
Waterbirds), worst-group accuracy; each with its paired difference from the baseline of the
same data and seeds (``paired``: 95 % t-interval over seeds, and a verdict), and, for the controls,
the paired difference from the method they break: an arm with ``train.label_toward: source`` is
compared with the same run pointing its labels at the target, and ``noise-mix`` with ``diff-mix``.
A member shared by two arms (e.g. s = 0.7 in a strength sweep and in a method comparison) is
trained once and reported in both. Each claim gets a table (CSV + Markdown) and a figure of the
paired differences with their intervals.
"""
from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd

from .. import artifacts, params
from ..data.registry import has_group_shift
from .paired import round2, t_interval, verdict
from .power import mdd, sd_of
from .tables import used_strengths


def claim_members(p: dict) -> dict[str, dict[str, list[dict]]]:
    """{claim: {arm: [members, one per seed]}} from variants named ``claim/arm``."""
    claims: dict[str, dict[str, list[dict]]] = {}
    for v in p["variants"]:
        claim, _, arm = v["name"].partition("/")
        if arm:
            claims.setdefault(claim, {})[arm] = params.expand_sweep({**p, "variants": [v]})
    return claims


def control_partner(m: dict) -> dict | None:
    """The run a control breaks (labels toward the target; diff-mix for noise-mix), or None."""
    partner = copy.deepcopy(m)
    if m["train"]["label_toward"] == "source":
        partner["train"]["label_toward"] = "target"
    elif m["synthesize"]["strategy"] == "noise-mix":
        partner["synthesize"]["strategy"] = "diff-mix"
    else:
        return None
    return partner


def _result(m: dict, cache: dict) -> dict | None:
    """``result.json`` of a member's classifier (None while it is not finished), read once per table."""
    folder = artifacts.train_dir(m)
    if folder not in cache:
        cache[folder] = artifacts.read_json(folder / "result.json") if artifacts.is_done(folder) else None
    return cache[folder]


def _metric(r: dict | None, key: str) -> float:
    v = None if r is None else r.get(key)
    return float("nan") if v is None else 100 * float(v)


METRICS = {"acc": "test_acc_at_best_val", "worst_group": "test_worst_group_acc_at_best_val"}


def _paired(members: list[dict], partner, key: str, cache: dict) -> dict:
    diffs = []
    for m in members:
        other = partner(m)
        if other is not None:
            diffs.append(_metric(_result(m, cache), key) - _metric(_result(other, cache), key))
    mean, low, high = t_interval(diffs)
    pairs = int(sum(not pd.isna(d) for d in diffs))
    return {"diff": mean, "low": low, "high": high, "verdict": verdict(low, high), "mdd": mdd(sd_of(diffs), pairs)}


# the comparison the paper's claim is about, made whenever a claim has both arms' strategies
COMPARED_WITH = {"diff-mix": "real-mix"}


def _same_seed(others: list[dict]):
    """A partner function: the member of ``others`` with the same seed (hence, with ``replicate: draw``,
    the same few-shot draw)."""
    by_seed = {o["seed"]: o for o in others}
    return lambda m: by_seed.get(m["seed"])


def claim_table(arms: dict[str, list[dict]], cache: dict | None = None) -> pd.DataFrame:
    """One row per arm of a claim (see the module doc); accuracies and differences in points. ``cache``:
    {train folder: result} already read (e.g. from published rows), the rest is read from the store."""
    rows, cache = [], {} if cache is None else cache
    by_strategy = {ms[0]["synthesize"]["strategy"]: ms for ms in arms.values()}
    for arm, members in arms.items():
        results = [_result(m, cache) for m in members]
        m0 = members[0]
        strength, strengths = used_strengths(m0, next((r for r in results if r is not None), None))
        row = {"arm": arm, "strategy": m0["synthesize"]["strategy"], "strength": strength,
               **({"strengths": strengths} if strengths else {}), "seeds": sum(r is not None for r in results)}
        for short, key in METRICS.items():
            if short == "worst_group" and not has_group_shift(m0["data"]):
                continue  # worst-group accuracy is the claim's metric only under a group shift
            values = pd.Series([_metric(r, key) for r in results])
            if values.notna().any():
                row[f"{short} mean"], row[f"{short} std"] = round(values.mean(), 2), round(values.std(ddof=1), 2)
                if m0["synthesize"]["strategy"] != "none":
                    base = _paired(members, params.baseline_of, key, cache)
                    row.update(_columns(f"{short} vs baseline", base))
                other = COMPARED_WITH.get(m0["synthesize"]["strategy"])
                if other in by_strategy and m0["train"]["label_toward"] == "target":
                    row.update(_columns(f"{short} vs {other}", _paired(members, _same_seed(by_strategy[other]),
                                                                       key, cache)))
                if control_partner(m0) is not None:
                    row.update(_columns(f"{short} vs {_partner_name(m0)}", _paired(members, control_partner, key, cache)))
        rows.append(row)
    return pd.DataFrame(rows)


def _partner_name(m: dict) -> str:
    return "labels toward target" if m["train"]["label_toward"] == "source" else "diff-mix"


def _columns(what: str, d: dict) -> dict:
    """``<what> Δ``, its 95 % interval ``<what> low`` / ``high``, ``<what> verdict`` and ``<what> MDD`` (the
    minimal detectable difference at power 0.8: ``power``)."""
    return {f"{what} Δ": round2(d["diff"]), f"{what} low": round2(d["low"]), f"{what} high": round2(d["high"]),
            f"{what} verdict": d["verdict"], f"{what} MDD": round2(d["mdd"])}


def claim_figure(claim: str, table: pd.DataFrame, base: Path | None, formats: list[str], dpi: int):
    """Paired differences from the baseline (and, for controls, from the method they break) with
    their 95 % intervals, per arm; against s when the arms differ only in strength."""
    from matplotlib.figure import Figure

    from .figures import save
    metric = "worst_group" if "worst_group vs baseline Δ" in table else "acc"
    label = {"acc": "test accuracy", "worst_group": "worst-group accuracy"}[metric]
    arms = table[table.strategy != "none"].reset_index(drop=True)
    fig = Figure(figsize=(max(4.5, 0.8 * len(arms) + 1.5), 3.3))
    ax = fig.subplots()
    by_strength = arms.strategy.nunique() == 1 and arms.strength.nunique() == len(arms) > 2
    x = arms.strength.to_numpy(float) if by_strength else pd.Series(range(len(arms))).to_numpy(float)
    against = [c[len(metric) + 1:-2] for c in arms if c.startswith(f"{metric} vs ") and c.endswith(" Δ")]
    for k, what in enumerate(against):  # "vs baseline", "vs diff-mix", ...
        col = f"{metric} {what}"
        if arms[f"{col} Δ"].isna().all():
            continue
        mean, low, high = arms[f"{col} Δ"], arms[f"{col} low"].fillna(arms[f"{col} Δ"]), \
            arms[f"{col} high"].fillna(arms[f"{col} Δ"])
        shift = 0 if by_strength else 0.12 * (k - (len(against) - 1) / 2)
        ax.errorbar(x + shift, mean, yerr=[mean - low, high - mean], fmt="o", capsize=4, color=f"C{3 * k}",
                    label=what, mfc="none")
    ax.axhline(0, color="gray", lw=1)
    if not by_strength:
        ax.set_xticks(range(len(arms)), arms.arm, rotation=30, ha="right", fontsize=7)
    ax.set_xlabel("translation strength s" if by_strength else "")
    ax.set_ylabel(f"Δ {label} (points)")
    seeds = int(table.seeds.min()) if len(table) else 0
    ax.set_title(f"{claim}: paired difference, 95 % interval over {seeds} seeds\n"
                 "(an interval across 0: no difference detected)", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, base, formats, dpi)


def compared_claims(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The claims whose arms are the same as another claim's (e.g. one comparison in two regimes): they
    are also drawn side by side (``claims_compared_figure``); empty when no two claims match."""
    arms = {c: frozenset(t.arm) for c, t in tables.items()}
    same = [c for c in tables if sum(arms[o] == arms[c] for o in tables) > 1]
    return {c: tables[c] for c in same if arms[c] == arms[same[0]]}


def claims_compared_figure(tables: dict[str, pd.DataFrame], base: Path | None, formats: list[str], dpi: int):
    """Per shared arm and comparison, each claim's paired difference with its 95 % interval, and a grey
    band of ± its minimal detectable difference (power 0.8) around zero: an interval inside the band
    shows no difference that the seeds could have detected."""
    from matplotlib.figure import Figure

    from .figures import save
    shared = set(next(iter(tables.values())).arm)
    slots = []  # (arm, comparison column prefix)
    for _, r in next(iter(tables.values())).iterrows():
        if r.arm in shared:
            slots += [(r.arm, c[:-2]) for c in r.index if c.startswith("acc vs ") and c.endswith(" Δ")
                      and not pd.isna(r[c]) and c != "acc vs labels toward target Δ"]
    fig = Figure(figsize=(max(4.5, 1.2 * len(slots) + 2.8), 3.4))
    ax = fig.subplots()
    width = 0.7 / max(1, len(tables))
    for k, (claim, table) in enumerate(tables.items()):
        rows = table.set_index("arm")
        for x, (arm, col) in enumerate(slots):
            if arm not in rows.index or f"{col} Δ" not in rows or pd.isna(rows.at[arm, f"{col} Δ"]):
                continue
            at = x + (k - (len(tables) - 1) / 2) * width
            mean, low, high, band = (float(rows.at[arm, f"{col} {w}"]) for w in ("Δ", "low", "high", "MDD"))
            if not pd.isna(band):
                ax.bar(at, 2 * band, bottom=-band, width=0.8 * width, color="0.85", zorder=0,
                       label="± MDD (power 0.8)" if (k, x) == (0, 0) else None)
            ax.errorbar(at, mean, yerr=[[mean - low], [high - mean]], fmt="o", capsize=4, color=f"C{k}",
                        label=claim if x == next(i for i, (a, c) in enumerate(slots) if a in rows.index) else None)
    ax.axhline(0, color="gray", lw=1)
    ax.set_xticks(range(len(slots)), [f"{arm}\n{col[4:]}" for arm, col in slots], fontsize=7)
    ax.set_ylabel("Δ test accuracy (points)")
    seeds = min(int(t.seeds.min()) for t in tables.values())
    ax.set_title(f"{' vs '.join(tables)}: paired differences, 95 % intervals over {seeds} seeds", fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)  # beside, over no bar
    fig.tight_layout()
    return save(fig, base, formats, dpi)
