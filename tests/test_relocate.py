"""A store that moves: copied to another folder, with its dataset mounted elsewhere, it reruns as
complete, and keys follow a dataset's content rather than its path."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from PIL import Image
from conftest import tiny_params

from diffmix_utils import artifacts, jobs, params
from diffmix_utils.data import _resolve_root, open_image
from diffmix_utils.finetune import run_finetune
from diffmix_utils.synthesize import run_synthesis
from diffmix_utils.train import run_training


def _imagefolder(root: Path) -> Path:
    for offset, (split, per) in enumerate((("train", 6), ("test", 3))):
        for c, colour in enumerate(((200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30))):
            folder = root / split / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(per):
                Image.new("RGB", (24, 24), tuple(min(255, v + 9 * i + 4 * offset) for v in colour)).save(folder / f"{i}.png")
    return root


def _member(work: Path, data_root: Path, **top) -> dict:
    p = tiny_params(work, data={"dataset": "imagefolder", "root": str(data_root)}, **top)
    return params.expand_sweep(p)[0]


def test_a_copied_store_and_a_moved_dataset_rerun_as_complete(tmp_path):
    m = _member(tmp_path / "a" / "runs", _imagefolder(tmp_path / "a" / "data"))
    folders = [run_finetune(m), run_synthesis(m), run_training(m)]
    key = artifacts.split_key(m)
    recorded = json.loads(artifacts.split_path(m).read_text())["root"]
    assert recorded == {"under_data_root": "."}  # no absolute path in the split file
    shutil.copytree(tmp_path / "a" / "runs", tmp_path / "b" / "runs")  # the store copied to project space ...
    shutil.move(tmp_path / "a" / "data", tmp_path / "b" / "data")      # ... and the dataset mounted elsewhere
    moved = _member(tmp_path / "b" / "runs", tmp_path / "b" / "data")
    assert artifacts.split_key(moved) == key
    again = [artifacts.finetune_dir(moved), artifacts.synthesis_dir(moved), artifacts.train_dir(moved)]
    assert [f.name for f in again] == [f.name for f in folders] and all(map(artifacts.is_done, again))
    p = params.resolve({k: v for k, v in moved.items() if k in params.SCHEMA})
    assert all(jobs.stage_complete(p, s) for s in ("finetune", "synthesize", "train"))  # "complete, skipped"
    split = artifacts.open_split(moved)
    assert Path(split["root"]) == (tmp_path / "b" / "data").resolve()
    assert open_image(split, split["train"][0]).size == (24, 24)
    other_seed = {**moved, "seed": 1}  # a new classifier reads the moved split and the copied pool
    assert artifacts.is_done(run_training(other_seed))


def test_the_split_key_follows_the_datasets_content_not_its_path(tmp_path):
    data = _imagefolder(tmp_path / "data")
    key = artifacts.split_key(_member(tmp_path / "runs", data))
    Image.new("RGB", (24, 24)).save(data / "train" / "class0" / "extra.png")  # another image: other data
    from diffmix_utils.artifacts import identity
    identity._fingerprint.cache_clear()
    assert artifacts.split_key(_member(tmp_path / "runs", data)) != key
    toy = tiny_params(tmp_path / "runs")  # toybirds (root null): the key of stores made before this change
    assert identity.data_identity(toy["data"]) == toy["data"]


def test_a_split_file_from_before_finds_its_images_in_the_moved_store(tmp_path):
    new_split = tmp_path / "new" / "runs" / "store" / "splits" / "toybirds-x.json"
    old_root = "/old/scratch/runs/store/datasets/toybirds-abc"
    assert _resolve_root(old_root, new_split, None) == str(new_split.resolve().parent.parent / "datasets" / "toybirds-abc")
    assert _resolve_root({"in_store": "datasets/t"}, new_split, None) == str(new_split.resolve().parent.parent / "datasets/t")
