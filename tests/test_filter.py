"""The filter step: its own folder keyed by (pool, scorer, fraction), the pool never rewritten, and
the order baseline -> filter -> filtered members enforced; scorers are a tiny CLIP built from config
and the kit's own classifier."""
from __future__ import annotations

import hashlib
import json

import pytest

from diffmix_utils import artifacts, filtering, jobs, params, train
from diffmix_utils.filtering import mark
from diffmix_utils.filtering.__main__ import main as filter_main
from diffmix_utils.finetune import run_finetune
from diffmix_utils.synthesize import run_synthesis

from .conftest import tiny_params


def _fingerprint(folder) -> dict:
    """Every file of a folder with the sha1 of its bytes."""
    return {str(f.relative_to(folder)): hashlib.sha1(f.read_bytes()).hexdigest()
            for f in sorted(folder.rglob("*")) if f.is_file()}


def test_mark_drops_the_lowest_fraction_deterministically():
    rows = [{"task": i} for i in range(10)]
    marked = mark(rows, [0.5, 0.1, 0.9, 0.1, 0.7, 0.3, 0.8, 0.2, 0.6, 0.4], 0.2)
    assert [r["task"] for r in marked if not r["kept"]] == [1, 3]
    with pytest.raises(ValueError, match="fraction = 1.0 is out of range"):
        mark(rows, [0.0] * 10, 1.0)


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


def test_clip_filter_writes_its_own_folder_and_by_hand_matches_the_parameter_file(finetuned, tmp_path):
    p, _ = finetuned
    clip = str(tiny_clip(tmp_path / "clip"))
    member = params.expand_sweep(tiny_params(p["workdir"], filter={"scorer": "clip", "model": clip,
                                                                       "fraction": 0.25}))[0]
    pool = run_synthesis(member)
    before = _fingerprint(pool)
    out = artifacts.filter_dir(member)
    assert out.parent.name == "filter" and not artifacts.is_done(out)
    assert filter_main([str(pool), "--scorer", "clip", "--model", clip, "--fraction", "0.25",
                        "--superclass", "bird"]) == 0  # by hand: the folder the parameter file reads
    assert artifacts.is_done(out) and _fingerprint(pool) == before  # the pool is never rewritten
    scores, rows = artifacts.read_scores(out), artifacts.read_manifest(pool)
    assert sorted(scores) == [r["task"] for r in rows] and all(0 <= s["score"] <= 1 for s in scores.values())
    assert sum(1 - s["kept"] for s in scores.values()) == int(0.25 * len(rows))
    assert filtering.run_filter(member) == out  # complete: not scored again


def test_classifier_filter_runs_between_the_baseline_and_the_members_that_read_it(tmp_path):
    p = tiny_params(tmp_path, filter={"scorer": "classifier", "fraction": 0.25},
                    finetune={"steps": 2}, train={"epochs": 1},
                    sweep={"synthesize.strategy": ["none", "diff-mix"], "seed": [0, 1]})
    members = params.expand_sweep(p)
    mix = [m for m in members if m["synthesize"]["strategy"] == "diff-mix"]
    run_finetune(mix[0])
    pool = run_synthesis(mix[0])
    before = _fingerprint(pool)
    assert {artifacts.filter_dir(m) for m in mix} == {artifacts.filter_dir(mix[0])}  # one filter per pool
    with pytest.raises(FileNotFoundError, match="not trained yet"):
        filtering.run_stage(p)  # the scorer (the run's baseline) must exist first
    with pytest.raises(FileNotFoundError, match="scores .* are not complete"):
        train.run_training(mix[0])  # a member reading a filtered pool needs the filter first
    first = train.run_stage(p, before_filter=True)
    scorer = artifacts.train_dir(artifacts.filter_scorer(mix[0]))
    assert scorer in first and all(artifacts.is_done(f) for f in first)
    assert not any(artifacts.is_done(artifacts.train_dir(m)) for m in mix)
    member = tmp_path / "member.json"  # as an executor runs it: python -m diffmix_utils.filtering --member-json
    member.write_text(json.dumps(mix[0]))
    assert filter_main(["--member-json", str(member)]) == 0
    [out] = filtering.run_stage(p)  # complete now: the same folder
    assert out == artifacts.filter_dir(mix[0])
    done = artifacts.read_json(out / "done.json")
    assert done["scorer"] == "classifier" and done["model"] == str(scorer) and done["dropped"] == int(0.25 * len(
        artifacts.read_manifest(pool)))
    assert _fingerprint(pool) == before
    kept = {t for t, s in artifacts.read_scores(out).items() if s["kept"]}
    rows, _ = train.synthetic_rows(mix[0])
    assert {r["task"] for r in rows} == kept  # training reads only the kept rows
    train.run_stage(p)
    assert jobs.stage_complete(p, "train")
