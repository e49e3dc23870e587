"""Waterbirds (``waterbird_complete95_forest2water2``): CUB birds pasted on land or water scenes.

    metadata.csv (img_id, img_filename, y, split, place[, place_filename])   NNN.Class_Name/*.jpg

The label is the **CUB class** (200-way, from the ``NNN.`` folder prefix), as the reference
evaluates; each item also carries its group ``{landbird|waterbird}/{land|water}`` from (y, place).
``options.train_from``: ``cub`` (default, the reference: train on CUB-200-2011's train split from
``options.cub_root``, test on Waterbirds' test split) or ``waterbirds`` (its own split 0 train,
1 validation, 2 test).
"""
from __future__ import annotations

import csv
from pathlib import Path

from . import cub
from .common import DatasetError, Option, check_label, clean_name, require_dir, require_file, to_int

SOURCE = ("https://github.com/kohpangwei/group_DRO (waterbird_complete95_forest2water2.tar.gz); "
          "with train_from cub also CUB-200-2011")
OPTIONS = {"train_from": Option("cub", "train images: CUB-200-2011 train (reference) or Waterbirds split 0",
                                ("cub", "waterbirds")),
           "cub_root": Option(None, "CUB-200-2011 folder (needed when train_from is cub)")}
BIRD, PLACE = ("landbird", "waterbird"), ("land", "water")
SPLITS = {"0": "train", "1": "val", "2": "test"}


def read(root: Path, data: dict, cache_dir: Path):
    root = require_dir(Path(root), "Waterbirds data.root")
    meta = require_file(root / "metadata.csv", "Waterbirds metadata")
    opts = data["options"]
    with open(meta, newline="") as fh:
        rows = list(csv.DictReader(fh))
    need = {"img_filename", "y", "split", "place"}
    if not rows or need - set(rows[0]):
        raise DatasetError(f"{meta} must have the columns {', '.join(sorted(need))}")
    if opts["train_from"] == "cub":
        if not opts["cub_root"]:
            raise DatasetError("data.options.cub_root is not set; with train_from 'cub' give the "
                               "CUB_200_2011 folder (or set train_from: waterbirds)")
        cub_root, classes, cub_items = cub.read(Path(opts["cub_root"]).expanduser(), data, cache_dir)
        items = [{**it, "path": str((cub_root / it["path"]).resolve())} for it in cub_items if it["split"] == "train"]
        keep = {"2"}
    else:
        folders = sorted({r["img_filename"].split("/")[0] for r in rows},
                         key=lambda f: to_int(f.split(".")[0], str(meta)))
        classes, items, keep = [clean_name(f) for f in folders], [], set(SPLITS)
    for n, r in enumerate(rows, 2):
        if r["split"] not in SPLITS:
            raise DatasetError(f"{meta}:{n}: split {r['split']!r} is not 0, 1 or 2")
        if r["split"] not in keep:
            continue
        where = f"{meta}:{n}"
        label = check_label(to_int(r["img_filename"].split(".")[0], where) - 1, len(classes), where)
        y, place = to_int(r["y"], where), to_int(r["place"], where)
        if y not in (0, 1) or place not in (0, 1):
            raise DatasetError(f"{where}: y = {y} and place = {place} must each be 0 or 1")
        items.append({"path": r["img_filename"], "label": label, "split": SPLITS[r["split"]],
                      "group": f"{BIRD[y]}/{PLACE[place]}"})
    return root, classes, items
