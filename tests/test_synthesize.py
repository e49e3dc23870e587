"""Synthesis stage: deterministic plan, fixed batches, manifest contract, resume after a kill."""
from __future__ import annotations

import csv
import hashlib

import numpy as np

from diffmix_utils import artifacts
from diffmix_utils.data import ensure_split
from diffmix_utils.strategies import STRATEGIES, get_strategy
from diffmix_utils.synthesize.plan import make_batches, plan_tasks, task_seed
from diffmix_utils.strategies import pool_size
from diffmix_utils.synthesize import run_synthesis
from diffmix_utils import params

from .conftest import tiny_params


def _split(p):
    return ensure_split(artifacts.split_path(p), p["data"], artifacts.store(p) / "datasets")


def test_strategy_registry_matches_the_schema():
    assert set(STRATEGIES) == set(params.STRATEGIES) - {"none"}
    assert get_strategy("diff-mix").prompt(3, ["a"] * 4, "bird") == "a photo of a <class_3> bird"
    assert get_strategy("real-mix").prompt(1, ["x", "Red Fork"], "bird") == "a photo of a Red Fork bird"
    assert get_strategy("diff-mix").prompt(1, ["x", "Red Fork"], "bird", have_tokens=False).endswith("Red Fork bird")


def test_plan_is_a_pure_function_of_the_parameters(workdir):
    p = tiny_params(workdir)
    split = _split(p)
    a, b = plan_tasks(p, split), plan_tasks(p, split)
    assert a == b and len(a) == len(split["train"])
    assert all(split["items"][t["source_index"]]["label"] == t["source_class"] for t in a)
    assert all(t["source_index"] in split["train"] for t in a)
    assert any(t["source_class"] != t["target_class"] for t in a)  # inter-class
    aug = plan_tasks(tiny_params(workdir, synthesize={"strategy": "diff-aug"}), split)
    assert all(t["source_class"] == t["target_class"] for t in aug)
    gen = plan_tasks(tiny_params(workdir, synthesize={"strategy": "diff-gen"}), split)
    assert all(t["strength"] == 1.0 and t["source_index"] == -1 for t in gen)
    uni = plan_tasks(tiny_params(workdir, synthesize={"strength_choices": [0.4, 0.9], "multiplier": 4.0}), split)
    assert {t["strength"] for t in uni} == {0.4, 0.9}
    assert task_seed(0, 5) == a[5]["seed"] != a[6]["seed"]


def test_batches_share_one_strength_and_keep_every_task(workdir):
    p = tiny_params(workdir, synthesize={"strength_choices": [0.4, 0.5, 0.9], "multiplier": 3.0})
    tasks = plan_tasks(p, _split(p))
    batches = make_batches(tasks, 5)
    assert all(len({t["strength"] for t in b}) == 1 and len(b) <= 5 for b in batches)
    assert sorted(t["task"] for b in batches for t in b) == list(range(len(tasks)))


def _hashes(folder):
    return {f.relative_to(folder): hashlib.sha1(f.read_bytes()).hexdigest() for f in folder.rglob("*.png")}


