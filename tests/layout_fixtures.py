"""Tiny copies of each dataset's official release layout, built in a temp folder for the tests.

Each builder writes a few small images per class plus the index files exactly as the official
archive unpacks (text lists, MATLAB ``.mat`` files written with scipy, VOC masks, a Hugging Face
``save_to_disk`` folder) and returns the root a user would put in ``data.root``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from scipy.io import savemat

from diffmix_utils.data.voc import VOC_CLASSES


def image(path: Path, seed: int = 0, size: int = 12) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)


def cub(root: Path, classes: int = 3, per_class: int = 6) -> Path:
    """CUB_200_2011: half of each class's images train (is_train 1), half test."""
    base = root / "CUB_200_2011"
    names = [f"{c + 1:03d}.Bird_{chr(65 + c)}_x" for c in range(classes)]
    lines = {"images": [], "labels": [], "split": []}
    n = 0
    for c, name in enumerate(names):
        for k in range(per_class):
            n += 1
            rel = f"{name}/Bird_{chr(65 + c)}_{k:04d}.jpg"
            image(base / "images" / rel, n)
            lines["images"].append(f"{n} {rel}")
            lines["labels"].append(f"{n} {c + 1}")
            lines["split"].append(f"{n} {int(k % 2 == 0)}")
    (base / "classes.txt").write_text("\n".join(f"{c + 1} {nm}" for c, nm in enumerate(names)) + "\n")
    (base / "images.txt").write_text("\n".join(lines["images"]) + "\n")
    (base / "image_class_labels.txt").write_text("\n".join(lines["labels"]) + "\n")
    (base / "train_test_split.txt").write_text("\n".join(lines["split"]) + "\n")
    return root


def aircraft(root: Path) -> Path:
    """fgvc-aircraft-2013b with 3 variants (one with a space), 2 images each in train/val/test."""
    data = root / "fgvc-aircraft-2013b" / "data"
    variants = ["707-320", "Cessna 172", "DC-3"]
    (data / "images").mkdir(parents=True)
    (data / "variants.txt").write_text("\n".join(variants) + "\n")
    n = 1000000
    for split in ("train", "val", "test"):
        rows = []
        for v in variants:
            for _ in range(2):
                n += 1
                image(data / "images" / f"{n}.jpg", n)
                rows.append(f"{n} {v}")
        (data / f"images_variant_{split}.txt").write_text("\n".join(rows) + "\n")
    trainval = (data / "images_variant_train.txt").read_text() + (data / "images_variant_val.txt").read_text()
    (data / "images_variant_trainval.txt").write_text(trainval)
    return root


def flowers(root: Path, classes: int = 102, per_class: int = 4) -> Path:
    """flowers-102: every class has 1 train, 1 val and the rest test images (official-style ids)."""
    base = root / "flowers-102"
    labels, trn, val, tst = [], [], [], []
    for c in range(classes):
        for k in range(per_class):
            labels.append(c + 1)
            n = len(labels)
            image(base / "jpg" / f"image_{n:05d}.jpg", n, size=8)
            (trn if k == 0 else val if k == 1 else tst).append(n)
    savemat(base / "imagelabels.mat", {"labels": np.array([labels])})
    savemat(base / "setid.mat", {"trnid": np.array([trn]), "valid": np.array([val]), "tstid": np.array([tst])})
    return root


def cars(root: Path, classes: int = 3, per_class: int = 2) -> Path:
    """The Stanford Cars devkit layout."""
    dtype = [("bbox_x1", "O"), ("bbox_y1", "O"), ("bbox_x2", "O"), ("bbox_y2", "O"), ("class", "O"), ("fname", "O")]
    (root / "devkit").mkdir(parents=True)
    savemat(root / "devkit" / "cars_meta.mat",
            {"class_names": np.array([f"Make{c} Model{c} 2012" for c in range(classes)], dtype=object)})
    for split, target in (("train", root / "devkit" / "cars_train_annos.mat"),
                          ("test", root / "cars_test_annos_withlabels.mat")):
        rows = []
        for c in range(classes):
            for k in range(per_class):
                fname = f"{len(rows) + 1:05d}.jpg"
                image(root / f"cars_{split}" / fname, len(rows) + (0 if split == "train" else 100))
                rows.append((1, 1, 10, 10, c + 1, fname))
        savemat(target, {"annotations": np.array(rows, dtype=dtype)})
    return root


def dogs(root: Path) -> Path:
    """Stanford Dogs: Images/<wnid>-<Breed>/ and lists/{train,test}_list.mat."""
    breeds = ["n02085620-Chihuahua", "n02085782-Japanese_spaniel", "n02116738-African_hunting_dog"]
    for split, per in (("train", 3), ("test", 2)):
        files, labels = [], []
        for c, b in enumerate(breeds):
            for k in range(per):
                rel = f"{b}/{b.split('-')[0]}_{split}{k}.jpg"
                image(root / "Images" / rel, c * 10 + k)
                files.append(rel)
                labels.append(c + 1)
        (root / "lists").mkdir(exist_ok=True)
        savemat(root / "lists" / f"{split}_list.mat",
                {"file_list": np.array(files, dtype=object), "labels": np.array(labels)[:, None]})
    return root


