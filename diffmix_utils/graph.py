"""The job graph of a parameter file: every artifact folder to make, what it reads, and its cost.

A job is one artifact folder of one stage (a fine-tune, a synthesis pool, a filter's scores, a
classifier), named by its stage and key; it ``needs`` the folders it reads: a pool its fine-tune
(for the strategies that use one), a filter its pool (and, for the ``classifier`` scorer, the
baseline it scores with), a classifier its pool or its filter. Every job runs alone as
``python -m diffmix_utils.<module> --member-json FILE``, so an executor (``executors``) may run any
job whose needs are complete, anywhere that sees the store. The analysis is not a job here: the
runner's notebooks make it once the graph is complete.

``plan_lines`` adds to ``--plan``: the jobs per stage, the critical path, and how long W workers
would take relative to one (list scheduling with each job weighted by its FLOPs, from ``costs``).
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from pathlib import Path

from . import artifacts, costs, jobs, stages

STAGES = stages.JOB_STAGES


@dataclass
class Job:
    stage: str
    folder: Path
    member: dict
    needs: list[Path] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.stage}/{self.folder.name}"

    @property
    def module(self) -> str:
        return stages.job_module(self.stage)


def _needs(stage: str, m: dict) -> list[Path]:
    if stage == "synthesize":
        return [artifacts.finetune_dir(m)] if artifacts.uses_finetune(m) else []
    if stage == "filter":
        scorer = artifacts.filter_scorer(m)
        return [artifacts.synthesis_dir(m)] + ([artifacts.train_dir(scorer)] if scorer is not None else [])
    if stage == "train":
        reads = artifacts.filter_dir(m) or artifacts.synthesis_dir(m)
        oracle = artifacts.oracle_partner(m)
        return [f for f in (reads, oracle and artifacts.synthesis_dir(oracle)) if f is not None]
    return []


def build(p: dict) -> dict[Path, Job]:
    """Every job of ``p`` by its folder, in an order where a job comes after what it needs."""
    graph: dict[Path, Job] = {}
    for stage in STAGES:
        for m in jobs.stage_jobs(p, stage):
            folder = artifacts.stage_folders(m, stage)[0]
            graph[folder] = Job(stage, folder, m, _needs(stage, m))
    for job in graph.values():
        missing = [n for n in job.needs if n not in graph]
        if missing:  # a bug in the graph, not in the user's file
            raise RuntimeError(f"job {job.name} needs {missing[0]}, which no job of this file makes")
    return _in_dependency_order(graph)


def _in_dependency_order(graph: dict[Path, Job]) -> dict[Path, Job]:
    """The same jobs, each after every job it needs (stage order first where it allows: a classifier
    filter's baseline is a train job that comes before the filter)."""
    ordered: dict[Path, Job] = {}

    def visit(f: Path, path: tuple = ()) -> None:
        if f in ordered:
            return
        if f in path:
            raise RuntimeError(f"the job graph has a cycle through {graph[f].name}")
        for n in graph[f].needs:
            visit(n, path + (f,))
        ordered[f] = graph[f]
    for f in graph:
        visit(f)
    return ordered


def todo(graph: dict[Path, Job]) -> dict[Path, Job]:
    """The jobs whose folder is not complete."""
    return {f: j for f, j in graph.items() if not artifacts.is_done(f)}


def ready(pending: dict[Path, Job], running: set[Path]) -> list[Job]:
    """Pending jobs not running whose needs are all complete."""
    return [j for f, j in pending.items() if f not in running and all(artifacts.is_done(n) for n in j.needs)]


def weights(graph: dict[Path, Job]) -> dict[Path, float]:
    """Each job's cost in FLOPs (``costs.member_flops``); at least 1 so that every job counts."""
    return {f: max(costs.member_flops(j.stage, j.member), 1.0) for f, j in graph.items()}


def critical_path(graph: dict[Path, Job], cost: dict[Path, float]) -> tuple[float, list[Path]]:
    """The longest chain of needs, by cost: no number of workers finishes sooner."""
    best: dict[Path, tuple[float, list[Path]]] = {}
    for f, j in graph.items():  # built in dependency order
        before = max((best[n] for n in j.needs), default=(0.0, []), key=lambda b: b[0])
        best[f] = (before[0] + cost[f], before[1] + [f])
    return max(best.values(), key=lambda b: b[0], default=(0.0, []))


def makespan(graph: dict[Path, Job], cost: dict[Path, float], workers: int) -> float:
    """Finish time of list scheduling on ``workers``: whenever one is free it takes the ready job
    with the longest remaining path (what the local executor does, in cost units)."""
    tail: dict[Path, float] = {}
    users: dict[Path, list[Path]] = {f: [] for f in graph}
    for f, j in graph.items():
        for n in j.needs:
            users[n].append(f)
    for f in reversed(list(graph)):
        tail[f] = cost[f] + max((tail[u] for u in users[f]), default=0.0)
    waiting = {f: len(j.needs) for f, j in graph.items()}
    ready_heap = [(-tail[f], i, f) for i, f in enumerate(graph) if not waiting[f]]
    heapq.heapify(ready_heap)
    clock, busy, order = 0.0, [], list(graph)
    while ready_heap or busy:
        while ready_heap and len(busy) < workers:
            _, _, f = heapq.heappop(ready_heap)
            heapq.heappush(busy, (clock + cost[f], f))
        clock, done = heapq.heappop(busy)
        for u in users[done]:
            waiting[u] -= 1
            if not waiting[u]:
                heapq.heappush(ready_heap, (-tail[u], order.index(u), u))
    return clock


def plan_lines(p: dict, graph: dict[Path, Job] | None = None, workers: tuple[int, ...] = (1, 2, 4, 8)) -> list[str]:
    """``--plan``'s graph lines: jobs per stage, the critical path, and W workers against one (``graph``:
    the one ``build(p)`` that ``--plan`` made)."""
    graph = build(p) if graph is None else graph
    if not graph:
        return ["job graph: no job (everything is the analysis of finished runs)"]
    cost = weights(graph)
    serial, (path_cost, path) = sum(cost.values()), critical_path(graph, cost)
    per_stage = ", ".join(f"{s} {sum(j.stage == s for j in graph.values())}" for s in STAGES)
    chain = " -> ".join(graph[f].stage for f in path)
    lines = [f"job graph: {len(graph)} jobs ({per_stage}); critical path {len(path)} jobs ({chain}), "
             f"{path_cost / serial:.0%} of the serial work"]
    spans = {w: makespan(graph, cost, w) for w in workers}
    lines.append("  wall-clock with W workers, as a share of one worker's (by FLOPs): "
                 + ", ".join(f"{w} worker{'s' if w > 1 else ''} {t / serial:.0%}" for w, t in spans.items())
                 + " (--executor local --workers W, or slurm)")
    if not p["model"]["base"].startswith("bundled:"):
        lines.append("  at the lower bound (100 % of an H100's peak, one GPU per worker): "
                     + ", ".join(f"{w} GPU{'s' if w > 1 else ''} {t / costs.H100_PEAK / 3600:,.2f} h"
                                 for w, t in spans.items()))
    return lines
