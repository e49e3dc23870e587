"""Stanford Cars (196 classes): the original devkit layout, or the common ImageFolder re-pack.

Devkit layout (``data.root`` = the folder that holds these)::

    cars_train/*.jpg   cars_test/*.jpg   devkit/cars_meta.mat (class_names)
    devkit/cars_train_annos.mat   cars_test_annos_withlabels.mat (or inside devkit/)

The ``.mat`` annotation structs carry ``fname`` and ``class`` (1-based). A root with ``train/``
and ``test/`` class folders instead is read as an ImageFolder.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import imagefolder
from .common import DatasetError, check_label, clean_name, load_mat, mat_key, require_dir

SOURCE = ("the Stanford Cars release (cars_train.tgz, cars_test.tgz, car_devkit.tgz and "
          "cars_test_annos_withlabels.mat); its original host is offline, mirrors exist on Kaggle")


def _annotations(path: Path) -> list[tuple[str, int]]:
    ann = np.atleast_1d(mat_key(load_mat(path, "Stanford Cars annotations"), "annotations", path))
    try:
        return [(str(a["fname"]), int(a["class"])) for a in ann]
    except (ValueError, IndexError, KeyError):
        raise DatasetError(f"{path}: 'annotations' lacks the 'fname' and 'class' fields "
                           "(cars_test_annos.mat has no labels: use cars_test_annos_withlabels.mat)") from None


def read(root: Path, data: dict, cache_dir: Path):
    root = require_dir(Path(root), "Stanford Cars data.root")
    if (root / "train").is_dir() and not (root / "devkit").is_dir():
        names, items = imagefolder.read_imagefolder(root)
        return root, [clean_name(n) for n in names], items
    meta = root / "devkit" / "cars_meta.mat"
    classes = [clean_name(str(n)) for n in np.atleast_1d(mat_key(load_mat(meta, "Stanford Cars class names"),
                                                                 "class_names", meta))]
    test_annos = next((p for p in (root / "cars_test_annos_withlabels.mat",
                                   root / "devkit" / "cars_test_annos_withlabels.mat") if p.is_file()),
                      root / "cars_test_annos_withlabels.mat")
    items = []
    for split, folder, annos in (("train", "cars_train", root / "devkit" / "cars_train_annos.mat"),
                                 ("test", "cars_test", test_annos)):
        require_dir(root / folder, f"Stanford Cars {split} images")
        for fname, cls in _annotations(annos):
            label = check_label(cls - 1, len(classes), f"{annos} ({fname})")
            items.append({"path": f"{folder}/{fname}", "label": label, "split": split})
    return root, classes, items
