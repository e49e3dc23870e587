"""Datasets: the registry of layouts, and the split file every stage reads.

``create_dataset(name, root, cache_dir, data)`` reads one layout (``registry.LAYOUTS``) and returns a
``DatasetIndex`` (root, classes, superclass, items); ``ensure_split`` turns that into the shared
split file, once, after checking the classes and labels and decoding every listed image
(``images``); the file carries a checksum, so one edited by hand is refused when read.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image

from ..atomic import ArtifactError, atomic_write
from . import splits
from .common import DatasetError, DatasetIndex, resolve_options
from .images import read_image, to_rgb, verify_images
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


def check_items(classes: list[str], items: list[dict], where: str) -> None:
    """At least two classes, and every item's label one of them and its split train / val / test."""
    if len(classes) < 2:
        raise DatasetError(f"{where} has {len(classes)} class{'es' if len(classes) != 1 else ''} "
                           f"({', '.join(map(repr, classes)) or 'none'}); classification needs at least two")
    for it in items:
        label = it.get("label")
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < len(classes):
            raise DatasetError(f"{where}: image {it.get('path')!r} has label {label!r}, which is not one of the "
                               f"{len(classes)} classes (0..{len(classes) - 1})")
        if it.get("split") not in ("train", "val", "test"):
            raise DatasetError(f"{where}: image {it.get('path')!r} has split {it.get('split')!r}; "
                               "valid: train, val, test")


def ensure_split(split_path: Path, data: dict, cache_dir: Path) -> dict:
    """Load the split file, writing it first (atomically) if it does not exist yet."""
    split_path = Path(split_path)
    if split_path.is_file():
        return load_split(split_path, data.get("root"))
    ds = create_dataset(data["dataset"], data["root"], cache_dir, data)
    where = f"data.dataset = {data['dataset']!r} at {str(ds.root)!r}"
    check_items(ds.classes, ds.items, where)
    verify_images(ds.root, ds.items, data.get("allow_duplicates", False))
    split = {"dataset": data["dataset"], "root": portable_root(ds.root, split_path, data.get("root")),
             "classes": ds.classes, "superclass": ds.superclass, "data": data, "items": ds.items,
             **splits.make_split(ds.items, ds.classes, data)}
    split["checksum"] = _checksum(split)
    atomic_write(split_path, lambda tmp: tmp.write_text(json.dumps(split)))
    return load_split(split_path, data.get("root"))


def portable_root(root: Path, split_path: Path, data_root: str | None) -> dict:
    """Where the images are, as a split file records it: relative to the store (a dataset the kit
    rendered or unpacked there) or to ``data.root``, resolved again whenever the file is read, so a
    store copied elsewhere or a dataset mounted at another path still reads its images."""
    root, store = Path(root).resolve(), split_path.resolve().parent.parent
    if root.is_relative_to(store):
        return {"in_store": root.relative_to(store).as_posix()}
    if data_root is not None and root.is_relative_to(Path(data_root).expanduser().resolve()):
        return {"under_data_root": root.relative_to(Path(data_root).expanduser().resolve()).as_posix()}
    return {"absolute": str(root)}


def _resolve_root(recorded, split_path: Path, data_root: str | None) -> str:
    """The image folder of a split file, on this machine, now."""
    if isinstance(recorded, str):  # a split file written before 2026-12-05: an absolute path
        old = Path(recorded)
        if old.is_dir() or "store" not in old.parts:
            return str(old if old.is_dir() or data_root is None else Path(data_root).expanduser())
        inside = old.parts[len(old.parts) - old.parts[::-1].index("store"):]  # the part below <...>/store/
        return str(split_path.resolve().parent.parent.joinpath(*inside))
    if "in_store" in recorded:
        return str(split_path.resolve().parent.parent / recorded["in_store"])
    if "under_data_root" in recorded and data_root is not None:
        return str(Path(data_root).expanduser().resolve() / recorded["under_data_root"])
    return recorded.get("absolute", "")


def _checksum(split: dict) -> str:
    body = {k: v for k, v in split.items() if k != "checksum"}
    return hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()


def load_split(split_path: Path, data_root: str | None = None) -> dict:
    """A split file, checked against the checksum written with it (a hand-edited or broken file is
    refused: every stage must see the same images), with ``root`` resolved to this machine's image
    folder (``data_root``: the run's ``data.root``, for a dataset outside the store)."""
    split_path = Path(split_path)
    rebuild = "delete it and rerun to rebuild it (every stage reads this one file)"
    try:
        split = json.loads(split_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"split file {str(split_path)!r} cannot be read ({exc}); {rebuild}") from None
    if not isinstance(split, dict) or split.get("checksum") != _checksum(split):
        raise ArtifactError(f"split file {str(split_path)!r} was changed after the kit wrote it (its checksum "
                            f"does not match); {rebuild}")
    split["recorded_root"] = split["root"]
    split["root"] = _resolve_root(split["root"], split_path, data_root)
    return split


def to_unit_tensor(images: list[Image.Image], size: int | None = None, resample: int = Image.BILINEAR):
    """RGB images -> float tensor (N, 3, H, W) in [-1, 1], resized to ``size`` when given."""
    import torch
    arr = np.stack([np.array(to_rgb(im) if size is None else to_rgb(im).resize((size, size), resample))
                    for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 127.5 - 1


def open_image(split: dict, index: int) -> Image.Image:
    """The RGB image of item ``index`` of a split file."""
    return read_image(Path(split["root"]) / split["items"][index]["path"])


__all__ = ["DATASET_NAMES", "LAYOUTS", "ArtifactError", "DatasetError", "DatasetIndex", "create_dataset",
           "verify_images", "check_items", "ensure_split", "load_split", "open_image", "read_image", "to_rgb",
           "to_unit_tensor",
           "class_counts", "longtail_counts"]
