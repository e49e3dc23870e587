"""Datasets: a registry of layouts, and the split file every stage reads.

``create_dataset(name, root, **options)`` returns ``(root, classes, superclass, items)`` where
items are ``{path (relative to root), label, split}`` dicts; ``ensure_split`` turns that into the
shared split file. New layouts register a reader in ``DATASETS``.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

from ..atomic import atomic_write
from . import imagefolder, splits, toybirds
from .splits import class_counts, longtail_counts


def _toybirds(root: str | None, cache_dir: Path, data: dict) -> tuple[Path, list[str], str, list[dict]]:
    opts = {k: data[k] for k in ("num_classes", "image_size", "train_per_class", "test_per_class",
                                 "background_match")}
    key = hashlib.sha1(json.dumps([toybirds.RENDER_VERSION, opts], sort_keys=True).encode()).hexdigest()[:10]
    folder = Path(root) if root else Path(cache_dir) / f"toybirds-{key}"
    toybirds.ensure_rendered(folder, opts["num_classes"], opts["train_per_class"],
                             opts["test_per_class"], opts["image_size"], opts["background_match"])
    meta = toybirds.read_metadata(folder)
    items = [{"path": m["path"], "label": int(m["label"]), "split": m["split"],
              "background": m["background"], "background_family": m["background_family"],
              "group": f"{m['group']}bird/{m['background_family']}"}
             for m in meta if int(m["label"]) < opts["num_classes"]]
    classes = [toybirds.class_name(c) for c in range(opts["num_classes"])]
    return folder, classes, toybirds.SUPERCLASS, items


def _imagefolder(root: str | None, cache_dir: Path, data: dict) -> tuple[Path, list[str], str, list[dict]]:
    folder = Path(root).expanduser()
    names, items = imagefolder.read_imagefolder(folder)
    classes = [n.split(".", 1)[-1].replace("_", " ").strip() for n in names]
    return folder, classes, "object", items


DATASETS: dict[str, Callable] = {"toybirds": _toybirds, "imagefolder": _imagefolder}


def create_dataset(name: str, root: str | None, cache_dir: Path, data: dict):
    """Read (rendering first, for toybirds) a dataset; returns (root, classes, superclass, items)."""
    if name not in DATASETS:
        raise ValueError(f"data.dataset = {name!r} is not registered; choose one of: {', '.join(DATASETS)}")
    return DATASETS[name](root, cache_dir, data)


def ensure_split(split_path: Path, data: dict, cache_dir: Path) -> dict:
    """Load the split file, writing it first (atomically) if it does not exist yet."""
    split_path = Path(split_path)
    if split_path.is_file():
        return load_split(split_path)
    root, classes, superclass, items = create_dataset(data["dataset"], data["root"], cache_dir, data)
    split = {"dataset": data["dataset"], "root": str(Path(root).resolve()), "classes": classes,
             "superclass": superclass, "data": data, "items": items,
             **splits.make_split(items, len(classes), data)}
    atomic_write(split_path, lambda tmp: tmp.write_text(json.dumps(split)))
    return split


def load_split(split_path: Path) -> dict:
    return json.loads(Path(split_path).read_text())


def to_unit_tensor(images: list[Image.Image], size: int | None = None,
                   resample: int = Image.BILINEAR) -> torch.Tensor:
    """RGB images -> float tensor (N, 3, H, W) in [-1, 1], resized to ``size`` when given."""
    arr = np.stack([np.array(im.convert("RGB") if size is None
                             else im.convert("RGB").resize((size, size), resample)) for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 127.5 - 1


def open_image(split: dict, index: int) -> Image.Image:
    """The RGB image of item ``index`` of a split file."""
    with Image.open(Path(split["root"]) / split["items"][index]["path"]) as img:
        return img.convert("RGB")


__all__ = ["DATASETS", "create_dataset", "ensure_split", "load_split", "open_image", "to_unit_tensor",
           "class_counts", "longtail_counts"]
