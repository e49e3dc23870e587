"""What the slurm executor tells a user when the cluster cannot run a job as asked (``slurm_queue``): the
setting to change, read from sbatch's own error or from the node sizes sinfo reports. The same cases
run against a real one-node cluster in tests_cluster/test_slurm.py."""
from __future__ import annotations

import subprocess

import pytest

from diffmix_utils import params
from diffmix_utils.executors import slurm_queue

GRES = ("submitit.core.utils.FailedJobError: Could not submit job.\nsbatch: error: Invalid generic resource (gres) "
        "specification\n")


def _cluster(**sets) -> dict:
    return params.resolve({"cluster": sets})["cluster"]


def _sinfo(monkeypatch, lines: str):
    def fake(cmd, **kwargs):
        assert cmd[0] == "sinfo"
        return subprocess.CompletedProcess(cmd, 0, lines, "")
    monkeypatch.setattr(slurm_queue.subprocess, "run", fake)


def test_a_refused_gpu_request_names_the_flag_for_a_cpu_partition():
    line = slurm_queue.refused(GRES, "finetune/abc", _cluster())
    assert line.startswith("SLURM refused the job finetune/abc: sbatch: error: Invalid generic resource (gres)")
    assert "cluster.gpus_per_job = 1" in line and "--gpus-per-job 0" in line


@pytest.mark.parametrize("said, names", [("sbatch: error: invalid partition specified: gpu", "--slurm-partition"),
                                         ("sbatch: error: Requested time limit is invalid", "--slurm-time"),
                                         ("sbatch: error: Memory specification can not be satisfied",
                                          "cluster.mem_gb")])
def test_each_refusal_names_its_setting(said, names):
    assert names in slurm_queue.refused(said, "train/x", _cluster())


def test_a_reason_that_never_clears_names_what_is_over_the_largest_node(monkeypatch):
    _sinfo(monkeypatch, "2|8000|(null)\n")
    line = slurm_queue.never_clears("17", "finetune/abc", "PartitionConfig", _cluster(gpus_per_job=0))
    assert line.startswith("SLURM job 17 (finetune/abc) is pending with Reason=PartitionConfig")
    assert "cluster.cpus_per_job = 8 but the largest node has 2 CPUs (--cpus-per-job 2)" in line
    _sinfo(monkeypatch, "64|512000|gpu:a100:4\n")
    line = slurm_queue.never_clears("18", "train/x", "PartitionConfig", _cluster(gpus_per_job=8))
    assert "cluster.gpus_per_job = 8 but the largest node has 4 GPUs" in line and "cpus_per_job" not in line.split(":")[1]
    _sinfo(monkeypatch, "64|512000|gpu:4\n")
    line = slurm_queue.never_clears("19", "train/x", "QOSMaxWallDurationPerJobLimit", _cluster())
    assert "scontrol show partition" in line and "cluster.time_min = 720" in line  # nothing over the node: the request


def test_only_reasons_that_never_clear_are_listed():
    assert "PartitionConfig" in slurm_queue.NEVER_CLEARS
    assert not {"Resources", "Priority", "Dependency", "ReqNodeNotAvail", "BeginTime"} & set(slurm_queue.NEVER_CLEARS)
