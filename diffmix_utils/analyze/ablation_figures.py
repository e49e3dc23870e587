"""Ablation and dataset figures: accuracy against a swept key (synthetic size, fine-tune steps, p,
target classes per source), the analytic soft-label curves 1 - s^gamma, the long-tail class
histogram, and synthesis throughput against strength -- the kit's numbers beside the reference's."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .figures import METRIC, save  # noqa: E402

# swept keys drawn as bars (discrete sizes) rather than curves
BAR_KEYS = {"synthesize.multiplier": "synthetic size (x |train|)",
            "train.target_classes_per_source": "target classes per source class"}
CURVE_KEYS = {"finetune.steps": "fine-tuning steps", "p": "synthetic probability p",
              "gamma": "soft-label exponent gamma"}


def swept_keys(table: pd.DataFrame) -> list[str]:
    """Swept keys of a summary table that have an ablation figure and more than one value."""
    synthetic = table[table.strategy != "none"]
    return [k for k in (*BAR_KEYS, *CURVE_KEYS) if k in synthetic and synthetic[k].dropna().nunique() > 1]


def accuracy_vs_key(table: pd.DataFrame, key: str, base: Path, formats: list[str], dpi: int) -> list[Path]:
    """Mean ± std test accuracy against ``key`` per series (variant / strategy); the baseline as a
    dashed line; the reference numbers as hollow markers. Two series with different shot counts
    (the p ablation: all-shot and 5-shot) get twin y axes, as the authors' figure."""
    sns.set_theme(style="whitegrid", context="paper")
    palette = sns.color_palette("tab10")
    data = table.dropna(subset=[key])
    data = data[data.strategy != "none"]
    baseline = table[table.strategy == "none"]
    by_strength = data.strength.nunique() > 1  # e.g. the gamma x s ablation: one series per s

    def label(r) -> str:
        parts = [r.variant if "variant" in r and pd.notna(r.variant) else "", r.strategy,
                 f"s={r.strength:g}" if by_strength and pd.notna(r.strength) else ""]
        return " ".join(str(x) for x in parts if x)
    series = {name: g.sort_values(key) for name, g in data.groupby(data.apply(label, axis=1), sort=True)}
    twin = len(series) == 2 and "shots" in data and data.shots.fillna(0).nunique() == 2
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    axes = [ax, ax.twinx()] if twin else [ax] * max(len(series), 1)
    bars = key in BAR_KEYS
    width = 0.8 / max(len(series), 1)
    for i, (name, g) in enumerate(series.items()):
        a, color = axes[i], palette[i % len(palette)]
        values = sorted(data[key].unique()) if bars else None
        if bars:
            xs = np.array([values.index(v) for v in g[key]]) + (i - (len(series) - 1) / 2) * width
            a.bar(xs, g[METRIC], width, yerr=g[f"{METRIC}_std"].fillna(0), color=color, alpha=0.8,
                  capsize=3, label=f"{name} (kit)")
            a.set_xticks(range(len(values)), [f"{v:g}" for v in values])
        else:
            xs = g[key]
            a.errorbar(xs, g[METRIC], yerr=g[f"{METRIC}_std"].fillna(0), marker="o", capsize=3, color=color,
                       label=f"{name} (kit)")
        ref = g.dropna(subset=["reference_acc"]) if "reference_acc" in g else g.iloc[:0]
        if len(ref):
            rx = xs[g.reference_acc.notna().to_numpy()] if bars else ref[key]
            a.plot(rx, ref.reference_acc, "D", mfc="none", color=color, label=f"{name} (reference)")
        if twin:
            a.set_ylabel(f"{name}: test acc. (%)", color=color)
    names = list(series)
    for _, r in baseline.iterrows():
        variant = r.variant if "variant" in r and pd.notna(r.variant) else None
        j = next((i for i, n in enumerate(names) if variant and n.startswith(str(variant))), 0)
        a = axes[j] if twin else ax  # a variant's baseline goes on its series' axis, in its colour
        a.axhline(r[METRIC], ls="--", color=palette[j] if twin else "gray", lw=1,
                  label="baseline" + (f" ({variant})" if variant else ""))
    if bars and len(data):  # bars start near the data, not at 0: the differences are a point or two
        values = [*data[METRIC], *baseline[METRIC], *data.get("reference_acc", pd.Series(dtype=float)).dropna()]
        ax.set_ylim(min(values) - 1.5, max(values) + 1.0)
    ax.set_xlabel({**BAR_KEYS, **CURVE_KEYS}.get(key, key))
    if not twin:
        ax.set_ylabel("test accuracy (%), epoch chosen on val")
    handles = [h for a in dict.fromkeys(axes) for h in a.get_legend_handles_labels()[0]]
    labels = [lab for a in dict.fromkeys(axes) for lab in a.get_legend_handles_labels()[1]]
    ax.legend(handles, labels, fontsize=7, loc="best", title="mean ± std over seeds", title_fontsize=7)
    ax.set_title(f"{table.dataset.iloc[0]}: accuracy vs {key}", fontsize=9)
    return save(fig, base, formats, dpi)


