"""A corrupted artifact is detected, not trusted: a truncated safetensors file, a manifest row that
points at a missing image, a split file edited by hand, a broken resume state -- each is one
``ArtifactError`` naming the file and how to rebuild it."""
from __future__ import annotations

import json
import shutil

import pytest

from diffmix_utils import artifacts, params
from diffmix_utils.atomic import ArtifactError
from diffmix_utils.data import ensure_split, load_split
from diffmix_utils.models.base import apply_finetune
from diffmix_utils.models.classifiers import load_trained_classifier
from diffmix_utils.synthesize import run_synthesis

from conftest import tiny_params


def _truncate(path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


def test_a_truncated_lora_file_is_refused_naming_it(finetuned, tmp_path):
    _, folder = finetuned
    broken = tmp_path / "finetune"
    shutil.copytree(folder, broken)
    _truncate(broken / "pytorch_lora_weights.safetensors")
    pipe = None  # the check comes before the stock loaders touch the pipeline
    with pytest.raises(ArtifactError, match=r"pytorch_lora_weights\.safetensors.*(incomplete|invalid).*delete "
                                            r".*rerun the finetune stage"):
        apply_finetune(pipe, broken, lora=True, embeddings=False)
    _truncate(broken / "learned_embeds.safetensors", 0.01)
    with pytest.raises(ArtifactError, match=r"learned_embeds\.safetensors"):
        apply_finetune(pipe, broken, lora=False, embeddings=True)


def test_a_manifest_row_pointing_at_a_missing_image_is_refused(finetuned, tmp_path, monkeypatch):
    p, _ = finetuned
    member = params.expand_sweep(p)[0]
    pool = tmp_path / "pool"
    shutil.copytree(run_synthesis(member), pool)
    rows = artifacts.read_manifest(pool)
    (pool / rows[1]["path"]).unlink()
    with pytest.raises(ArtifactError, match=rf"manifest\.csv.*lists '{rows[1]['path']}', which is missing; "
                                            r"delete .*pool.* rerun the synthesize stage"):
        artifacts.read_manifest(pool)
    from diffmix_utils import train  # the training stage reads the pool through the same check
    monkeypatch.setattr(train.stage.artifacts, "synthesis_dir", lambda _: pool)
    with pytest.raises(ArtifactError, match="which is missing"):
        train.synthetic_rows(member)
    (pool / "manifest.csv").write_text((pool / "manifest.csv").read_text().splitlines()[0] + "\n")
    with pytest.raises(ArtifactError, match=r"lists 0 images but the pool has \d+"):
        artifacts.read_manifest(pool)


def test_a_split_file_edited_by_hand_is_refused(tmp_path):
    p = tiny_params(tmp_path)
    path = artifacts.split_path(p)
    split = ensure_split(path, p["data"], artifacts.store(p) / "datasets")
    assert load_split(path) == split
    edited = {**split, "train": split["train"][1:]}
    path.write_text(json.dumps(edited))
    with pytest.raises(ArtifactError, match=r"split file .* was changed after the kit wrote it .* delete it and "
                                            r"rerun to rebuild it"):
        ensure_split(path, p["data"], artifacts.store(p) / "datasets")
    path.write_text('{"train": [1, 2')
    with pytest.raises(ArtifactError, match="cannot be read"):
        load_split(path)


def test_a_truncated_classifier_is_refused_naming_it(tmp_path):
    folder = tmp_path / "train" / "abc"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps({"backbone": "resnet18", "image_size": 32}))
    (folder / "last.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(ArtifactError, match=r"last\.safetensors.*rerun the train stage"):
        load_trained_classifier(folder)
