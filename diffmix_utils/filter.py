"""Filter a synthetic pool: score every image, mark the lowest-scored fraction as not kept.

    python -m diffmix_utils.filter SYNTHESIS_FOLDER --scorer clip [--model openai/clip-vit-base-patch32]
        [--superclass bird] [--fraction 0.1]
    python -m diffmix_utils.filter SYNTHESIS_FOLDER --scorer classifier --model runs/store/train/<key>

Scorers:
- ``clip`` (the reference's filter, spec B.7): a ``CLIPModel`` (hub id read from the local cache,
  or a local folder) compares each image with "a photo with a {super} on it" and "a photo without
  a {super} on it"; the score is the softmax probability of the positive caption.
- ``classifier`` (offline): a classifier the kit trained on the real data (a train stage folder
  with ``last.safetensors`` and ``result.json``); the score is its probability of the image's
  target class.
In the pipeline, ``synthesize.filter`` (clip | classifier) runs it before the pool is marked done;
the classifier is then the run's own baseline (trained on the real data first, and reused by the
train stage). The manifest is rewritten (atomically) with ``score,kept``; images are never deleted, and the
training stage reads only kept rows. Rerunning re-scores and overwrites the marks.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from . import artifacts
from .data import read_image

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
    for chunk in tqdm(list(_batches(rows, batch_size)), desc="CLIP filter"):
        inputs = processor(text=captions, images=[_open(folder, r) for r in chunk], return_tensors="pt", padding=True)
        scores += model(**inputs).logits_per_image.softmax(-1)[:, 0].tolist()
    return scores


@torch.no_grad()
def classifier_scores(folder: Path, rows: list[dict], train_folder: Path, batch_size: int = 64) -> list[float]:
    from .models.classifiers import classifier_transforms, load_trained_classifier
    model, size = load_trained_classifier(train_folder)
    _, tf = classifier_transforms(size)
    scores = []
    for chunk in tqdm(list(_batches(rows, batch_size)), desc="classifier filter"):
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


def filter_pool(folder: Path, scorer: str, model: str, fraction: float = 0.1, superclass: str = "") -> dict:
    folder = Path(folder)
    if not artifacts.is_done(folder):
        raise FileNotFoundError(f"{folder} is not a complete synthesis folder (no done.json)")
    return score_and_mark(folder, artifacts.read_manifest(folder), scorer, model, fraction, superclass)


def score_and_mark(folder: Path, rows: list[dict], scorer: str, model: str, fraction: float,
                   superclass: str) -> dict:
    """Score ``rows`` of ``folder``, write them with ``score,kept`` as its manifest; returns counts."""
    if scorer == "clip":
        scores = clip_scores(folder, rows, model, superclass)
    elif scorer == "classifier":
        scores = classifier_scores(folder, rows, Path(model))
    else:
        raise ValueError(f"scorer = {scorer!r} is not valid; valid: clip, classifier")
    marked = mark(rows, scores, fraction)
    artifacts.write_manifest(folder / "manifest.csv", marked)
    kept = sum(r["kept"] for r in marked)
    return {"images": len(marked), "kept": kept, "dropped": len(marked) - kept,
            "score_threshold": min((r["score"] for r in marked if r["kept"]), default=None)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Score a synthetic pool and mark its lowest-scored images.")
    ap.add_argument("folder", type=Path)
    ap.add_argument("--scorer", choices=("clip", "classifier"), default="clip")
    ap.add_argument("--model", default="openai/clip-vit-base-patch32",
                    help="CLIP hub id or folder; for --scorer classifier, a train stage folder")
    ap.add_argument("--superclass", default="", help="super-category in the CLIP captions (bird, flower, ...)")
    ap.add_argument("--fraction", type=float, default=0.1, help="lowest-scored fraction marked not kept")
    a = ap.parse_args(argv)
    try:
        print(json.dumps(filter_pool(a.folder, a.scorer, a.model, a.fraction, a.superclass)))
    except (FileNotFoundError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
