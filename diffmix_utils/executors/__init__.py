"""Executors of the job graph (``graph``): ``serial`` (the default: the notebooks run every stage in
this process, one job after another), ``local`` (N worker processes here) and ``slurm`` (submitit).
Whatever ran the jobs, the runner then runs the four notebooks, which find every job complete and
render the reports, tables and figures.

- ``scheduler`` the loop they share: ready jobs, retries, failures named with their logs;
- ``local``     worker processes on this machine, one GPU or ``cluster.cpu_threads`` threads each;
- ``slurm``     SLURM jobs through submitit, requeued on preemption.
"""
from __future__ import annotations

import os

from .. import artifacts, graph
from . import scheduler


def run_graph(p: dict, say=print, stages: list[str] | None = None) -> list[str]:
    """Run the job graph of ``p`` with ``cluster.executor``; returns what failed (empty: all complete).
    With ``stages`` (``--only``), only those stages' jobs (the filter is part of ``train``); a job they
    need from another stage must be complete already."""
    cluster = p["cluster"]
    jobs = graph.build(p)
    if stages:
        chosen = set(stages) | ({"filter"} if "train" in stages else set())
        jobs = {f: j for f, j in jobs.items() if j.stage in chosen}
        unmet = [(j, n) for j in jobs.values() for n in j.needs if n not in jobs and not artifacts.is_done(n)]
        if unmet:
            job, need = unmet[0]
            return [f"{job.name}: not run: it needs {need.parent.name}/{need.name}, which is not complete and not "
                    f"in --only {' --only '.join(stages)} ({len(unmet)} such job(s)); run that stage first, or "
                    "run without --only"]
    if cluster["executor"] == "local":
        from .local import LocalBackend, gpu_count
        gpus = gpu_count() if p["device"] != "cpu" else 0
        workers = cluster["workers"] or gpus or os.cpu_count() or 1
        backend = LocalBackend(artifacts.run_dir(p), workers, gpus, cluster["cpu_threads"])
    elif cluster["executor"] == "slurm":
        from .slurm import SlurmBackend
        backend = SlurmBackend(artifacts.run_dir(p), cluster)
    else:
        raise ValueError(f"cluster.executor = {cluster['executor']!r} runs no job graph; valid: local, slurm")
    return scheduler.run(jobs, backend, cluster["retries"], say)
