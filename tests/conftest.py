"""Shared fixtures: a tiny parameter set and a work folder reused by the stage tests."""
from __future__ import annotations

import os

import pytest
from hypothesis import settings

from diffmix_utils import params

# Property tests: ``ci`` (make test) is derandomized (a fixed seed) and short; ``fuzz`` (make fuzz)
# searches deeper with fresh randomness. Validation and image I/O have no meaningful deadline.
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=150, print_blob=True)
settings.register_profile("fuzz", deadline=None, max_examples=3000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def tiny_params(workdir, **sections) -> dict:
    """A resolved parameter dict small enough for a unit test (4 classes, 64 px)."""
    raw = {"name": "t", "workdir": str(workdir), "device": "cpu",
           "data": {"num_classes": 4, "train_per_class": 6, "test_per_class": 3, "val_fraction": 0.2},
           "finetune": {"steps": 3, "batch_size": 2},
           "synthesize": {"multiplier": 1.0, "steps": 3, "batch_size": 4, "num_processes": 1},
           "train": {"image_size": 32, "epochs": 2, "batch_size": 8, "p": 0.5}}
    for key, value in sections.items():
        if isinstance(value, dict):
            raw.setdefault(key, {}).update(value)
        else:
            raw[key] = value
    return params.resolve(raw)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    """One store shared by the stage tests, so the tiny model and dataset are made once."""
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="session")
def finetuned(workdir):
    from diffmix_utils.finetune import run_finetune
    p = tiny_params(workdir)
    return p, run_finetune(p)
