"""Data parallelism's rules: the global batch splits evenly, a notebook without CUDA uses one process (that two
gloo processes give what one gives is in tests_process/test_multiprocess.py)."""
from __future__ import annotations

import pytest
import torch

from diffmix_utils import distributed


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


