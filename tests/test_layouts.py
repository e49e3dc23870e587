"""Every registered dataset layout loads from a tiny copy of its official release, offline."""
from __future__ import annotations

import shutil
from collections import Counter

import pytest

import layout_fixtures as fx
from diffmix_utils import params
from diffmix_utils.data import DatasetError, create_dataset, ensure_split, load_split
from diffmix_utils.data.common import clean_name
from diffmix_utils.data.splits import class_counts

BASE = params.defaults()["data"]


def data(**kw) -> dict:
    return {**BASE, **kw}


def split_counts(items) -> Counter:
    return Counter(it["split"] for it in items)


def test_clean_name_strips_ids_and_underscores():
    assert clean_name("001.Black_footed_Albatross") == "Black footed Albatross"
    assert clean_name("n02085782-Japanese_spaniel") == "Japanese spaniel"
    assert clean_name("  Cessna  172 ") == "Cessna 172"


def test_cub(tmp_path):
    ds = create_dataset("cub", str(fx.cub(tmp_path)), tmp_path, data())
    assert ds.classes == ["Bird A x", "Bird B x", "Bird C x"] and ds.superclass == "bird"
    assert split_counts(ds.items) == {"train": 9, "test": 9}
    assert {it["label"] for it in ds.items} == {0, 1, 2}
    assert all((ds.root / it["path"]).is_file() for it in ds.items)
    first = next(it for it in ds.items if it["path"].startswith("images/002."))
    assert first["label"] == 1


def test_aircraft_train_uses_official_val_and_trainval_option(tmp_path):
    root = str(fx.aircraft(tmp_path))
    ds = create_dataset("aircraft", root, tmp_path, data())
    assert ds.classes == ["707-320", "Cessna 172", "DC-3"] and ds.superclass == "aircraft"
    assert split_counts(ds.items) == {"train": 6, "val": 6, "test": 6}
    tv = create_dataset("aircraft", root, tmp_path, data(options={"train_split": "trainval"}))
    assert split_counts(tv.items) == {"train": 12, "test": 6}
    split = ensure_split(tmp_path / "s.json", data(dataset="aircraft", root=root), tmp_path)
    assert len(split["val"]) == 6 and len(split["train"]) == 6  # official val, nothing carved


def test_flowers_official_and_reference_split(tmp_path):
    root = str(fx.flowers(tmp_path))
    ds = create_dataset("flowers", root, tmp_path, data())
    assert len(ds.classes) == 102 and ds.classes[0] == "pink primrose" and ds.superclass == "flower"
    assert split_counts(ds.items) == {"train": 102, "val": 102, "test": 204}
    ref = create_dataset("flowers", root, tmp_path, data(options={"split": "reference-5050"}))
    assert split_counts(ref.items) == {"train": 204, "test": 204}
    per_class = Counter(it["label"] for it in ref.items if it["split"] == "train")
    assert set(per_class.values()) == {2}


def test_cars_devkit_and_imagefolder(tmp_path):
    ds = create_dataset("cars", str(fx.cars(tmp_path / "devkit")), tmp_path, data())
    assert ds.classes == ["Make0 Model0 2012", "Make1 Model1 2012", "Make2 Model2 2012"]
    assert split_counts(ds.items) == {"train": 6, "test": 6}
    assert sorted(it["label"] for it in ds.items if it["split"] == "test") == [0, 0, 1, 1, 2, 2]
    for split in ("train", "test"):
        fx.image(tmp_path / "folder" / split / "Audi_A4" / "1.jpg")
    folder = create_dataset("cars", str(tmp_path / "folder"), tmp_path, data())
    assert folder.classes == ["Audi A4"] and split_counts(folder.items) == {"train": 1, "test": 1}


def test_dogs(tmp_path):
    ds = create_dataset("dogs", str(fx.dogs(tmp_path)), tmp_path, data())
    assert ds.classes == ["Chihuahua", "Japanese spaniel", "African hunting dog"] and ds.superclass == "dog"
    assert split_counts(ds.items) == {"train": 9, "test": 6}


def test_pet(tmp_path):
    ds = create_dataset("pet", str(fx.pet(tmp_path)), tmp_path, data())
    assert len(ds.classes) == 37 and ds.classes[:2] == ["Abyssinian", "american bulldog"]
    assert ds.superclass == "animal" and split_counts(ds.items) == {"train": 37, "test": 37}


def test_waterbirds_trains_on_cub_and_tests_200_way_with_groups(tmp_path):
    cub_root = fx.cub(tmp_path / "cub")
    wb = str(fx.waterbirds(tmp_path / "wb", cub_root))
    with pytest.raises(DatasetError, match="cub_root"):
        create_dataset("waterbirds", wb, tmp_path, data())
    ds = create_dataset("waterbirds", wb, tmp_path, data(options={"cub_root": str(cub_root)}))
    assert ds.classes == ["Bird A x", "Bird B x", "Bird C x"]
    assert split_counts(ds.items) == {"train": 9, "test": 6}
    test = [it for it in ds.items if it["split"] == "test"]
    assert Counter(it["group"] for it in test) == {"landbird/land": 2, "landbird/water": 2,
                                                   "waterbird/land": 1, "waterbird/water": 1}
    assert all((ds.root / it["path"]).is_file() for it in ds.items)  # absolute CUB paths, relative WB ones
    own = create_dataset("waterbirds", wb, tmp_path, data(options={"train_from": "waterbirds"}))
    assert split_counts(own.items) == {"train": 6, "val": 6, "test": 6}


