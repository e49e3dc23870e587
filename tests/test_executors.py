"""The job graph: dependencies, critical path, the W-worker estimate (the executors: tests_process, tests_cluster)."""
from __future__ import annotations

from pathlib import Path

from diffmix_utils import artifacts, graph, params
from in_process import run_cli

ROOT = Path(__file__).resolve().parent.parent


def test_the_graph_of_the_toy_reproduction_orders_every_job_after_what_it_reads():
    p = params.load(ROOT / "params" / "toy_paper.yaml")
    jobs = graph.build(p)
    order = list(jobs)
    for f, job in jobs.items():
        assert all(order.index(n) < order.index(f) for n in job.needs), job.name
        if job.stage == "synthesize" and artifacts.uses_finetune(job.member):
            assert job.needs == [artifacts.finetune_dir(job.member)]
        if job.stage == "train" and job.member["synthesize"]["strategy"] != "none":
            assert job.needs == [artifacts.synthesis_dir(job.member)]
    counts = {s: sum(j.stage == s for j in jobs.values()) for s in graph.STAGES}
    assert counts == {"finetune": 2, "synthesize": 13, "filter": 0, "train": 85}
    cost = graph.weights(jobs)
    serial = sum(cost.values())
    length, path = graph.critical_path(jobs, cost)
    assert [jobs[f].stage for f in path] == ["finetune", "synthesize", "train"]
    spans = [graph.makespan(jobs, cost, w) for w in (1, 2, 4, 1000)]
    assert abs(spans[0] - serial) < 1e-6 * serial and spans == sorted(spans, reverse=True)
    assert abs(spans[-1] - length) < 1e-6 * serial  # enough workers: the critical path


def test_a_classifier_filter_waits_for_its_baseline():
    p = params.load(ROOT / "params" / "benchmark.yaml")
    jobs = graph.build(p)
    filters = [j for j in jobs.values() if j.stage == "filter"]
    assert filters and all(any(jobs[n].stage == "train" for n in j.needs) for j in filters)
    readers = [j for j in jobs.values() if j.stage == "train" and artifacts.filter_dir(j.member)]
    assert readers and all(j.needs == [artifacts.filter_dir(j.member)] for j in readers)


def test_plan_shows_the_graph(monkeypatch, capsys):
    code, printed = run_cli(["python", "-m", "diffmix_utils.run", "params/toy_paper.yaml", "--plan"], monkeypatch, capsys)
    assert code == 0, printed
    assert "job graph: 100 jobs (finetune 2, synthesize 13, filter 0, train 85); critical path 3 jobs" in printed
    assert "2 workers" in printed


def test_only_runs_the_named_stages_jobs_with_the_chosen_executor(tmp_path, monkeypatch):
    from diffmix_utils import executors
    from diffmix_utils.executors import scheduler
    handed = []
    monkeypatch.setattr(scheduler, "run", lambda jobs, backend, retries, say: handed.append(jobs) or [])
    p = params.load(ROOT / "params" / "smoke.yaml", params.parse_overrides(
        [f"workdir={tmp_path}", "cluster.executor=local", "cluster.workers=2"]))
    assert executors.run_graph(p, stages=["finetune"]) == []
    assert {j.stage for j in handed[-1].values()} == {"finetune"}
    # a stage whose inputs another stage makes, not yet made: one line naming what to run first
    failed = executors.run_graph(p, stages=["synthesize"])
    assert len(failed) == 1 and "needs finetune/" in failed[0] and "run that stage first" in failed[0]
    assert executors.run_graph(p) == [] and {j.stage for j in handed[-1].values()} == {"finetune", "synthesize", "train"}
