"""A Hugging Face ``datasets`` folder written by ``save_to_disk`` (a DatasetDict with splits).

``options``: ``image_column`` (default ``image``), ``label_column`` (``label``), ``train_split``
(``train``), ``test_split`` (``test``) and ``val_split`` (none: carve validation from train).
Class names come from the label column's ``ClassLabel`` names (else the sorted distinct string
labels, else ``class_<id>``). The images are written once as PNG files into the kit's cache (one
folder per source and options, written atomically), so every stage reads files the same way as
for the other layouts.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..atomic import atomic_dir
from .common import DatasetError, Option, require_dir

SOURCE = "any dataset saved with datasets.load_dataset(...).save_to_disk(folder)"
OPTIONS = {"image_column": Option("image", "column holding the images"),
           "label_column": Option("label", "column holding the class labels"),
           "train_split": Option("train", "split to train on"),
           "test_split": Option("test", "split to test on"),
           "val_split": Option(None, "split for validation (none: carved from train)")}


def _load(root: Path):
    try:
        from datasets import DatasetDict, load_from_disk
    except ImportError:
        raise DatasetError("data.dataset 'hf' needs the datasets package: pip install 'diffmix-kit[hf]'") from None
    try:
        ds = load_from_disk(str(root))
    except (FileNotFoundError, ValueError) as exc:
        raise DatasetError(f"{root} is not a folder written by save_to_disk ({exc})") from None
    if not isinstance(ds, DatasetDict):
        raise DatasetError(f"{root} holds one split, not a DatasetDict; save a DatasetDict with train and test")
    return ds


def _class_names(ds, column: str) -> tuple[list[str], dict | None]:
    feature = next(iter(ds.values())).features[column]
    if getattr(feature, "names", None):
        return list(feature.names), None
    values = sorted({v for split in ds.values() for v in split[column]}, key=str)
    if all(isinstance(v, str) for v in values):
        return values, {v: i for i, v in enumerate(values)}
    return [f"class_{v}" for v in range(int(max(values)) + 1)], None


def read(root: Path, data: dict, cache_dir: Path):
    root = require_dir(Path(root).expanduser(), "Hugging Face dataset data.root")
    opts = data["options"]
    ds = _load(root)
    wanted = {"train": opts["train_split"], "test": opts["test_split"], "val": opts["val_split"]}
    for role, name in wanted.items():
        if name is not None and name not in ds:
            raise DatasetError(f"data.options.{role}_split = {name!r} is not a split of {root}; "
                               f"it has: {', '.join(ds)}")
    columns = ds[opts["train_split"]].column_names
    for col in (opts["image_column"], opts["label_column"]):
        if col not in columns:
            raise DatasetError(f"column {col!r} is not in {root}; columns: {', '.join(columns)}")
    classes, to_id = _class_names(ds, opts["label_column"])
    key = hashlib.sha1(json.dumps([str(root.resolve()), opts, ds[opts["train_split"]]._fingerprint],
                                  sort_keys=True).encode()).hexdigest()[:10]
    folder = Path(cache_dir) / f"hf-{root.name}-{key}"
    index = folder / "index.json"
    if not index.is_file():
        with atomic_dir(folder) as tmp:
            items = []
            for role, name in wanted.items():
                if name is None:
                    continue
                (tmp / role).mkdir()
                for i, row in enumerate(ds[name]):
                    label = to_id[row[opts["label_column"]]] if to_id else int(row[opts["label_column"]])
                    rel = f"{role}/{i:06d}.png"
                    row[opts["image_column"]].convert("RGB").save(tmp / rel)
                    items.append({"path": rel, "label": label, "split": role})
            (tmp / "index.json").write_text(json.dumps({"classes": classes, "items": items}))
    saved = json.loads(index.read_text())
    return folder, saved["classes"], saved["items"]