def test_synthesis_writes_the_manifest_and_resumes_to_identical_files(finetuned):
    p, _ = finetuned
    out = run_synthesis(p)
    with open(out / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == artifacts.MANIFEST_COLUMNS
    assert all((out / r["path"]).is_file() for r in rows)
    first, manifest = _hashes(out), (out / "manifest.csv").read_bytes()
    # simulate a kill: some images, the manifest and the done marker are gone
    victims = sorted(out.rglob("*.png"))[::2]
    for f in victims:
        f.unlink()
    (out / "manifest.csv").unlink()
    (out / "done.json").unlink()
    assert run_synthesis(p) == out
    assert _hashes(out) == first and (out / "manifest.csv").read_bytes() == manifest
    assert not [f for f in out.rglob("*") if f.name.startswith(".")]  # no temp file left


def test_every_strategy_runs_on_the_tiny_model(finetuned):
    from PIL import Image
    p, _ = finetuned
    pixels = {}
    for name in STRATEGIES:
        m = params.expand_sweep(tiny_params(p["workdir"], synthesize={"strategy": name, "multiplier": 0.25}))[0]
        out = run_synthesis(m)
        with open(out / "manifest.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        strategy = get_strategy(name)
        assert len(rows) == pool_size(m["synthesize"], len(_split(m)["train"])) > 2
        assert {r["strategy"] for r in rows} == {name}
        for r in rows:
            with Image.open(out / r["path"]) as im:
                assert im.size == (64, 64)  # the source's size (toybirds 64 px), or the model's resolution
                pixels.setdefault(name, []).append(im.tobytes())
            assert (r["source_index"] == "-1") == (not strategy.img2img)
            if not strategy.inter_class:
                assert r["source_class"] == r["target_class"]
    # the mix strategies share one plan; the fine-tuned LoRA + tokens, the tokens alone and the class
    # names each give other images
    assert len({tuple(pixels[n]) for n in ("diff-mix", "real-mix", "ti-mix")}) == 3


def test_plan_class_distribution():
    counts = [40, 20, 10, 2]
    labels = [c for c, n in enumerate(counts) for _ in range(n)]
    split = {"classes": list("abcd"), "train": list(range(len(labels))), "items": [{"label": y} for y in labels]}
    p = params.resolve({"synthesize": {"multiplier": 250.0}})  # 18,000 tasks
    tasks = plan_tasks(p, split)
    n = len(tasks)
    source = np.bincount([t["source_class"] for t in tasks], minlength=4) / n
    target = np.bincount([t["target_class"] for t in tasks], minlength=4) / n
    assert np.abs(source - 0.25).max() < 0.015 and np.abs(target - 0.25).max() < 0.015  # uniform over classes
    pairs = np.bincount([4 * t["source_class"] + t["target_class"] for t in tasks], minlength=16) / n
    assert np.abs(pairs - 1 / 16).max() < 0.01  # target drawn independently of the source
    smallest = [t["source_index"] for t in tasks if t["source_class"] == 3]
    assert sorted(set(smallest)) == [70, 71] and abs(smallest.count(70) / len(smallest) - 0.5) < 0.05
    tail = plan_tasks(params.resolve({"synthesize": {"multiplier": 250.0, "target_sampling": "tail"}}), split)
    want = 1 / (np.array(counts) + 1)
    got = np.bincount([t["target_class"] for t in tail], minlength=4) / n
    assert np.abs(got - want / want.sum()).max() < 0.015
    assert [t["source_class"] for t in tail] == [t["source_class"] for t in tasks]  # only the targets change
    aug = plan_tasks(params.resolve({"synthesize": {"strategy": "diff-aug", "target_sampling": "tail"}}), split)
    assert all(t["source_class"] == t["target_class"] for t in aug)


def test_bad_inputs_stop_before_anything_is_written(finetuned, tmp_path, monkeypatch):
    import pytest

    p, ft = finetuned
    m = params.expand_sweep(tiny_params(p["workdir"], synthesize={"strategy": "diff-mix", "seed": 5}))[0]
    out = artifacts.synthesis_dir(m)
    lora = ft / "pytorch_lora_weights.safetensors"
    lora.rename(tmp_path / lora.name)
    try:
        with pytest.raises(FileNotFoundError, match="has no pytorch_lora_weights.safetensors, which strategy "
                                                    "'diff-mix' loads"):
            run_synthesis(m)
    finally:
        (tmp_path / lora.name).rename(lora)
    assert not out.exists()
    real = artifacts.open_split
    monkeypatch.setattr(artifacts, "open_split", lambda *a: (lambda s: {**s, "train": [
        i for i in s["train"] if s["items"][i]["label"] != 2]})(real(*a)))
    with pytest.raises(ValueError, match=r"class 2 \('.*'\) has no training image"):
        run_synthesis(m)
    assert not out.exists()
    with pytest.raises(params.ParamsError, match="'diff-mix' loads LoRA, which finetune.mode = 'ti_only' does not"):
        tiny_params(tmp_path, finetune={"mode": "ti_only"})
    with pytest.raises(params.ParamsError, match="'ti-mix' loads class tokens, which finetune.mode = 'lora_only'"):
        tiny_params(tmp_path, finetune={"mode": "lora_only"}, synthesize={"strategy": "ti-mix"})


def test_process_and_lane_counts_and_fixed_cpu_threads(workdir):
    import os

    import torch

    import pytest

    from diffmix_utils.synthesize.lanes import cpu_threads, lane_count, run_in_lanes
    from diffmix_utils.synthesize import process_count
    p = tiny_params(workdir, synthesize={"num_processes": None})
    assert process_count(p, "cpu", 100) == 1  # on CPU lanes share the cores, not processes
    assert process_count(tiny_params(workdir, synthesize={"num_processes": 3}), "cpu", 2) == 2  # <= batches
    cores = len(os.sched_getaffinity(0))
    assert lane_count(None, 1, 1, 100) == cores and lane_count(None, 2, 1, 100) == max(1, cores // 2)
    assert lane_count(None, 1, 1, 1) == 1 and lane_count(4, 1, 1, 100) == 4
    before = torch.get_num_threads()
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    done = []

    def work(lane, job):
        if job == 3:
            raise ValueError("job 3 failed")
        done.append((lane, job))
    with pytest.raises(ValueError, match="job 3 failed"):
        run_in_lanes(list(range(40)), 2, 1, work)
    assert max(j for _, j in done) <= 5  # every lane stopped after its job in flight
    assert torch.get_num_threads() == before
    done.clear()
    run_in_lanes(list(range(40)), 3, 1, lambda lane, job: done.append((lane, job)))
    assert sorted(j for _, j in done) == list(range(40)) and {lane for lane, _ in done} <= {0, 1, 2}  # each once


def test_synthesis_fuses_the_lora_into_the_weights_without_changing_the_model(finetuned):
    import torch

    from diffmix_utils.models.translate import load_strategy_pipeline
    p, _ = finetuned
    fused, _ = load_strategy_pipeline(p, get_strategy("diff-mix"), "cpu")
    assert all(layer.merged for name, layer in fused.unet.named_modules() if name.endswith("to_q"))
    plain, _ = load_strategy_pipeline(p, get_strategy("diff-mix"), "cpu", merge_lora=False)
    assert not any(layer.merged for name, layer in plain.unet.named_modules() if name.endswith("to_q"))
    x, t = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0)), torch.tensor(500)
    e = plain.text_encoder(plain.tokenizer(["a photo of a <class_1> bird"] * 2, return_tensors="pt",
                                           padding="max_length").input_ids)[0]
    with torch.no_grad():
        diff = (fused.unet(x, t, e).sample - plain.unet(x, t, e).sample).abs().max().item()
    assert 0 < diff < 1e-4  # merged weights: the same model up to float rounding


def test_synthesis_dtype_and_which_keys_shape_the_pool(workdir):
    import pytest
    import torch

    from diffmix_utils.models.translate import synthesis_dtype
    p = tiny_params(workdir)
    assert synthesis_dtype(p, "cpu") == torch.float32 and synthesis_dtype(p, "cuda:1") == torch.float16  # auto
    assert synthesis_dtype(tiny_params(workdir, synthesize={"dtype": "bf16"}), "cpu") == torch.bfloat16
    with pytest.raises(params.ParamsError, match="synthesize.dtype = 'fp8'"):
        tiny_params(workdir, synthesize={"dtype": "fp8"})
    key = artifacts.synthesis_dir(p)
    for speed_only in ({"cpu_workers": 3}, {"batch_size": 7}, {"num_processes": 2}):
        assert artifacts.synthesis_dir(tiny_params(workdir, synthesize=speed_only)) == key
    # the thread count changes the images' last bits: fixed at 1, and any other count is another pool
    for shaping in ({"dtype": "fp16"}, {"compile": True}, {"target_sampling": "tail"}, {"seed": 1},
                    {"cpu_threads": 2}):
        assert artifacts.synthesis_dir(tiny_params(workdir, synthesize=shaping)) != key


def test_compile_on_cpu_runs_one_batch_at_a_time_per_process(workdir):
    import os

    import pytest

    from diffmix_utils.synthesize import process_count
    cores = len(os.sched_getaffinity(0))
    compiled = tiny_params(workdir, synthesize={"compile": True, "num_processes": None})
    assert process_count(compiled, "cpu", 100) == cores  # processes, not threads, share the cores
    with pytest.raises(params.ParamsError, match="synthesize.cpu_workers = 2 with synthesize.compile = true"):
        tiny_params(workdir, synthesize={"compile": True, "cpu_workers": 2})
