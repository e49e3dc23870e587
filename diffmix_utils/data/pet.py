"""Oxford-IIIT Pet (37 breeds) in its official layout, official trainval/test lists.

    images/<Breed_Name>_<n>.jpg   annotations/trainval.txt   annotations/test.txt

List rows: ``image class-id(1..37) species breed-id``. The class name is the image name without
its number ('american_bulldog_12' -> 'american bulldog'). ``data.root`` may be the folder that
holds ``oxford-iiit-pet/`` (torchvision's download).
"""
from __future__ import annotations

from pathlib import Path

from .common import DatasetError, check_label, clean_name, read_rows, require_dir, to_int

SOURCE = "https://www.robots.ox.ac.uk/~vgg/data/pets/ (images.tar.gz, annotations.tar.gz)"
NUM_CLASSES = 37


def read(root: Path, data: dict, cache_dir: Path):
    root = require_dir(Path(root), "Oxford-IIIT Pet data.root")
    if (root / "oxford-iiit-pet" / "images").is_dir():
        root = root / "oxford-iiit-pet"
    require_dir(root / "images", "Oxford-IIIT Pet images")
    names: dict[int, str] = {}
    items = []
    for split, listing in (("train", "trainval"), ("test", "test")):
        path = root / "annotations" / f"{listing}.txt"
        for n, row in enumerate(read_rows(path, "Oxford-IIIT Pet split list", 2), 1):
            image, cls = row[0], to_int(row[1].split()[0], f"{path}:{n}")
            label = check_label(cls - 1, NUM_CLASSES, f"{path}:{n}")
            names.setdefault(label, clean_name(image.rsplit("_", 1)[0]))
            items.append({"path": f"images/{image}.jpg", "label": label, "split": split})
    missing = sorted(set(range(NUM_CLASSES)) - set(names))
    if missing:
        raise DatasetError(f"{root / 'annotations'}: no image of class ids {[m + 1 for m in missing]}")
    return root, [names[c] for c in range(NUM_CLASSES)], items


def download(root: Path, data: dict) -> Path:
    from torchvision.datasets import OxfordIIITPet
    OxfordIIITPet(str(root), split="trainval", download=True)
    return Path(root) / "oxford-iiit-pet"
