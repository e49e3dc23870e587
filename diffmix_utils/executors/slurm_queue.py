"""What SLURM says about the runner's jobs, and what it means for a user: the queue's states and pending
reasons (``squeue``), the nodes' sizes (``sinfo``), and, where a job can never start as asked (a
submission refused, or a pending reason that waiting does not clear), one line naming the kit setting
to change. Read by ``slurm.SlurmBackend``; no state of its own but a short-lived copy of the queue.
"""
from __future__ import annotations

import re
import subprocess
import time

# pending reasons that do not clear by waiting: the job asks what the partition, its nodes or the
# account's limits never give (squeue --format=%r; SLURM's "JOB REASON CODES")
NEVER_CLEARS = ("PartitionConfig", "PartitionNodeLimit", "PartitionTimeLimit", "BadConstraints",
                "InvalidAccount", "InvalidQOS", "QOSMaxCpuPerJobLimit", "QOSMaxGRESPerJob",
                "QOSMaxMemoryPerJob", "QOSMaxWallDurationPerJobLimit", "QOSMaxNodePerJobLimit",
                "AssocMaxCpuPerJobLimit", "AssocMaxGRESPerJob", "AssocMaxMemPerJob",
                "AssocMaxWallDurationPerJobLimit", "AssocMaxNodePerJobLimit")
FLAGS = {"cpus_per_job": "--cpus-per-job N", "gpus_per_job": "--gpus-per-job N",
         "mem_gb": "--set cluster.mem_gb=G", "time_min": "--slurm-time MINUTES", "partition": "--slurm-partition NAME"}


class Queue:
    """This user's jobs as ``squeue`` lists them, read at most every ``every`` seconds: {id: (state, reason)}."""

    def __init__(self, every: float = 2.0):
        self.every, self.read_at, self.jobs = every, 0.0, {}

    def snapshot(self) -> dict[str, tuple[str, str]]:
        if time.time() - self.read_at >= self.every:
            out = subprocess.run(["squeue", "--noheader", "--me", "--format=%i|%T|%r"], capture_output=True,
                                 text=True)
            if out.returncode == 0:  # a failed squeue (the controller restarting) keeps the last view
                self.jobs = {i: (state, reason) for i, state, reason in
                             (line.strip().split("|", 2) for line in out.stdout.splitlines() if line.count("|") == 2)}
                self.read_at = time.time()
        return self.jobs


def largest_node() -> dict:
    """The partition's largest node as ``sinfo`` reports it: CPUs, memory (MB) and GPUs (0 when none)."""
    out = subprocess.run(["sinfo", "--noheader", "--Node", "--format=%c|%m|%G"], capture_output=True, text=True)
    best = {"cpus": 0, "mem_mb": 0, "gpus": 0}
    for line in out.stdout.splitlines():
        cpus, mem, gres = (line.strip().split("|") + ["", "", ""])[:3]
        gpus = sum(int(n) for n in re.findall(r"gpu(?::[\w-]+)?:(\d+)", gres))
        best = {"cpus": max(best["cpus"], int(cpus or 0)), "mem_mb": max(best["mem_mb"], int(re.sub(r"\D", "", mem) or 0)),
                "gpus": max(best["gpus"], gpus)}
    return best


def asked(cluster: dict) -> str:
    """The job's request as the kit's settings name it."""
    return ", ".join(f"cluster.{k} = {cluster[k]}" for k in ("cpus_per_job", "gpus_per_job", "mem_gb", "time_min",
                                                             "partition"))


def too_large(cluster: dict, node: dict) -> list[str]:
    """The settings that ask more than the largest node has, each with the value it has."""
    out = []
    if node["cpus"] and cluster["cpus_per_job"] > node["cpus"]:
        out.append(f"cluster.cpus_per_job = {cluster['cpus_per_job']} but the largest node has {node['cpus']} CPUs "
                   f"(--cpus-per-job {node['cpus']})")
    if cluster["gpus_per_job"] > node["gpus"]:
        out.append(f"cluster.gpus_per_job = {cluster['gpus_per_job']} but the largest node has "
                   f"{node['gpus'] or 'no'} GPUs (--gpus-per-job {node['gpus']})")
    if cluster["mem_gb"] and node["mem_mb"] and cluster["mem_gb"] * 1024 > node["mem_mb"]:
        out.append(f"cluster.mem_gb = {cluster['mem_gb']} but the largest node has {node['mem_mb']} MB")
    return out


def never_clears(job_id: str, name: str, reason: str, cluster: dict) -> str:
    """The one line for a job pending with ``reason`` (one of ``NEVER_CLEARS``)."""
    fix = too_large(cluster, largest_node()) or [f"the job asks {asked(cluster)}; compare with `scontrol show "
                                                 "partition` and change the setting that is over its limits"]
    return (f"SLURM job {job_id} ({name}) is pending with Reason={reason}, which waiting does not clear: "
            f"{'; '.join(fix)}")


def refused(error: str, name: str, cluster: dict) -> str:
    """The one line for a submission sbatch refused (``error``: what submitit raised)."""
    said = next((line.strip() for line in str(error).splitlines() if "sbatch: error" in line), str(error).strip()[-300:])
    low = said.lower()
    if "partition" in low and "gres" not in low:
        fix = f"cluster.partition = {cluster['partition']!r}: name one that `sinfo` lists ({FLAGS['partition']})"
    elif "gres" in low or "gpu" in low:
        fix = (f"cluster.gpus_per_job = {cluster['gpus_per_job']} asks GPUs this cluster's partition does not offer; "
               "on a CPU partition pass --gpus-per-job 0")
    elif "time limit" in low:
        fix = f"cluster.time_min = {cluster['time_min']} is over the partition's limit ({FLAGS['time_min']})"
    elif "memory" in low or "mem" in low:
        fix = f"cluster.mem_gb = {cluster['mem_gb']} is more than a node has ({FLAGS['mem_gb']})"
    elif "cpu" in low:
        fix = f"cluster.cpus_per_job = {cluster['cpus_per_job']} is more than a node has ({FLAGS['cpus_per_job']})"
    else:
        fix = f"the job asked {asked(cluster)}"
    return f"SLURM refused the job {name}: {said}; {fix}"
