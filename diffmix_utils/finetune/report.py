"""What the fine-tune learned, as figures for ``01_finetune``: the training images with their class
names and tokens, the loss curve, and per class real images beside text-to-image generations from
the fine-tuned model (the diff-gen prompt, with what ``finetune.mode`` trained). Each function reads the stage's
artifacts (the split file, ``log.jsonl``, the fine-tune folder) and returns the figure, shown
inline in a notebook (``inline.Inline``).
"""
from __future__ import annotations

import json

import numpy as np
from matplotlib.figure import Figure

from .. import artifacts
from ..data import open_image
from ..inline import Inline
from .stage import TOKEN_TEMPLATE


def _tile(ax, image=None) -> None:
    """One cell of an image grid: the image without ticks, or an empty cell without a frame."""
    if image is not None:
        ax.imshow(image)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_frame_on(image is not None)


def _train_of_class(split: dict, c: int, limit: int) -> list[int]:
    return [i for i in split["train"] if split["items"][i]["label"] == c][:limit]


def training_images(p: dict, per_class: int = 4, max_classes: int = 8):
    """A grid of training images: one row per class, labelled with its name and its token (one shot
    per class: the classes side by side, four to a row)."""
    split = artifacts.open_split(p)
    classes = split["classes"][:max_classes]
    by_class = {c: _train_of_class(split, c, per_class) for c in range(len(classes))}
    per_class = max(1, max(len(v) for v in by_class.values()))  # few-shot: no empty columns
    label = [f"{name}\n{TOKEN_TEMPLATE.format(c)}" for c, name in enumerate(classes)]
    if per_class == 1:
        cols = min(4, len(classes))
        rows = -(-len(classes) // cols)
        fig = Figure(figsize=(2.0 * cols, 2.1 * rows))
        for c, ax in enumerate(fig.subplots(rows, cols, squeeze=False).ravel()):
            _tile(ax, open_image(split, by_class[c][0]) if c < len(classes) else None)
            if c < len(classes):
                ax.set_title(label[c], fontsize=7)
    else:
        fig = Figure(figsize=(1.2 * per_class + 1.6, 1.25 * len(classes)))
        for c, row in enumerate(fig.subplots(len(classes), per_class, squeeze=False)):
            for k, ax in enumerate(row):
                _tile(ax, open_image(split, by_class[c][k]) if k < len(by_class[c]) else None)
            row[0].set_ylabel(label[c], fontsize=7, rotation=0, ha="right", va="center")
    more = len(split["classes"]) - len(classes)
    fig.suptitle(f"training images ({len(split['train'])} in all{f'; {more} more classes' if more > 0 else ''})",
                 fontsize=8)
    fig.tight_layout()
    return Inline(fig)


def loss_curve(p: dict, window: int = 25):
    """The fine-tune's loss per step (``log.jsonl``) and its moving average."""
    folder = artifacts.finetune_dir(p)
    log = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]
    steps, loss = np.array([r["step"] for r in log]), np.array([r["loss"] for r in log])
    fig = Figure(figsize=(5, 2.6))
    ax = fig.subplots()
    ax.plot(steps, loss, lw=0.6, alpha=0.5, label="loss per step")
    if len(loss) >= window:
        ax.plot(steps[window - 1:], np.convolve(loss, np.ones(window) / window, mode="valid"), lw=1.5,
                label=f"moving average ({window} steps)")
    ax.set_xlabel("step")
    ax.set_ylabel("ε-prediction MSE")
    ax.set_title(f"fine-tune ({p['finetune']['mode']}, {len(log)} steps)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return Inline(fig)


def real_vs_generated(p: dict, images: int = 3, max_classes: int = 4):
    """Per class: real training images, then text-to-image generations with what the fine-tune
    trained (tokens and / or LoRA, as ``finetune.mode`` says; the diff-gen prompt)."""
    from ..devices import pick_device
    from ..models.translate import load_strategy_pipeline, render_batch
    from ..strategies import finetuned_generation
    mode = p["finetune"]["mode"]
    strategy = finetuned_generation(mode)
    split = artifacts.open_split(p)
    pipe, with_tokens = load_strategy_pipeline(p, strategy, pick_device(p["device"]))
    classes = split["classes"][:max_classes]
    reals = [_train_of_class(split, c, images) for c in range(len(classes))]
    n_real = max(1, max(len(r) for r in reals))  # few-shot: as many real columns as there are images
    fig = Figure(figsize=(1.2 * (n_real + images) + 1.4, 1.3 * len(classes)))
    axes = fig.subplots(len(classes), n_real + images, squeeze=False)
    for c, row in enumerate(axes):
        tasks = [{"target_class": c, "strength": 1.0, "seed": k, "source_index": -1} for k in range(images)]
        shown = ([open_image(split, i) for i in reals[c]] + [None] * (n_real - len(reals[c]))
                 + list(render_batch(p, split, pipe, strategy, with_tokens, tasks)))
        for ax, image in zip(row, shown):
            _tile(ax, image)
        row[0].set_ylabel(classes[c], fontsize=7, rotation=0, ha="right", va="center")
    axes[0, 0].set_title("real", fontsize=7)
    learned = {"joint": "token + LoRA", "ti_then_lora": "token, then LoRA", "ti_only": "token only",
               "lora_only": "LoRA, class name"}[mode]
    axes[0, n_real].set_title(f"generated ({learned})", fontsize=7)
    fig.suptitle("what the fine-tune learned: real images | text-to-image from the fine-tuned model", fontsize=8)
    fig.tight_layout()
    return Inline(fig)