def pet(root: Path) -> Path:
    """oxford-iiit-pet with all 37 class ids, one trainval and one test image each."""
    base = root / "oxford-iiit-pet"
    (base / "annotations").mkdir(parents=True)
    breeds = ["Abyssinian", "american_bulldog"] + [f"breed_{c}" for c in range(2, 37)]
    for split in ("trainval", "test"):
        rows = []
        for c, b in enumerate(breeds):
            name = f"{b}_{100 + c + (0 if split == 'trainval' else 50)}"
            image(base / "images" / f"{name}.jpg", c)
            rows.append(f"{name} {c + 1} {1 if b[0].isupper() else 2} 1")
        (base / "annotations" / f"{split}.txt").write_text("\n".join(rows) + "\n")
    return root


def waterbirds(root: Path, cub_root: Path, classes: int = 3) -> Path:
    """waterbird_complete95_forest2water2 over the CUB fixture's classes: 2 images per split and class."""
    base = root / "waterbird_complete95_forest2water2"
    rows = ["img_id,img_filename,y,split,place,place_filename"]
    n = 0
    for c in range(classes):
        folder = f"{c + 1:03d}.Bird_{chr(65 + c)}_x"
        for split in (0, 1, 2):
            for k in range(2):
                n += 1
                rel = f"{folder}/Bird_{chr(65 + c)}_{split}{k}.jpg"
                image(base / rel, n)
                rows.append(f"{n},{rel},{c % 2},{split},{k},/x/y.jpg")
    (base / "metadata.csv").write_text("\n".join(rows) + "\n")
    return base


def voc(root: Path) -> Path:
    """VOCdevkit/VOC2012 with 4 segmentation images; the largest instance decides the label."""
    base = root / "VOCdevkit" / "VOC2012"
    for sub in ("JPEGImages", "SegmentationObject", "SegmentationClass", "Annotations",
                "ImageSets/Segmentation", "ImageSets/Main"):
        (base / sub).mkdir(parents=True)
    # image id: [(class id 1..20, box (x1, y1, x2, y2))]; the first object of each is the largest
    scenes = {"2007_000001": [(12, (0, 0, 10, 10)), (15, (10, 10, 14, 14))],   # dog over person
              "2007_000002": [(15, (2, 2, 15, 15)), (12, (0, 0, 3, 3))],       # person
              "2007_000003": [(1, (0, 0, 16, 8))],                               # aeroplane
              "2007_000004": [(11, (0, 4, 16, 16)), (5, (0, 0, 4, 4))]}          # diningtable
    for image_id, objs in scenes.items():
        image(base / "JPEGImages" / f"{image_id}.jpg", 1, size=16)
        obj_mask, cls_mask = np.zeros((16, 16), np.uint8), np.zeros((16, 16), np.uint8)
        xml = ["<annotation>"]
        for k, (cls, (x1, y1, x2, y2)) in enumerate(objs, 1):
            obj_mask[y1:y2, x1:x2], cls_mask[y1:y2, x1:x2] = k, cls
            name = VOC_CLASSES[cls - 1]
            xml.append(f"<object><name>{name}</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin>"
                       f"<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>")
        obj_mask[0, :] = 255  # VOC's "void" border pixels are ignored
        for mask, folder in ((obj_mask, "SegmentationObject"), (cls_mask, "SegmentationClass")):
            im = Image.fromarray(mask, mode="L").convert("P")
            im.save(base / folder / f"{image_id}.png")
        (base / "Annotations" / f"{image_id}.xml").write_text("".join(xml) + "</annotation>")
    for lists in ("Segmentation", "Main"):
        (base / "ImageSets" / lists / "train.txt").write_text("2007_000001\n2007_000002\n")
        (base / "ImageSets" / lists / "val.txt").write_text("2007_000003\n2007_000004\n")
    return root


def hf(root: Path) -> Path:
    """A DatasetDict(train, test) with an Image column and a ClassLabel column, saved to disk."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Image as HFImage
    feats = Features({"img": HFImage(), "fine_label": ClassLabel(names=["tabby cat", "tiger", "lynx"])})
    rng = np.random.default_rng(0)

    def part(n: int):
        ims = [Image.fromarray(rng.integers(0, 255, (10, 10, 3), dtype=np.uint8)) for _ in range(n)]
        return Dataset.from_dict({"img": ims, "fine_label": [i % 3 for i in range(n)]}, features=feats)
    DatasetDict({"train": part(9), "test": part(6)}).save_to_disk(str(root / "hf-cats"))
    return root / "hf-cats"