def gamma_curves(base: Path, formats: list[str], dpi: int, gammas=(0.1, 0.5, 0.8, 1.0, 1.5)) -> list[Path]:
    """Source weight 1 - s^gamma (left axis) and target weight s^gamma against s, per gamma (pure math)."""
    sns.set_theme(style="whitegrid", context="paper")
    s = np.linspace(0, 1, 201)
    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    for g, color in zip(gammas, sns.color_palette("viridis", len(gammas))):
        ax.plot(s, 1 - s ** g, color=color, label=f"γ = {g:g}")
    ax.set_xlabel("translation strength s")
    ax.set_ylabel("source-class weight 1 − s^γ")
    right = ax.twinx()
    right.set_ylim(1, 0)
    right.set_ylabel("target-class weight s^γ")
    right.grid(False)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    ax.set_title("Diff-Mix soft label y = (1 − s^γ)·e_source + s^γ·e_target", fontsize=8)
    return save(fig, base, formats, dpi)


def class_histogram(counts: list[int], classes: list[str], base: Path, formats: list[str], dpi: int,
                    title: str) -> list[Path]:
    """Training images per class, sorted head to tail (the long-tail figure)."""
    sns.set_theme(style="whitegrid", context="paper")
    order = sorted(range(len(counts)), key=lambda c: -counts[c])
    fig, ax = plt.subplots(figsize=(5.2, 3.0))
    ax.bar(range(len(order)), [counts[c] for c in order], width=1.0, color=sns.color_palette("tab10")[0])
    if len(order) <= 16:
        ax.set_xticks(range(len(order)), [classes[c] for c in order], rotation=60, ha="right", fontsize=6)
    else:
        ax.set_xlabel("class (sorted by count)")
    ax.set_ylabel("training images")
    ax.set_title(title, fontsize=9)
    return save(fig, base, formats, dpi)


def throughput_vs_strength(rows: list[dict], reference: pd.DataFrame, base: Path, formats: list[str],
                           dpi: int, device: str) -> list[Path]:
    """Images per hour of each finished pool against s (text-to-image as a dashed line), beside the
    authors' measured images per GPU-hour. ``rows``: {strategy, strength, images_per_second}."""
    sns.set_theme(style="whitegrid", context="paper")
    fig, ax = plt.subplots(figsize=(5, 3.2))
    kit = pd.DataFrame(rows)
    img2img = kit[~kit.strategy.str.endswith("-gen")].groupby("strength").images_per_second.mean()
    ax.plot(img2img.index, img2img.to_numpy() * 3600, "o-", label=f"kit, img2img ({device})")
    for _, r in kit[kit.strategy.str.endswith("-gen")].iterrows():
        ax.axhline(r.images_per_second * 3600, ls="--", color="C0", lw=1, label=f"kit, {r.strategy} ({device})")
    if len(reference):
        mix = reference[reference.strategy == "diff-mix"].sort_values("strength")
        ax.plot(mix.strength, mix.value, "s--", mfc="none", color="C1",
                label="authors, unnamed GPU (dev notebook, incl. their ×2.3)")
    ax.set_yscale("log")
    ax.set_xlabel("translation strength s")
    ax.set_ylabel("images per hour (per device)")
    ax.legend(fontsize=6)
    ax.set_title("synthesis throughput vs strength (fewer denoising steps at small s)", fontsize=8)
    return save(fig, base, formats, dpi)
