"""The dataset registry: every layout the kit reads, by the name ``data.dataset`` takes.

Light on imports (no torch), so parameter validation can check ``data.options`` before work starts.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from . import aircraft, cars, cub, dogs, flowers, hf, imagefolder, pet, toybirds, voc, waterbirds
from .common import Layout, Option, clean_name


def _toybirds(root: Path | None, data: dict, cache_dir: Path):
    opts = {k: data[k] for k in ("num_classes", "image_size", "train_per_class", "test_per_class",
                                 "background_match")}
    key = hashlib.sha1(json.dumps([toybirds.RENDER_VERSION, opts], sort_keys=True).encode()).hexdigest()[:10]
    folder = Path(root) if root else Path(cache_dir) / f"toybirds-{key}"
    toybirds.ensure_rendered(folder, opts["num_classes"], opts["train_per_class"],
                             opts["test_per_class"], opts["image_size"], opts["background_match"])
    items = [{"path": m["path"], "label": int(m["label"]), "split": m["split"],
              "background": m["background"], "background_family": m["background_family"],
              "group": f"{m['group']}bird/{m['background_family']}"}
             for m in toybirds.read_metadata(folder) if int(m["label"]) < opts["num_classes"]]
    return folder, [toybirds.class_name(c) for c in range(opts["num_classes"])], items


def has_group_shift(data: dict) -> bool:
    """Whether worst-group accuracy measures a shift in this data: toybirds gives every image a group
    (land/water bird x background family), but only ``data.background_match`` ties groups to classes
    in training and breaks the tie in test; other layouts have groups only where the dataset defines
    them (Waterbirds)."""
    return data["dataset"] != "toybirds" or data["background_match"] is not None


def _imagefolder(root: Path, data: dict, cache_dir: Path):
    names, items = imagefolder.read_imagefolder(Path(root))
    return Path(root), [clean_name(n) for n in names], items


LAYOUTS: dict[str, Layout] = {
    "toybirds": Layout(_toybirds, toybirds.SUPERCLASS, "rendered by the kit (no download)",
                       "nothing: data.root null renders into the run store"),
    "imagefolder": Layout(_imagefolder, "object", "any folder of images", "train/<class>/*, test/<class>/*",
                          {"superclass": Option("object", "super-category word used in prompts")}),
    "cub": Layout(cub.read, "bird", cub.SOURCE, "CUB_200_2011/{images/, images.txt, image_class_labels.txt, "
                  "train_test_split.txt, classes.txt}"),
    "aircraft": Layout(aircraft.read, "aircraft", aircraft.SOURCE,
                       "fgvc-aircraft-2013b/data/{images/, variants.txt, images_variant_*.txt}",
                       aircraft.OPTIONS, aircraft.download),
    "flowers": Layout(flowers.read, "flower", flowers.SOURCE, "{jpg/, imagelabels.mat, setid.mat}",
                      flowers.OPTIONS, flowers.download),
    "cars": Layout(cars.read, "car", cars.SOURCE, "{cars_train/, cars_test/, devkit/cars_meta.mat, "
                   "devkit/cars_train_annos.mat, cars_test_annos_withlabels.mat} or train/<class>/, test/<class>/"),
    "dogs": Layout(dogs.read, "dog", dogs.SOURCE, "{Images/nXXXX-Breed/, lists/train_list.mat, lists/test_list.mat}"),
    "pet": Layout(pet.read, "animal", pet.SOURCE, "{images/, annotations/trainval.txt, annotations/test.txt}",
                  download=pet.download),
    "waterbirds": Layout(waterbirds.read, "bird", waterbirds.SOURCE,
                         "waterbird_complete95_forest2water2/{metadata.csv, NNN.Class/}", waterbirds.OPTIONS),
    "voc": Layout(voc.read, "", voc.SOURCE, "VOCdevkit/VOC2012/{JPEGImages/, ImageSets/, SegmentationObject/, "
                  "SegmentationClass/, Annotations/}", voc.OPTIONS),
    "hf": Layout(hf.read, "object", hf.SOURCE, "a folder written by DatasetDict.save_to_disk",
                 {**hf.OPTIONS, "superclass": Option("object", "super-category word used in prompts")}),
}
DATASET_NAMES = tuple(LAYOUTS)
