"""toybirds rendering and the split file: determinism, val/few-shot/long-tail protocol."""
from __future__ import annotations

import hashlib
import json

import pytest

from diffmix_utils import artifacts
from diffmix_utils.data import ensure_split, longtail_counts, toybirds
from diffmix_utils.data.splits import class_counts, make_split

from .conftest import tiny_params


def _digest(folder):
    return hashlib.sha1(b"".join(p.read_bytes() for p in sorted(folder.rglob("*.png")))).hexdigest()


def test_toybirds_render_is_deterministic_and_complete(tmp_path):
    a = toybirds.ensure_rendered(tmp_path / "a", 3, 2, 1, 48)
    b = toybirds.ensure_rendered(tmp_path / "b", 3, 2, 1, 48)
    assert _digest(a) == _digest(b)
    meta = toybirds.read_metadata(a)
    assert len(meta) == 3 * (2 + 1) and {m["split"] for m in meta} == {"train", "test"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_toybirds_classes_differ_in_foreground_only():
    names = [toybirds.class_name(c) for c in range(16)]
    assert len(set(names)) == 16 and len(set(toybirds.class_attributes(c) for c in range(16))) == 16
    img, kind = toybirds.render_image(0, "train", 0, 64)
    assert img.size == (64, 64) and kind in toybirds.BACKGROUNDS


def _items(per_class):
    return [{"label": c, "split": "train"} for c, n in enumerate(per_class) for _ in range(n)] + \
           [{"label": c, "split": "test"} for c in range(len(per_class))]


DATA = {"split_seed": 0, "val_fraction": 0.1, "shots": None, "imbalance": None}


def test_split_parts_are_disjoint_and_test_is_untouched():
    items = _items([20, 20, 20])
    s = make_split(items, ["a", "b", "c"], DATA)
    assert not set(s["train"]) & set(s["val"])
    assert sorted(s["train"] + s["val"]) == [i for i, it in enumerate(items) if it["split"] == "train"]
    assert s["test"] == [i for i, it in enumerate(items) if it["split"] == "test"]
    assert [sum(items[i]["label"] == c for i in s["val"]) for c in range(3)] == [2, 2, 2]


def test_few_shot_takes_k_per_class_and_is_fixed_by_split_seed():
    items = _items([20, 20, 20])
    s = make_split(items, ["a", "b", "c"], {**DATA, "shots": 5})
    assert [sum(items[i]["label"] == c for i in s["train"]) for c in range(3)] == [5, 5, 5]
    assert s == make_split(items, ["a", "b", "c"], {**DATA, "shots": 5})
    assert s != make_split(items, ["a", "b", "c"], {**DATA, "shots": 5, "split_seed": 1})
    with pytest.raises(ValueError, match="data.shots = 30"):
        make_split(items, ["a", "b", "c"], {**DATA, "shots": 30})


def test_long_tail_counts_follow_the_exponential_profile():
    kept = longtail_counts([100] * 5, 100.0)
    assert kept == [100, 31, 10, 3, 1]  # n_max * IF^(-r/(C-1))
    items = _items([40] * 5)
    s = make_split(items, list("abcde"), {**DATA, "val_fraction": 0.0, "imbalance": 10.0})
    assert [sum(items[i]["label"] == c for i in s["train"]) for c in range(5)] == longtail_counts([40] * 5, 10.0)


def test_split_file_is_written_once_and_shared(tmp_path):
    p = tiny_params(tmp_path)
    path = artifacts.split_path(p)
    first = ensure_split(path, p["data"], tmp_path / "datasets")
    mtime = path.stat().st_mtime_ns
    assert ensure_split(path, p["data"], tmp_path / "datasets") == first
    assert path.stat().st_mtime_ns == mtime
    assert class_counts(first) == [4, 4, 4, 4]  # 6 per class, ceil(0.2 * 6) = 2 to val
    assert json.loads(path.read_text())["classes"][0] == toybirds.class_name(0)


def test_atomic_outputs_have_normal_permissions(tmp_path):
    import os
    from diffmix_utils.atomic import atomic_dir, atomic_write
    mask = os.umask(0o022)
    try:
        f = atomic_write(tmp_path / "a.txt", lambda t: t.write_text("x"))
        with atomic_dir(tmp_path / "d") as d:
            (d / "x").write_text("y")
    finally:
        os.umask(mask)
    assert f.stat().st_mode & 0o777 == 0o644 and (tmp_path / "d").stat().st_mode & 0o777 == 0o755


def test_a_folder_another_process_finished_is_kept_not_removed_under_its_readers(tmp_path):
    from diffmix_utils.atomic import atomic_dir
    target = tmp_path / "rendered"
    with atomic_dir(target, keep_existing=True) as mine:
        (mine / "x").write_text("mine")
        target.mkdir()  # meanwhile another process finishes the same folder
        (target / "x").write_text("theirs")
    assert (target / "x").read_text() == "theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["rendered"]  # our copy discarded, no temp left
    with atomic_dir(target) as again:  # the default still replaces
        (again / "x").write_text("new")
    assert (target / "x").read_text() == "new"


def test_background_shift_correlates_in_train_and_flips_in_test(tmp_path):
    from diffmix_utils.data import create_dataset
    data = {"num_classes": 8, "image_size": 32, "train_per_class": 20, "test_per_class": 5,
            "background_match": 0.9}
    items = create_dataset("toybirds", None, tmp_path, data).items
    def matched(split):
        rows = [it for it in items if it["split"] == split]
        return sum(it["group"].split("bird/")[0] == it["background_family"] for it in rows) / len(rows)
    assert 0.8 <= matched("train") <= 0.98 and matched("test") == 0.0
    assert {it["group"] for it in items} == {"landbird/land", "landbird/water", "waterbird/land", "waterbird/water"}
    plain = create_dataset("toybirds", None, tmp_path, {**data, "background_match": None}).items
    assert 0.3 < sum(it["group"].split("bird/")[0] == it["background_family"] for it in plain) / len(plain) < 0.7
