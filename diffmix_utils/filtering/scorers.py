"""The filter's scorers: a score per synthetic image, and the lowest-scored fraction marked not kept.

Scorers:
- ``clip`` (the reference's filter, docs/method.md §B.7): a ``CLIPModel`` (hub id read from the local cache,
  or a local folder) compares each image with "a photo with a {super} on it" and "a photo without
  a {super} on it"; the score is the softmax probability of the positive caption.
- ``classifier`` (offline): a classifier the kit trained on the real data (a train stage folder
  with ``last.safetensors`` and ``result.json``); the score is its probability of the image's
  target class.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from ..progress import bar

from ..data import read_image

CAPTIONS = ("a photo with a {} on it", "a photo without a {} on it")


def _batches(rows: list[dict], size: int):
    for b in range(0, len(rows), size):
        yield rows[b:b + size]


def _open(folder: Path, row: dict) -> Image.Image:
    return read_image(folder / row["path"])


@torch.no_grad()
def clip_scores(folder: Path, rows: list[dict], model_id: str, superclass: str, batch_size: int = 32) -> list[float]:
    from transformers import CLIPModel, CLIPProcessor
    model = CLIPModel.from_pretrained(model_id, local_files_only=True).eval()
    processor = CLIPProcessor.from_pretrained(model_id, local_files_only=True)
    captions = [c.format(superclass or "object") for c in CAPTIONS]
    scores = []
    for chunk in bar(list(_batches(rows, batch_size)), desc="CLIP filter", unit="batch"):
        inputs = processor(text=captions, images=[_open(folder, r) for r in chunk], return_tensors="pt", padding=True)
        scores += model(**inputs).logits_per_image.softmax(-1)[:, 0].tolist()
    return scores


@torch.no_grad()
def classifier_scores(folder: Path, rows: list[dict], train_folder: Path, batch_size: int = 64) -> list[float]:
    from ..models.classifiers import classifier_transforms, load_trained_classifier
    model, size = load_trained_classifier(train_folder)
    _, tf = classifier_transforms(size)
    scores = []
    for chunk in bar(list(_batches(rows, batch_size)), desc="classifier filter", unit="batch"):
        probs = model(torch.stack([tf(_open(folder, r)) for r in chunk])).softmax(-1)
        scores += [float(probs[i, r["target_class"]]) for i, r in enumerate(chunk)]
    return scores


def mark(rows: list[dict], scores: list[float], fraction: float) -> list[dict]:
    """Rows with ``score`` and ``kept`` (0 for the lowest ``fraction``, ties broken by task)."""
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction = {fraction} is out of range; valid: 0 <= fraction < 1")
    order = sorted(range(len(rows)), key=lambda i: (scores[i], rows[i]["task"]))
    dropped = set(order[:int(np.floor(fraction * len(rows)))])
    return [{**r, "score": round(float(s), 6), "kept": int(i not in dropped)}
            for i, (r, s) in enumerate(zip(rows, scores))]


def score(folder: Path, rows: list[dict], scorer: str, model: str, superclass: str) -> list[float]:
    """Scores of ``rows`` (manifest rows of the pool ``folder``) by ``scorer``: clip or classifier."""
    if scorer == "clip":
        return clip_scores(folder, rows, model, superclass)
    if scorer == "classifier":
        return classifier_scores(folder, rows, Path(model))
    raise ValueError(f"scorer = {scorer!r} is not valid; valid: clip, classifier")
