"""Static figures (matplotlib/seaborn), saved as PNG for looking and PDF for papers."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from ..data import open_image  # noqa: E402
from ..pool_figures import filter_grid, save, translation_grid  # noqa: E402,F401  (shared with 02/03's reports)

METRIC = "test_acc_at_best_val"
GEN_STRATEGIES = {"diff-gen", "real-gen"}


def accuracy_vs_strength(table: pd.DataFrame, base: Path, formats: list[str], dpi: int) -> list[Path]:
    """Test accuracy (epoch chosen on val) against strength s per strategy; baseline and *-gen as
    horizontal lines; the reference numbers, where they exist, as hollow markers. Below, where the
    table has paired differences (``paired``): each strategy's difference from its baseline with its
    95 % interval over seeds, against a zero line."""
    sns.set_theme(style="whitegrid", context="paper")
    paired = "diff_vs_baseline" in table and table["diff_vs_baseline"].notna().any()
    if paired:
        fig, (ax, dax) = plt.subplots(2, 1, figsize=(5, 5.6), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    else:
        fig, ax = plt.subplots(figsize=(5, 3.4))
    palette = sns.color_palette("tab10")
    curves = table[~table.strategy.isin(GEN_STRATEGIES | {"none"})]
    for i, (name, g) in enumerate(curves.groupby("strategy")):
        g = g.sort_values("strength")
        ax.errorbar(g.strength, g[METRIC], yerr=g[f"{METRIC}_std"].fillna(0), marker="o", capsize=3,
                    color=palette[i], label=f"{name} (kit)")
        ref = g.dropna(subset=["reference_acc"])
        if len(ref):
            ax.plot(ref.strength, ref.reference_acc, "o--", mfc="none", color=palette[i],
                    label=f"{name} (reference)")
        if paired:
            _paired_errorbar(dax, g, palette[i], name)
    for j, (_, r) in enumerate(table[table.strategy.isin(GEN_STRATEGIES | {"none"})].iterrows()):
        label = "baseline (real only)" if r.strategy == "none" else r.strategy
        color = "gray" if r.strategy == "none" else palette[-1 - j]
        ax.axhline(r[METRIC], ls="--", color=color, label=label)
        std = 0 if pd.isna(r[f"{METRIC}_std"]) else r[f"{METRIC}_std"]
        ax.axhspan(r[METRIC] - std, r[METRIC] + std, color=color, alpha=0.12, lw=0)
        if paired and r.strategy != "none" and not pd.isna(r.get("diff_vs_baseline")):
            dax.axhline(r["diff_vs_baseline"], ls="--", color=color, label=label)
    ax.set_ylabel("test accuracy (%), epoch chosen on val")
    ax.set_xlim(0, 1.05)
    ax.legend(fontsize=7, loc="best", title="mean ± std over seeds", title_fontsize=7)
    ax.set_title(f"{table.dataset.iloc[0]}: accuracy vs strength", fontsize=9)
    if paired:
        dax.axhline(0, color="gray", lw=1)
        dax.set_ylabel("Δ vs baseline (points)")
        dax.set_xlabel("translation strength s")
        dax.set_title("paired difference from the baseline, 95 % interval over seeds "
                      "(an interval across 0: no difference detected)", fontsize=7)
    else:
        ax.set_xlabel("translation strength s")
    return save(fig, base, formats, dpi)


def _paired_errorbar(ax, g: pd.DataFrame, color, name: str) -> None:
    """Mean paired difference with its 95 % interval (filled where the interval leaves out zero)."""
    low, high = g["diff_ci95_low"], g["diff_ci95_high"]
    yerr = [(g["diff_vs_baseline"] - low).fillna(0).clip(lower=0), (high - g["diff_vs_baseline"]).fillna(0).clip(lower=0)]
    ax.errorbar(g.strength, g["diff_vs_baseline"], yerr=yerr, marker="o", capsize=3, color=color, label=name, mfc="none")
    clear = g[(low > 0) | (high < 0)]
    ax.plot(clear.strength, clear["diff_vs_baseline"], "o", color=color)


PROGRESSIVE_STRENGTHS = (0.1, 0.3, 0.5, 0.7, 0.9, 1.0)


def progressive_translation(p: dict, base: Path, formats: list[str], dpi: int, sources: int = 4) -> list[Path]:
    """One row per source image (distinct classes, held-out test split), translated toward the next
    class at s = 0.1 ... 1.0 with the run's img2img strategy, made on demand (the paper's Fig. 1)."""
    from ..models.translate import Translator
    translator = Translator(p)
    split, strategy = translator.split, p["synthesize"]["strategy"]
    picked, seen = [], set()
    for i in split["test"]:
        label = split["items"][i]["label"]
        if label not in seen:
            seen.add(label)
            picked.append(i)
        if len(picked) == sources:
            break
    classes = len(split["classes"])
    # img2img runs int(steps * s) denoising steps: strengths that would run none are left out
    strengths = [s for s in PROGRESSIVE_STRENGTHS if int(p["synthesize"]["steps"] * s) >= 1]
    fig, axes = plt.subplots(len(picked), 1 + len(strengths),
                             figsize=(1.3 * (1 + len(strengths)), 1.4 * len(picked)), squeeze=False)
    for r, i in enumerate(picked):
        source_class = split["items"][i]["label"]
        target = (source_class + 1) % classes
        axes[r, 0].imshow(open_image(split, i))
        axes[r, 0].set_ylabel(f"{source_class}→{target}", fontsize=7)
        for c, s in enumerate(strengths, 1):
            axes[r, c].imshow(translator.translate(i, target, s, strategy, seed=r)[1])
            if r == 0:
                axes[r, c].set_title(f"s={s:g}", fontsize=7)
    axes[0, 0].set_title("source", fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{strategy}: progressive translation toward the next class", fontsize=8)
    return save(fig, base, formats, dpi)
