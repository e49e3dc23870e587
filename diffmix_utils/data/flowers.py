"""Oxford Flowers-102 in its official layout: ``jpg/image_XXXXX.jpg``, ``imagelabels.mat``, ``setid.mat``.

``options.split``: ``official`` (default: ``trnid`` train, ``valid`` validation, ``tstid`` test) or
``reference-5050``, the reference's protocol for matching its numbers: every class's images in
file order, permuted by ``numpy.random.default_rng(0)``, the first half (floor) trains and the rest
tests (4,070 / 4,119 images); validation is then carved from the train half. ``data.root`` may be
the folder with ``jpg/`` or the one that holds ``flowers-102/`` (torchvision's download).
Class names: the standard list that torchvision ships (``Flowers102.classes``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import Option, check_label, load_mat, mat_key, require_dir

SOURCE = "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/ (102flowers.tgz, imagelabels.mat, setid.mat)"
OPTIONS = {"split": Option("official", "official trn/val/tst ids, or the reference's 50/50 re-split",
                           ("official", "reference-5050"))}


def find_root(root: Path) -> Path:
    root = require_dir(root, "Flowers-102 data.root")
    return root / "flowers-102" if (root / "flowers-102" / "jpg").is_dir() else root


def class_names() -> list[str]:
    from torchvision.datasets import Flowers102
    return list(Flowers102.classes)


def read(root: Path, data: dict, cache_dir: Path):
    root = find_root(Path(root))
    require_dir(root / "jpg", "Flowers-102 images")
    labels_path = root / "imagelabels.mat"
    labels = np.atleast_1d(mat_key(load_mat(labels_path, "Flowers-102 labels"), "labels", labels_path)).astype(int)
    classes = class_names()
    for n, lab in enumerate(labels, 1):
        check_label(int(lab) - 1, len(classes), f"{labels_path} (image {n})")
    split_of = {}
    if data["options"]["split"] == "official":
        setid_path = root / "setid.mat"
        setid = load_mat(setid_path, "Flowers-102 split ids")
        for key, split in (("trnid", "train"), ("valid", "val"), ("tstid", "test")):
            for n in np.atleast_1d(mat_key(setid, key, setid_path)).astype(int):
                split_of[int(n)] = split
    else:
        for c in range(len(classes)):
            ids = [n for n in range(1, len(labels) + 1) if labels[n - 1] - 1 == c]
            perm = [ids[j] for j in np.random.default_rng(0).permutation(len(ids))]
            half = len(perm) // 2
            split_of.update({n: "train" for n in perm[:half]} | {n: "test" for n in perm[half:]})
    items = [{"path": f"jpg/image_{n:05d}.jpg", "label": int(labels[n - 1]) - 1, "split": split}
             for n, split in sorted(split_of.items())]
    return root, classes, items


def download(root: Path, data: dict) -> Path:
    from torchvision.datasets import Flowers102
    Flowers102(str(root), split="train", download=True)
    return Path(root) / "flowers-102"
