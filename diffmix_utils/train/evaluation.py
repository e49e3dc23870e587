"""Classifier evaluation: accuracy, per-group and worst-group accuracy (Waterbirds), many / medium /
few-shot accuracy (long tail), and the honest summary of a run's epochs.

Groups come from the split file's items (``group``: e.g. ``waterbird/land``). Shot buckets use the
training count n_c of each class: many ``n > hi``, medium ``lo <= n <= hi``, few ``n < lo``; the
reference's thresholds are (hi, lo) = (20, 5) for CUB and (30, 10) for Flowers (docs/method.md §C.3).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

REFERENCE_SHOT_THRESHOLDS = {"flowers": (30, 10)}
DEFAULT_SHOT_THRESHOLDS = (20, 5)


@torch.no_grad()
def predict(model, loader, device: str) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class, true class) for every item of an evaluation loader, in order."""
    model.eval()
    preds, labels = [], []
    for x, y, *_ in loader:
        preds.append(model(x.to(device)).argmax(1).cpu())
        labels.append(y.argmax(1))
    return torch.cat(preds).numpy(), torch.cat(labels).numpy()


def shot_thresholds(data: dict, override: list | None) -> tuple[float, float] | None:
    """(hi, lo) for a long-tail split (``data.imbalance`` set), else None."""
    if override:
        return float(override[0]), float(override[1])
    if data.get("imbalance") is None:
        return None
    return REFERENCE_SHOT_THRESHOLDS.get(data["dataset"], DEFAULT_SHOT_THRESHOLDS)


def breakdown(pred: np.ndarray, labels: np.ndarray, items: list[dict], train_counts: list[int] | None = None,
              thresholds: tuple[float, float] | None = None) -> dict:
    """{"acc", "class_acc" (per class, None for a class without items), and where the data allow:
    "group_acc", "worst_group_acc", "many/medium/few_acc"}."""
    correct = pred == labels
    out = {"acc": float(correct.mean()) if len(correct) else 0.0}
    classes = len(train_counts) if train_counts else int(labels.max(initial=-1)) + 1
    out["class_acc"] = [round(float(correct[labels == c].mean()), 5) if (labels == c).any() else None
                        for c in range(classes)]
    groups = [it.get("group") for it in items]
    if all(g is not None for g in groups) and groups:
        by = defaultdict(list)
        for g, ok in zip(groups, correct):
            by[g].append(ok)
        out["group_acc"] = {g: round(float(np.mean(v)), 5) for g, v in sorted(by.items())}
        out["worst_group_acc"] = min(out["group_acc"].values())
    if thresholds and train_counts:
        hi, lo = thresholds
        bucket = ["many" if n > hi else "few" if n < lo else "medium" for n in train_counts]
        for name in ("many", "medium", "few"):
            hits = [ok for lab, ok in zip(labels, correct) if bucket[lab] == name]
            out[f"{name}_acc"] = round(float(np.mean(hits)), 5) if hits else None
        out["shot_classes"] = {name: bucket.count(name) for name in ("many", "medium", "few")}
    return out


def summarize(metrics: list[dict]) -> dict:
    """Honest (epoch chosen on val) and paper-protocol (best on test) figures from the epoch log."""
    evaluated = [i for i, m in enumerate(metrics) if "test_acc" in m or "val_acc" in m]  # train.eval_every
    has_val = any("val_acc" in metrics[i] for i in evaluated)
    best = max(evaluated, key=lambda i: (metrics[i]["val_acc"] if has_val else 0, -i))
    chosen = metrics[best]
    out = {"val_acc": chosen.get("val_acc"), "best_epoch": chosen["epoch"],
           "test_acc_at_best_val": chosen.get("test_acc") if has_val else None,
           "test_acc_final": metrics[-1].get("test_acc"),
           "test_acc_best": max(metrics[i].get("test_acc", 0) for i in evaluated),
           "test_acc_best_note": "paper protocol: best test accuracy over epochs (selected on test)"}
    for key in ("test_worst_group_acc", "test_group_acc", "test_many_acc", "test_medium_acc", "test_few_acc",
                "test_class_acc"):
        if key in chosen:
            out[f"{key}_at_best_val" if has_val else key] = chosen[key]
    return out
