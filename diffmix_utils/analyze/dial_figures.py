"""The two dials' figures (``analyze.dials``): real-mix's gain per class-names setting, ordered by what
the name check measured, and the gain of each pool against its measured fidelity beside the authors'
fine-tune-steps ablation (docs/toy-reproduction.md, "Two dials")."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .figures import save
from .reference import load as load_reference


def _interval(ax, x, row, color, marker="o", label=None, prefix="vs baseline "):
    """One point with its 95 % interval from a table row's ``<prefix>Δ / low / high``."""
    mean, low, high = row[f"{prefix}Δ"], row[f"{prefix}low"], row[f"{prefix}high"]
    low, high = (mean if pd.isna(low) else low), (mean if pd.isna(high) else high)
    ax.errorbar(x, mean, yerr=[[mean - low], [high - mean]], fmt=marker, capsize=4, color=color, label=label,
                mfc="none" if marker == "o" else color)


def name_dial_figure(table: pd.DataFrame, check: dict | None, base: Path | None, formats: list[str], dpi: int):
    """real-mix − baseline per setting (95 % intervals), settings ordered by the check's img2img prompted-class
    rate (× chance), with Diff-Mix's gain as a band for scale."""
    from matplotlib.figure import Figure
    rows = table[table.comparison.str.endswith("− baseline") & table.comparison.str.startswith("real-mix")]
    settings = [c.split()[1] for c in rows.comparison]
    rate = {s: check["settings"][s]["conditions"]["img2img"]["prompted_x_chance"] for s in settings
            if check and s in check.get("settings", {})}
    order = sorted(range(len(settings)), key=lambda i: -rate.get(settings[i], -i))
    fig = Figure(figsize=(5.6, 3.4))
    ax = fig.subplots()
    for x, i in enumerate(order):
        _interval(ax, x, rows.iloc[i], "C0", label="real-mix − baseline" if x == 0 else None, prefix="")
    diff = table[table.comparison == "diff-mix − baseline"]
    if len(diff):
        d = diff.iloc[0]
        ax.axhspan(d["low"], d["high"], color="C1", alpha=0.15, label=f"diff-mix − baseline ({d['Δ']:+.1f})")
    ax.axhline(0, color="gray", lw=1)
    labels = [f"{settings[i]}\n{rate[settings[i]]:.2f}× chance" if settings[i] in rate else settings[i] for i in order]
    ax.set_xticks(range(len(order)), labels, fontsize=7)
    ax.set_xlabel("class names, by the base model's prompted-class rate (img2img, the check)", fontsize=8)
    ax.set_ylabel("Δ test accuracy (points)")
    ax.set_title("Name dial: real-mix's gain per class-names setting, 95 % intervals over draws", fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, base, formats, dpi)


def _authors_steps() -> pd.DataFrame:
    """The authors' fine-tune-steps ablation on CUB (dev notebook): Diff-Mix − the baseline line, per steps."""
    ref = load_reference()
    rows = ref[ref.experiment == "ablation_finetune_steps"]
    base = float(rows[rows.strategy == "none"].value.iloc[0])
    mix = rows[rows.strategy == "diff-mix"]
    return pd.DataFrame({"steps": mix.x_value.astype(float), "gain": mix.value.astype(float) - base})


def fidelity_dial_figure(table: pd.DataFrame, base: Path | None, formats: list[str], dpi: int,
                         capacity: pd.DataFrame | None = None):
    """Left: each pool's gain over the baseline (95 % interval) against its measured fidelity: noise, the
    q-pools joined by a line (q = 0 Diff-Mix, q = 1 the oracle), the capacity arms (``capacity``: another
    run's rows, e.g. fewer draws) where their fidelity puts them. Right: the authors' ablation."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(8.6, 3.5))
    ax, ref_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
    pools = table[table.kind == "q-pool"].sort_values("q")
    ax.plot(pools["fidelity mean"], pools["vs baseline Δ"], color="C0", lw=1, alpha=0.6)
    for k, (_, r) in enumerate(pools.iterrows()):
        _interval(ax, r["fidelity mean"], r, "C0", label="q-pools (q = share of oracle images)" if r.q == 0 else None)
        ax.annotate(r.arm, (r["fidelity mean"], r["vs baseline Δ"]), textcoords="offset points", fontsize=7,
                    xytext=(6, -12) if k % 2 == 0 else (-6, 8), ha="left" if k % 2 == 0 else "right")
    for _, r in table[table.kind == "noise"].iterrows():
        _interval(ax, r["fidelity mean"], r, "0.4", marker="s", label="noise images")
    extra = pd.concat([t[t.kind == "capacity"] for t in (table, capacity) if t is not None], ignore_index=True)
    for k, (_, r) in enumerate(extra.iterrows()):
        _interval(ax, r["fidelity mean"], r, f"C{2 + k}", marker="^", label=f"{r.arm} ({r.seeds} draws)")
    ax.axhline(0, color="gray", lw=1)
    ax.set_xlabel("measured fidelity: oracle reads the target class (% of pool images)", fontsize=8)
    ax.set_ylabel("Δ test accuracy vs baseline (points)")
    seeds = int(pools.seeds.min()) if len(pools) else 0
    ax.set_title(f"Fidelity dial (toy, 1-shot): 95 % intervals over {seeds} draws", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    steps = _authors_steps()
    ref_ax.plot(steps.steps / 1000, steps.gain, "o-", color="C3")
    ref_ax.axhline(0, color="gray", lw=1)
    ref_ax.set_xlabel("fine-tune steps (thousands)", fontsize=8)
    ref_ax.set_ylabel("Diff-Mix − baseline (points)", fontsize=8)
    ref_ax.set_title("authors' fine-tune-steps ablation, CUB\n(their dev notebook, no intervals)", fontsize=8)
    ref_ax.set_xticks(np.asarray(steps.steps) / 1000)
    ref_ax.grid(alpha=0.3)
    fig.tight_layout()
    return save(fig, base, formats, dpi)
