"""PASCAL VOC 2012 as 20-way classification: the label is the class of the largest object.

``options.label_from``: ``masks`` (default, the DA-Fusion protocol the reference follows: the
segmentation lists ``ImageSets/Segmentation/{train,val}.txt``; the largest instance in
``SegmentationObject/<id>.png`` by pixel count, its class from ``SegmentationClass/<id>.png``) or
``boxes`` (the detection lists ``ImageSets/Main/{train,val}.txt``; the largest bounding box in
``Annotations/<id>.xml``). VOC's test labels are not public, so ``val`` is the test split.
``data.root`` may be ``VOC2012`` or the folder holding ``VOCdevkit/VOC2012``.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from PIL import Image

from .common import DatasetError, Option, require_dir, require_file

SOURCE = "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/ (VOCtrainval_11-May-2012.tar)"
OPTIONS = {"label_from": Option("masks", "largest instance mask (DA-Fusion) or largest box", ("masks", "boxes"))}
VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
               "train", "tvmonitor")
PROMPT_NAMES = {"diningtable": "dining table", "pottedplant": "potted plant", "tvmonitor": "tv monitor"}


def find_root(root: Path) -> Path:
    root = require_dir(root, "PASCAL VOC data.root")
    for cand in (root / "VOCdevkit" / "VOC2012", root / "VOC2012"):
        if (cand / "JPEGImages").is_dir():
            return cand
    return root


def _largest_from_masks(root: Path, image_id: str) -> int:
    obj = np.array(Image.open(require_file(root / "SegmentationObject" / f"{image_id}.png", "VOC instance mask")))
    cls = np.array(Image.open(require_file(root / "SegmentationClass" / f"{image_id}.png", "VOC class mask")))
    ids, counts = np.unique(obj[(obj > 0) & (obj < 255)], return_counts=True)
    if not len(ids):
        raise DatasetError(f"{root / 'SegmentationObject' / image_id}.png has no object instance")
    inst = ids[int(np.argmax(counts))]
    labels, votes = np.unique(cls[obj == inst], return_counts=True)
    label = int(labels[int(np.argmax(votes))])
    if not 1 <= label <= len(VOC_CLASSES):
        raise DatasetError(f"{root / 'SegmentationClass' / image_id}.png: class {label} is not 1..20")
    return label - 1


def _largest_from_boxes(root: Path, image_id: str) -> int:
    path = require_file(root / "Annotations" / f"{image_id}.xml", "VOC annotation")
    best, label = -1.0, None
    for obj in ET.parse(path).getroot().iter("object"):
        box = obj.find("bndbox")
        x1, y1, x2, y2 = (float(box.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax"))
        name = obj.find("name").text.strip()
        if name not in VOC_CLASSES:
            raise DatasetError(f"{path}: object class {name!r} is not a VOC class")
        if (x2 - x1) * (y2 - y1) > best:
            best, label = (x2 - x1) * (y2 - y1), VOC_CLASSES.index(name)
    if label is None:
        raise DatasetError(f"{path} has no object")
    return label


def read(root: Path, data: dict, cache_dir: Path):
    from tqdm.auto import tqdm
    root = find_root(Path(root))
    by_masks = data["options"]["label_from"] == "masks"
    lists, largest = ("Segmentation", _largest_from_masks) if by_masks else ("Main", _largest_from_boxes)
    items = []
    for official, split in (("train", "train"), ("val", "test")):
        path = require_file(root / "ImageSets" / lists / f"{official}.txt", "VOC image list")
        ids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        for image_id in tqdm(ids, desc=f"VOC {official} labels", leave=False):
            items.append({"path": f"JPEGImages/{image_id}.jpg", "label": largest(root, image_id), "split": split})
    return root, [PROMPT_NAMES.get(c, c) for c in VOC_CLASSES], items
