"""Stanford Dogs (120 classes) in its official layout, official train/test lists.

    Images/nXXXXXXXX-Breed_Name/*.jpg   lists/train_list.mat   lists/test_list.mat

Each list holds ``file_list`` (paths relative to ``Images/``) and ``labels`` (1-based). The class
name is the breed part of the image folder ('n02085620-Chihuahua' -> 'Chihuahua').
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import DatasetError, clean_name, load_mat, mat_key, require_dir

SOURCE = "http://vision.stanford.edu/aditya86/ImageNetDogs/ (images.tar, lists.tar)"


def read(root: Path, data: dict, cache_dir: Path):
    root = require_dir(Path(root), "Stanford Dogs data.root")
    require_dir(root / "Images", "Stanford Dogs images")
    folder_of: dict[int, str] = {}
    raw = []
    for split in ("train", "test"):
        path = root / "lists" / f"{split}_list.mat"
        mat = load_mat(path, "Stanford Dogs split list")
        files = np.atleast_1d(mat_key(mat, "file_list", path))
        labels = np.atleast_1d(mat_key(mat, "labels", path)).astype(int)
        if len(files) != len(labels):
            raise DatasetError(f"{path}: {len(files)} files but {len(labels)} labels")
        for f, lab in zip(files, labels):
            folder = str(f).split("/")[0]
            if folder_of.setdefault(int(lab), folder) != folder:
                raise DatasetError(f"{path}: label {lab} is given to both {folder_of[int(lab)]!r} and {folder!r}")
            raw.append((f"Images/{f}", int(lab), split))
    ids = sorted(folder_of)
    if ids != list(range(1, len(ids) + 1)):
        raise DatasetError(f"{root / 'lists'}: labels must be 1..C without gaps, got {ids[:3]}...{ids[-3:]}")
    classes = [clean_name(folder_of[i]) for i in ids]
    return root, classes, [{"path": p, "label": lab - 1, "split": s} for p, lab, s in raw]
