"""Data parallelism: 2 gloo processes on CPU (the path 2 GPUs take) give what 1 process gives."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from diffmix_utils import artifacts, distributed
from diffmix_utils.finetune import run_finetune

from .conftest import tiny_params


def _weights(out):
    return {**load_file(str(out / "pytorch_lora_weights.safetensors")),
            **load_file(str(out / "learned_embeds.safetensors"))}


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


def test_global_batch_must_split_evenly():
    with pytest.raises(ValueError, match="finetune.batch_size = 3 .* multiple of 2"):
        distributed.global_batch_share(3, 2, "finetune")
    assert distributed.split_evenly(list(range(7)), 2, 3) == [5, 6]
    assert sum(len(distributed.split_evenly(list(range(7)), r, 3)) for r in range(3)) == 7


def test_notebook_run_without_cuda_uses_one_process(capsys):
    assert distributed.wanted_processes(4, "cpu", "finetune") == 1
    assert "no CUDA device" in capsys.readouterr().out
    if not torch.cuda.is_available():
        return
    with pytest.raises(ValueError, match="train.num_processes = 999"):
        distributed.wanted_processes(999, "cuda", "train")


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
