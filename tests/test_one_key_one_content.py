"""One key, one content: what decides an artifact's bytes is in its key or fixed. The torch thread
count of every CPU job is fixed by default (whatever the executor, the workers or the machine's cores)
and, set to another value, part of the keys it shapes; how the jobs are run is in no key. The
process-level half (two executors, two orders, two thread counts, byte for byte) is
``tests_process/test_local_executor.py``."""
from __future__ import annotations

import os

import torch
from conftest import tiny_params

from diffmix_utils import artifacts, devices
from diffmix_utils.executors.local import LocalBackend


def _keys(p: dict) -> dict:
    return {"finetune": artifacts.finetune_key(p), "pool": artifacts.synthesis_key(p),
            "filter": artifacts.filter_key(p), "train": artifacts.train_key(p)}


def test_a_thread_count_other_than_the_default_is_another_key_and_how_jobs_run_is_in_none(workdir):
    p = tiny_params(workdir, synthesize={"strategy": "diff-mix"}, filter={"scorer": "clip"})
    assert p["cluster"]["cpu_threads"] == 1 and p["synthesize"]["cpu_threads"] == 1  # fixed by default
    base = _keys(p)
    threads = _keys(tiny_params(workdir, synthesize={"strategy": "diff-mix"}, filter={"scorer": "clip"},
                                cluster={"cpu_threads": 2}))
    assert all(threads[k] != base[k] for k in ("finetune", "pool", "filter", "train"))  # the pool reads the fine-tune
    pool_threads = _keys(tiny_params(workdir, synthesize={"strategy": "diff-mix", "cpu_threads": 2},
                                     filter={"scorer": "clip"}))
    assert pool_threads["finetune"] == base["finetune"] and pool_threads["pool"] != base["pool"]
    for how in ({"executor": "local", "workers": 2}, {"executor": "slurm", "workers": 7, "retries": 3},
                {"gpus_per_job": 0, "cpus_per_job": 2, "time_min": 5}):
        assert _keys(tiny_params(workdir, synthesize={"strategy": "diff-mix"}, filter={"scorer": "clip"},
                                 cluster=how)) == base, how
    assert _keys(tiny_params(workdir, synthesize={"strategy": "diff-mix"}, filter={"scorer": "clip"},
                             deterministic=True)) == base  # a GPU switch: recorded in provenance, not keyed


def test_every_cpu_job_runs_with_the_fixed_thread_count_whatever_the_cores(workdir):
    p = tiny_params(workdir)
    before = torch.get_num_threads()
    with devices.job_threads(p):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with devices.job_threads(tiny_params(workdir, cluster={"cpu_threads": 3})):
        assert torch.get_num_threads() == 3
    # a local worker is given the same count, however many workers share the machine
    assert LocalBackend(workdir, 2, 0, p["cluster"]["cpu_threads"]).threads == 1
    assert LocalBackend(workdir, 1, 0, p["cluster"]["cpu_threads"]).threads == 1


def test_the_deterministic_switch_sets_what_makes_cuda_kernels_repeat_and_says_so():
    saved = devices.deterministic_state()
    env = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    try:
        state = devices.deterministic_kernels(True)
        assert state == {"deterministic_algorithms": True, "cudnn_benchmark": False, "cudnn_deterministic": True,
                         "cublas_workspace_config": env or devices.CUBLAS_WORKSPACE}
        assert devices.deterministic_kernels(False)["deterministic_algorithms"] is False
    finally:
        torch.use_deterministic_algorithms(saved["deterministic_algorithms"])
        torch.backends.cudnn.benchmark = saved["cudnn_benchmark"]
        torch.backends.cudnn.deterministic = saved["cudnn_deterministic"]
        if env is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
