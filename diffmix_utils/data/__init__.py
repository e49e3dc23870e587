"""Datasets: the registry of layouts, and the split file every stage reads.

``create_dataset(name, root, cache_dir, data)`` reads one layout (``registry.LAYOUTS``) and returns a
``DatasetIndex`` (root, classes, superclass, items); ``ensure_split`` turns that into the shared
split file, once, after checking that every listed image exists and opens.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..atomic import atomic_write
from . import splits
from .common import DatasetError, DatasetIndex, resolve_options
from .registry import DATASET_NAMES, LAYOUTS
from .splits import class_counts, longtail_counts


def _root_or_download(name: str, root: str | None, data: dict) -> Path | None:
    layout = LAYOUTS[name]
    if name == "toybirds":
        return Path(root).expanduser() if root else None
    if not root:
        raise DatasetError(f"data.root is not set for data.dataset = {name!r}; it must be the folder "
                           f"holding {layout.layout} (from {layout.source})")
    folder = Path(root).expanduser()
    if data.get("download"):
        if layout.download is None:
            raise DatasetError(f"data.download = true, but {name!r} cannot be downloaded by the kit; "
                               f"get it from {layout.source} and unpack it into {folder}")
        folder.mkdir(parents=True, exist_ok=True)
        return layout.download(folder, data)
    if not folder.is_dir():
        hint = " (or set data.download: true)" if layout.download else ""
        raise DatasetError(f"data.root = {str(folder)!r} does not exist; {name!r} expects {layout.layout}, "
                           f"from {layout.source}{hint}")
    return folder


def create_dataset(name: str, root: str | None, cache_dir: Path, data: dict) -> DatasetIndex:
    """Read (rendering first, for toybirds) a dataset in its official layout."""
    if name not in LAYOUTS:
        raise ValueError(f"data.dataset = {name!r} is not registered; choose one of: {', '.join(LAYOUTS)}")
    layout = LAYOUTS[name]
    data = {**data, "options": resolve_options(name, layout, data.get("options"))}
    folder, classes, items = layout.read(_root_or_download(name, root, data), data, Path(cache_dir))
    superclass = data["options"].get("superclass", layout.superclass)
    return DatasetIndex(Path(folder), classes, superclass, items)


def verify_images(root: Path, items: list[dict]) -> None:
    """Every listed image exists and PIL can read its header; else one error naming the file."""
    from tqdm.auto import tqdm
    for it in tqdm(items, desc="checking images", leave=False, disable=len(items) < 2000):
        path = Path(root) / it["path"]
        if not path.is_file():
            raise DatasetError(f"image {str(path)!r} is listed by the dataset's index but does not exist")
        try:
            with Image.open(path) as img:
                img.size
        except (UnidentifiedImageError, OSError) as exc:
            raise DatasetError(f"image {str(path)!r} cannot be read ({exc})") from None


def ensure_split(split_path: Path, data: dict, cache_dir: Path) -> dict:
    """Load the split file, writing it first (atomically) if it does not exist yet."""
    split_path = Path(split_path)
    if split_path.is_file():
        return load_split(split_path)
    ds = create_dataset(data["dataset"], data["root"], cache_dir, data)
    verify_images(ds.root, ds.items)
    split = {"dataset": data["dataset"], "root": str(ds.root.resolve()), "classes": ds.classes,
             "superclass": ds.superclass, "data": data, "items": ds.items,
             **splits.make_split(ds.items, ds.classes, data)}
    atomic_write(split_path, lambda tmp: tmp.write_text(json.dumps(split)))
    return split


def load_split(split_path: Path) -> dict:
    return json.loads(Path(split_path).read_text())


def to_unit_tensor(images: list[Image.Image], size: int | None = None, resample: int = Image.BILINEAR):
    """RGB images -> float tensor (N, 3, H, W) in [-1, 1], resized to ``size`` when given."""
    import torch
    arr = np.stack([np.array(im.convert("RGB") if size is None
                             else im.convert("RGB").resize((size, size), resample)) for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 127.5 - 1


def read_image(path: Path | str) -> Image.Image:
    """An RGB image from disk, or one ``DatasetError`` naming the file."""
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetError(f"image {str(path)!r} cannot be read ({exc})") from None


def open_image(split: dict, index: int) -> Image.Image:
    """The RGB image of item ``index`` of a split file."""
    return read_image(Path(split["root"]) / split["items"][index]["path"])


__all__ = ["DATASET_NAMES", "LAYOUTS", "DatasetError", "DatasetIndex", "create_dataset", "verify_images",
           "ensure_split", "load_split", "open_image", "read_image", "to_unit_tensor",
           "class_counts", "longtail_counts"]
