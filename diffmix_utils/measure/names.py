"""Can the base model draw a class from its name? The first, text-to-image-only check behind
``data.class_names: misleading`` (then called opaque); ``name_check`` is the name dial's full check.

Text-to-image with the base model (the real-gen prompt, "a photo of a <name> bird"), ``per_class``
images per class, scored by the toybirds foreground oracle (``oracles``): the rate at which an image
shows the class it was prompted with, once with the dataset's names and once with the opaque ones.
Far above chance with the dataset's names and at chance with the opaque ones is the regime split the
toy reproduction relies on (docs/toy-reproduction.md). No fine-tune and no classifier are needed.
"""
from __future__ import annotations

import copy

import numpy as np

from .. import artifacts
from ..data.class_names import CHECKED, UNINFORMATIVE_FILE, prompt_classes
from ..devices import pick_device
from ..models.translate import load_strategy_pipeline, render_batch
from ..strategies import get_strategy
from .oracles import load_or_train_oracle

SETTINGS = ("dataset", "partial", "uninformative", "misleading")  # partial, uninformative: once their words are chosen


def name_fidelity(p: dict, per_class: int = 12, batch_size: int = 24, seed: int = 0) -> dict:
    """{"chance", "rows": [{"class_names", "example", "prompted_class_rate"}, ...]} for the base model of ``p``."""
    if p["data"]["dataset"] != "toybirds":
        raise ValueError(f"data.dataset = {p['data']['dataset']!r}: the oracle that scores the images knows "
                         "toybirds only")
    split = artifacts.open_split(p)
    classes = len(split["classes"])
    oracle = load_or_train_oracle(artifacts.store(p) / "oracles", classes, p["data"]["image_size"])
    real_gen = get_strategy("real-gen")
    pipe, _ = load_strategy_pipeline(p, real_gen, pick_device(p["device"]))
    wanted = [c for c in range(classes) for _ in range(per_class)]
    tasks = [{"target_class": c, "source_index": -1, "strength": 1.0, "seed": seed * 7919 + k}
             for k, c in enumerate(wanted)]
    out = {"chance": 1 / classes, "per_class": per_class, "rows": []}
    for mode in [s for s in SETTINGS if s not in CHECKED or UNINFORMATIVE_FILE.is_file()]:
        q = copy.deepcopy(p)
        q["data"]["class_names"] = mode
        images = [im for b in range(0, len(tasks), batch_size)
                  for im in render_batch(q, split, pipe, real_gen, False, tasks[b:b + batch_size])]
        pred, _ = oracle.predict(images)
        out["rows"].append({"class_names": mode, "example": prompt_classes(q["data"], split["classes"])[0],
                            "prompted_class_rate": float(np.mean([a == c for a, c in zip(pred, wanted)]))})
    return out


def format_names_report(r: dict) -> str:
    lines = [f"chance = {r['chance']:.3f}; {r['per_class']} base-model images per class (real-gen prompt)", "",
             "| class names | e.g. | prompted-class rate (oracle) | x chance |", "|---|---|---|---|"]
    lines += [f"| {row['class_names']} | {row['example']} | {row['prompted_class_rate']:.3f} | "
              f"{row['prompted_class_rate'] / r['chance']:.2f} |" for row in r["rows"]]
    return "\n".join(lines)
