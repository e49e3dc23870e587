"""CUB-200-2011 in its official layout (``CUB_200_2011/``), official train/test split.

    images/NNN.Class_Name/*.jpg   images.txt (id path)   image_class_labels.txt (id class, 1-based)
    train_test_split.txt (id is_train)   classes.txt (id NNN.Class_Name)   [bounding_boxes.txt]

``data.root`` may be the ``CUB_200_2011`` folder or the folder that holds it.
"""
from __future__ import annotations

from pathlib import Path

from .common import DatasetError, check_label, clean_name, read_rows, require_dir, to_int

SOURCE = "https://www.vision.caltech.edu/datasets/cub_200_2011/ (CUB_200_2011.tgz)"


def find_root(root: Path) -> Path:
    root = require_dir(root, "CUB-200-2011 data.root")
    return root / "CUB_200_2011" if (root / "CUB_200_2011" / "images.txt").is_file() else root


def read_classes(root: Path) -> list[str]:
    rows = read_rows(root / "classes.txt", "CUB-200-2011 class list", 2)
    return [name for _, name in sorted(rows, key=lambda r: to_int(r[0], str(root / "classes.txt")))]


def read(root: Path, data: dict, cache_dir: Path):
    root = find_root(Path(root))
    require_dir(root / "images", "CUB-200-2011 images")
    folders = read_classes(root)
    paths = {i: p for i, p in read_rows(root / "images.txt", "CUB-200-2011 image list", 2)}
    labels = {i: c for i, c in read_rows(root / "image_class_labels.txt", "CUB-200-2011 labels", 2)}
    is_train = {i: t for i, t in read_rows(root / "train_test_split.txt", "CUB-200-2011 split", 2)}
    items = []
    for image_id, rel in paths.items():
        where = f"{root / 'image_class_labels.txt'} (image id {image_id})"
        if image_id not in labels or image_id not in is_train:
            raise DatasetError(f"{where}: image id {image_id} of images.txt has no label or split entry")
        label = check_label(to_int(labels[image_id], where) - 1, len(folders), where)
        items.append({"path": f"images/{rel}", "label": label,
                      "split": "train" if is_train[image_id] == "1" else "test"})
    return root, [clean_name(f) for f in folders], items
