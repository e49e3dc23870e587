"""The process-level runs of the stages: two data-parallel processes (gloo on CPU, the path two GPUs take)
give what one gives, for fine-tuning, training and synthesis; a synthesis killed with SIGKILL resumes to
the uninterrupted files; a notebook that fails stops the runner naming it. Each starts real processes (a
minute in all), so they run in ``make test-process``, beside the signal tests."""
from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

from conftest import tiny_params
from diffmix_utils import artifacts, distributed, params
from diffmix_utils.data import ensure_split
from diffmix_utils.finetune import run_finetune
from diffmix_utils.strategies import pool_size
from diffmix_utils.synthesize import run_synthesis

ROOT = Path(__file__).resolve().parent.parent


def _weights(out):
    return {**load_file(str(out / "pytorch_lora_weights.safetensors")),
            **load_file(str(out / "learned_embeds.safetensors"))}


def _split(p):
    return ensure_split(artifacts.split_path(p), p["data"], artifacts.store(p) / "datasets")


def _hashes(folder):
    return {f.relative_to(folder): hashlib.sha1(f.read_bytes()).hexdigest() for f in folder.rglob("*.png")}


def test_two_process_finetune_equals_one_process(tmp_path):
    # deterministic transforms: then the global batch's noise, timesteps and samples are the same
    ft = {"steps": 4, "batch_size": 4, "center_crop": True, "random_flip": False, "checkpoint_every": 2}
    one = run_finetune(tiny_params(tmp_path / "one", finetune=ft))
    p = tiny_params(tmp_path / "two", finetune=ft)
    out = artifacts.finetune_dir(p)
    distributed.launch("finetune", p, 2, tmp_path / "launch", out)
    assert json.loads((out / "done.json").read_text())["processes"] == 2
    a, b = _weights(one), _weights(out)
    assert a.keys() == b.keys()
    worst = max((a[k] - b[k]).abs().max().item() for k in a)
    print(f"max |1 process - 2 processes| = {worst:.2e}")
    assert worst < 1e-5
    la = [json.loads(x)["loss"] for x in (one / "log.jsonl").read_text().splitlines()]
    lb = [json.loads(x)["loss"] for x in (out / "log.jsonl").read_text().splitlines()]
    assert la == pytest.approx(lb, abs=1e-5)  # rank losses are averaged into the global batch's loss


def test_two_process_training_equals_one_process(tmp_path):
    # a BatchNorm-free model (a 2-block ViT): on CPU there is no SyncBatchNorm, on CUDA the kit uses it
    train = {"backbone": "vit_tiny_patch16_224", "model_kwargs": {"img_size": 32, "patch_size": 8, "depth": 2},
             "batch_size": 6, "epochs": 2, "p": 0.0, "lr": 0.01}
    from diffmix_utils.train import run_training
    # an odd number of training images: the last global batch splits unevenly over 2 processes
    data = {"num_classes": 3, "train_per_class": 7}
    one = run_training(tiny_params(tmp_path / "one", train=train, data=data, synthesize={"strategy": "none"}))
    assert json.loads((one / "result.json").read_text())["num_train"] % 6 in (1, 3, 5)
    p = tiny_params(tmp_path / "two", train=train, data=data, synthesize={"strategy": "none"})
    two = distributed.launch("train", p, 2, tmp_path / "launch", artifacts.train_dir(p))
    m1 = [json.loads(x) for x in (one / "metrics.jsonl").read_text().splitlines()]
    m2 = [json.loads(x) for x in (two / "metrics.jsonl").read_text().splitlines()]
    for a, b in zip(m1, m2, strict=True):
        print(a["train_loss"], b["train_loss"], a["test_acc"], b["test_acc"])
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-4)
        assert (a["val_acc"], a["test_acc"]) == (b["val_acc"], b["test_acc"])
    w1, w2 = load_file(str(one / "last.safetensors")), load_file(str(two / "last.safetensors"))
    worst = max((w1[k] - w2[k]).abs().max().item() for k in w1)
    print(f"max |1 process - 2 processes| weight = {worst:.2e}")
    assert worst < 1e-4


def test_images_and_manifest_are_identical_for_one_and_two_processes_and_lanes(tmp_path):
    runs = {}
    for n, lanes in ((1, 1), (2, None), (1, 3)):
        p = tiny_params(tmp_path / f"n{n}-{lanes}", synthesize={"strategy": "real-mix", "num_processes": n,
                                                                "cpu_workers": lanes, "batch_size": 3})
        p = params.expand_sweep(p)[0]
        out = run_synthesis(p)
        files = sorted(f.relative_to(out) for f in (out / "images").rglob("*.png"))
        runs[n, lanes] = (files, {f: (out / f).read_bytes() for f in files}, (out / "manifest.csv").read_text())
    one = runs[1, 1]
    assert len(one[0]) > 3
    assert runs[2, None] == one and runs[1, 3] == one  # the same files, byte-identical images, same manifest


def test_kill_9_mid_run_then_resume_ends_with_the_uninterrupted_files(tmp_path):
    runs = {}
    for case in ("clean", "killed"):
        p = tiny_params(tmp_path / case, synthesize={"strategy": "real-mix", "multiplier": 2.0, "steps": 10,
                                                     "batch_size": 2})
        out = artifacts.synthesis_dir(p)
        if case == "killed":
            _split(p)  # the split and the model exist before the clock starts
            (tmp_path / "p.yaml").write_text(yaml.safe_dump(p))
            proc = subprocess.Popen([sys.executable, "-m", "diffmix_utils.synthesize", str(tmp_path / "p.yaml")])
            while len(list(out.rglob("*.png"))) < 4 and proc.poll() is None and time.sleep(0.02) is None:
                pass
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            made, total = len(list(out.rglob("*.png"))), pool_size(p["synthesize"], len(_split(p)["train"]))
            assert 4 <= made < total and not (out / "manifest.csv").exists()  # killed mid-run
        assert run_synthesis(p) == out
        runs[case] = (_hashes(out), (out / "manifest.csv").read_bytes(), (out / "plan.csv").read_bytes())
        assert not [f for f in out.rglob("*") if f.name.startswith(".")]  # no partial file left
    assert runs["killed"] == runs["clean"] and len(runs["clean"][0]) == total


def test_a_failing_notebook_stops_the_run_naming_notebook_and_error(tmp_path):
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    r = subprocess.run([sys.executable, "-m", "diffmix_utils.run", str(ROOT / "params" / "smoke.yaml"),
                        "--set", f"workdir={tmp_path / 'runs'}", "--set", f"model.base={empty}"],
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert "stage 'finetune' failed in" in last and "01_finetune.ipynb" in last and "OSError" in last

