"""Any ImageFolder on disk: ``<root>/train/<class>/*`` and ``<root>/test/<class>/*``.

Class ids follow the sorted folder names of ``train/``; a ``test/`` class that is not in
``train/`` is an error (its label would be undefined).
"""
from __future__ import annotations

from pathlib import Path

from .common import DatasetError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"}


def _class_folders(split_dir: Path) -> list[str]:
    return sorted(d.name for d in split_dir.iterdir() if d.is_dir() and not d.name.startswith("."))


def read_imagefolder(root: Path) -> tuple[list[str], list[dict]]:
    """Returns (class folder names, items) with items ``{path (relative), label, split}``."""
    root = Path(root).expanduser()
    for split in ("train", "test"):
        if not (root / split).is_dir():
            raise DatasetError(f"data.root = {str(root)!r} has no '{split}/' folder; an "
                                    "ImageFolder dataset needs train/<class>/*.jpg and test/<class>/*.jpg")
    classes = _class_folders(root / "train")
    index = {c: i for i, c in enumerate(classes)}
    items = []
    for split in ("train", "test"):
        for cls in _class_folders(root / split):
            if cls not in index:
                raise DatasetError(f"test class folder {cls!r} in {root / split} is not among the "
                                 f"train classes: {', '.join(classes)}")
            for f in sorted((root / split / cls).iterdir()):
                if f.suffix.lower() in IMAGE_SUFFIXES:
                    items.append({"path": str(f.relative_to(root)), "label": index[cls], "split": split})
    return classes, items