@pytest.mark.parametrize("label_from", ["masks", "boxes"])
def test_voc_largest_object_label(tmp_path, label_from):
    ds = create_dataset("voc", str(fx.voc(tmp_path)), tmp_path, data(options={"label_from": label_from}))
    assert len(ds.classes) == 20 and "dining table" in ds.classes
    got = {it["path"]: ds.classes[it["label"]] for it in ds.items}
    assert got == {"JPEGImages/2007_000001.jpg": "dog", "JPEGImages/2007_000002.jpg": "person",
                   "JPEGImages/2007_000003.jpg": "aeroplane", "JPEGImages/2007_000004.jpg": "dining table"}
    assert split_counts(ds.items) == {"train": 2, "test": 2}


def test_hf_save_to_disk(tmp_path):
    pytest.importorskip("datasets")
    root = str(fx.hf(tmp_path))
    opts = {"image_column": "img", "label_column": "fine_label", "superclass": "cat"}
    ds = create_dataset("hf", root, tmp_path / "cache", data(options=opts))
    assert ds.classes == ["tabby cat", "tiger", "lynx"] and ds.superclass == "cat"
    assert split_counts(ds.items) == {"train": 9, "test": 6}
    assert all((ds.root / it["path"]).is_file() for it in ds.items)
    with pytest.raises(DatasetError, match="column 'image' is not in"):
        create_dataset("hf", root, tmp_path / "cache", data())


def test_split_file_is_identical_between_runs_and_subsets(tmp_path):
    root = str(fx.cub(tmp_path, classes=4, per_class=20))
    d = data(dataset="cub", root=root, shots=3)
    a = ensure_split(tmp_path / "a.json", d, tmp_path)
    ensure_split(tmp_path / "b.json", d, tmp_path)
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert class_counts(a) == [3, 3, 3, 3] and len(a["test"]) == 40
    lt = ensure_split(tmp_path / "lt.json", data(dataset="cub", root=root, imbalance=4.0, val_fraction=0.0), tmp_path)
    assert class_counts(lt) == [10, 6, 3, 2]  # floor(10 * 4 ** (-r / 3)): 10, 6.30, 3.97, 2.5
    assert load_split(tmp_path / "lt.json") == lt


def test_params_validate_dataset_options():
    with pytest.raises(params.ParamsError, match="data.options.split = 'half'.*valid: official, reference-5050"):
        params.resolve({"data": {"dataset": "flowers", "root": "/x", "options": {"split": "half"}}})
    with pytest.raises(params.ParamsError, match="data.options.trainsplit is not an option.*train_split"):
        params.resolve({"data": {"dataset": "aircraft", "root": "/x", "options": {"trainsplit": "train"}}})
    with pytest.raises(params.ParamsError, match="data.root = null is not valid for data.dataset = 'cub'"):
        params.resolve({"data": {"dataset": "cub"}})


def test_bad_inputs_give_one_clear_error_naming_the_path(tmp_path):
    with pytest.raises(DatasetError, match="does not exist.*CUB_200_2011/.*caltech"):
        create_dataset("cub", str(tmp_path / "nowhere"), tmp_path, data())
    root = fx.cub(tmp_path / "c")
    (root / "CUB_200_2011" / "train_test_split.txt").unlink()
    with pytest.raises(DatasetError, match="train_test_split.txt' does not exist"):
        create_dataset("cub", str(root), tmp_path, data())

    root = fx.cub(tmp_path / "d")
    labels = root / "CUB_200_2011" / "image_class_labels.txt"
    labels.write_text(labels.read_text().replace("1 1\n", "1 7\n", 1))
    with pytest.raises(DatasetError, match="label 6 is out of range; valid: 0..2"):
        create_dataset("cub", str(root), tmp_path, data())

    root = fx.cub(tmp_path / "e")
    victim = next((root / "CUB_200_2011" / "images").rglob("*.jpg"))
    victim.unlink()
    with pytest.raises(DatasetError, match=f"{victim.name}' is listed .* does not exist"):
        ensure_split(tmp_path / "e.json", data(dataset="cub", root=str(root)), tmp_path)
    assert not (tmp_path / "e.json").exists()

    root = fx.cub(tmp_path / "f")
    victim = next((root / "CUB_200_2011" / "images").rglob("*.jpg"))
    victim.write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError, match=f"{victim.name}' cannot be read"):
        ensure_split(tmp_path / "f.json", data(dataset="cub", root=str(root)), tmp_path)

    root = fx.cub(tmp_path / "g", per_class=2)  # one train image per class: val takes it
    with pytest.raises(ValueError, match=r"class 0 \(Bird A x\) has 1 train images"):
        ensure_split(tmp_path / "g.json", data(dataset="cub", root=str(root)), tmp_path)
    shutil.rmtree(root)


def test_download_is_refused_where_torchvision_cannot(tmp_path):
    with pytest.raises(DatasetError, match="cannot be downloaded by the kit; get it from"):
        create_dataset("cub", str(tmp_path), tmp_path, data(download=True))
