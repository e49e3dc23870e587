"""FGVC-Aircraft 2013b at the variant level (100 classes), official split files.

    data/images/<id>.jpg   data/variants.txt   data/images_variant_{train,val,trainval,test}.txt

``data.root`` may be ``fgvc-aircraft-2013b`` or the folder that holds it (torchvision's download).
``options.train_split``: ``train`` (default, as the reference: 3,334 images; the official ``val``
list then is the validation split) or ``trainval`` (6,667 images; validation carved from it).
"""
from __future__ import annotations

from pathlib import Path

from .common import DatasetError, Option, read_rows, require_dir, require_file

SOURCE = "https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/ (fgvc-aircraft-2013b.tar.gz)"
OPTIONS = {"train_split": Option("train", "official list to train on (reference: train)", ("train", "trainval"))}


def find_root(root: Path) -> Path:
    root = require_dir(root, "FGVC-Aircraft data.root")
    return root / "fgvc-aircraft-2013b" if (root / "fgvc-aircraft-2013b" / "data").is_dir() else root


def read(root: Path, data: dict, cache_dir: Path):
    root = find_root(Path(root))
    variants_file = require_file(root / "data" / "variants.txt", "FGVC-Aircraft variant list")
    classes = [v.strip() for v in variants_file.read_text().splitlines() if v.strip()]
    index = {v: i for i, v in enumerate(classes)}
    train_split = data["options"]["train_split"]
    lists = [(train_split, "train"), ("test", "test")] + ([("val", "val")] if train_split == "train" else [])
    items = []
    for official, split in lists:
        listing = root / "data" / f"images_variant_{official}.txt"
        for n, (image_id, variant) in enumerate(read_rows(listing, "FGVC-Aircraft split list", 2), 1):
            if variant.strip() not in index:
                raise DatasetError(f"{listing}:{n}: variant {variant.strip()!r} is not in {variants_file}")
            items.append({"path": f"data/images/{image_id}.jpg", "label": index[variant.strip()], "split": split})
    return root, classes, items


def download(root: Path, data: dict) -> Path:
    from torchvision.datasets import FGVCAircraft
    FGVCAircraft(str(root), split="trainval", annotation_level="variant", download=True)
    return Path(root) / "fgvc-aircraft-2013b"
