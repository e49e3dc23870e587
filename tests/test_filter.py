"""The synthetic-pool filter: a tiny CLIP built from config and the kit's own classifier as scorers."""
from __future__ import annotations

import shutil

import pytest

from diffmix_utils import artifacts, params
from diffmix_utils.filter import filter_pool, mark
from diffmix_utils.synthesize import run_synthesis
from diffmix_utils.train import run_training


def test_mark_drops_the_lowest_fraction_deterministically():
    rows = [{"task": i} for i in range(10)]
    marked = mark(rows, [0.5, 0.1, 0.9, 0.1, 0.7, 0.3, 0.8, 0.2, 0.6, 0.4], 0.2)
    assert [r["task"] for r in marked if not r["kept"]] == [1, 3]
    with pytest.raises(ValueError, match="fraction = 1.0 is out of range"):
        mark(rows, [0.0] * 10, 1.0)


@pytest.fixture
def pool(finetuned, tmp_path):
    """A private copy of the shared synthetic pool (filtering rewrites its manifest)."""
    p, _ = finetuned
    member = params.expand_sweep(p)[0]
    copy = tmp_path / "pool"
    shutil.copytree(run_synthesis(member), copy)
    return member, copy


def tiny_clip(folder):
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor
    from diffmix_utils.models.clip_vocab import load_tokenizer
    config = CLIPConfig(text_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                                     "num_attention_heads": 2, "vocab_size": 49408},
                        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                                       "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
                        projection_dim=16)
    CLIPModel(config).save_pretrained(folder)
    CLIPProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
                  tokenizer=load_tokenizer()).save_pretrained(folder)
    return folder


def test_clip_filter_marks_the_manifest_and_keeps_the_images(pool, tmp_path):
    p, folder = pool
    before = artifacts.read_manifest(folder)
    summary = filter_pool(folder, "clip", str(tiny_clip(tmp_path / "clip")), 0.25, "bird")
    rows = artifacts.read_manifest(folder)
    assert summary["dropped"] == int(0.25 * len(rows)) and len(rows) == len(before)
    assert all(0 <= r["score"] <= 1 for r in rows) and all((folder / r["path"]).is_file() for r in rows)
    assert [r["task"] for r in rows] == [r["task"] for r in before]


def test_classifier_filter_and_training_reads_only_kept_rows(pool, monkeypatch):
    p, folder = pool
    baseline = {**p, "synthesize": {**p["synthesize"], "strategy": "none"}, "train": {**p["train"], "p": 0.0}}
    clf = run_training(baseline)
    summary = filter_pool(folder, "classifier", str(clf), 0.5)
    assert summary["kept"] == len(artifacts.read_manifest(folder)) - summary["dropped"]
    from diffmix_utils import train
    monkeypatch.setattr(train.artifacts, "synthesis_dir", lambda _: folder)
    rows, _ = train.synthetic_rows(p)
    assert len(rows) == summary["kept"]


def test_synthesize_stage_filters_with_the_runs_own_baseline(tmp_path):
    from .conftest import tiny_params
    p = tiny_params(tmp_path, synthesize={"filter": "classifier", "filter_fraction": 0.25, "multiplier": 1.0},
                    finetune={"steps": 2})
    member = params.expand_sweep(p)[0]
    from diffmix_utils.finetune import run_finetune
    run_finetune(member)
    out = run_synthesis(member)
    done = artifacts.read_json(out / "done.json")
    rows = artifacts.read_manifest(out)
    assert done["filter"]["scorer"] == "classifier" and done["filter"]["dropped"] == int(0.25 * len(rows))
    assert sum(1 - r["kept"] for r in rows) == done["filter"]["dropped"]
    baseline = [m for m in params.expand_sweep({**p, "sweep": {"synthesize.strategy": ["none"]}})][0]
    assert artifacts.is_done(artifacts.train_dir(baseline))  # the train stage reuses the scorer's baseline
    assert done["filter"]["model"] == str(artifacts.train_dir(baseline))
