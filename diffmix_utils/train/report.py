"""How training went, as tables and figures for ``03_train``: per member the learning curves
(training loss and validation accuracy per epoch), the member table with the validation-selected
test accuracy, and per-class test accuracy of every member at its selected epoch. Each function
reads the stage's artifacts (``metrics.jsonl``, ``result.json``) and returns a table (pandas) or a
figure shown inline (``inline.Inline``).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import artifacts, jobs, progress
from ..inline import Inline


def label(m: dict) -> str:
    """A member's short name, as the runner's progress lines give it (the baseline named shortly)."""
    return progress.describe(m, baseline="baseline")


def _members(p: dict) -> list[tuple[dict, object]]:
    """(member, train folder) of every classifier of ``p`` that has at least one finished epoch."""
    folders = [(m, artifacts.train_dir(m)) for m in jobs.stage_jobs(p, "train")]
    return [(m, f) for m, f in folders if (f / "metrics.jsonl").is_file()]


def _metrics(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]


def learning_curves(p: dict):
    """Training loss (left) and validation accuracy (right) per epoch, one line per member: colour
    by strategy and strength, line style by seed; a dot marks the epoch chosen on validation."""
    members = _members(p)
    if not members:
        return "no classifier has finished an epoch yet: run the training steps above"
    kinds = sorted({label(m).rsplit(" · ", 1)[0] for m, _ in members})
    seeds = sorted({m["seed"] for m, _ in members})
    fig = Figure(figsize=(9, 3.2))
    loss_ax, val_ax = fig.subplots(1, 2)
    import matplotlib
    colors = matplotlib.colormaps["tab10"]
    for m, folder in members:
        rows = _metrics(folder)
        epochs = [r["epoch"] for r in rows]
        kind = label(m).rsplit(" · ", 1)[0]
        style = dict(color=colors(kinds.index(kind) % 10), ls=["-", "--", ":", "-."][seeds.index(m["seed"]) % 4], lw=1.2)
        loss_ax.plot(epochs, [r["train_loss"] for r in rows], **style)
        evaluated = [r for r in rows if "val_acc" in r]  # every epoch, or every train.eval_every
        if evaluated:
            val = [100 * r["val_acc"] for r in evaluated]
            val_ax.plot([r["epoch"] for r in evaluated], val, **style, label=label(m))
            best = max(range(len(val)), key=lambda i: (val[i], -i))  # the selection rule of result.json
            val_ax.plot(evaluated[best]["epoch"], val[best], "o", color=style["color"], ms=4)
    loss_ax.set(xlabel="epoch", ylabel="training loss (soft-label cross-entropy)", title="training loss")
    val_ax.set(xlabel="epoch", ylabel="validation accuracy (%)", title="validation accuracy (● = chosen epoch)")
    for ax in (loss_ax, val_ax):
        ax.grid(alpha=0.3)
        ax.title.set_fontsize(9)
    if val_ax.lines:
        val_ax.legend(fontsize=6, loc="lower right", ncol=1 + len(members) // 8)
    fig.tight_layout()
    return Inline(fig)


def member_table(p: dict) -> pd.DataFrame:
    """One row per classifier: what it trained on, the epoch chosen on validation and the test
    accuracy there (the honest figure), the final and best-on-test accuracy (the paper protocol)."""
    rows = []
    for m, folder in _members(p):
        rows.append({"member": label(m), "p": m["train"]["p"], "epochs": len(_metrics(folder)),
                     "finished": artifacts.is_done(folder)})
        if (folder / "result.json").is_file():
            r = artifacts.read_json(folder / "result.json")
            pct = (lambda v: None if v is None else round(100 * v, 1))
            rows[-1].update({"synthetic images": r["num_synthetic"], "chosen epoch": r["best_epoch"],
                             "val acc %": pct(r["val_acc"]), "test acc % (chosen on val)": pct(r["test_acc_at_best_val"]),
                             "test acc % (final)": pct(r["test_acc_final"]),
                             "test acc % (best on test)": pct(r["test_acc_best"])})
        rows[-1]["folder"] = folder.name
    if not rows:
        return pd.DataFrame({"note": ["no classifier has finished an epoch yet"]})
    return pd.DataFrame(rows).set_index("member")


def per_class_accuracy(p: dict):
    """Heatmap of test accuracy per class (columns) and member (rows) at each member's chosen epoch:
    which classes the synthetic data helps or hurts."""
    split = artifacts.open_split(p)
    names, grid = [], []
    for m, folder in _members(p):
        if (folder / "result.json").is_file():
            accs = artifacts.read_json(folder / "result.json").get("test_class_acc_at_best_val")
            if accs:
                names.append(label(m))
                grid.append([np.nan if a is None else 100 * a for a in accs])
    if not grid:
        return "no finished classifier recorded per-class accuracy (runs trained before it was kept: retrain)"
    import seaborn as sns
    classes = split["classes"]
    n = len(classes)
    fig = Figure(figsize=(min(2.5 + 0.55 * n, 14), 0.9 + 0.3 * len(names)))
    ax = fig.subplots()
    sns.heatmap(np.array(grid), annot=n <= 16, fmt=".0f", cmap="RdYlGn", vmin=0, vmax=100, ax=ax,
                xticklabels=classes if n <= 40 else False, yticklabels=names, annot_kws={"fontsize": 6},
                cbar_kws={"label": "test accuracy (%)"})
    ax.tick_params(labelsize=6)
    ax.set_title("per-class test accuracy at the epoch chosen on validation", fontsize=8)
    fig.tight_layout()
    return Inline(fig)
