"""The slurm executor against a real one-node SLURM cluster (``make test-cluster``)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from store_compare import artifacts_of, assert_same

from diffmix_utils import artifacts, graph, params

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["finetune.steps=4", "synthesize.multiplier=1", "train.epochs=1", "cluster.gpus_per_job=0",
         "cluster.cpus_per_job=1", "cluster.time_min=10", "device=cpu"]  # threads: the default, fixed (1)


def _run(tmp_path, *sets, executor="slurm"):
    args = [x for s in (f"workdir={tmp_path / 'runs'}", f"analyze.figures_dir={tmp_path / 'figures'}", *SMALL, *sets)
            for x in ("--set", s)]
    return subprocess.run([sys.executable, "-m", "diffmix_utils.run", str(ROOT / "params" / "smoke.yaml"),
                           "--executor", executor, *args], cwd=tmp_path, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("serial")
    r = _run(work, executor="serial")
    assert r.returncode == 0, r.stderr[-3000:]
    return artifacts_of(work / "runs" / "store")


def test_the_graph_runs_as_slurm_jobs_then_the_notebooks_report_it(slurm, serial, tmp_path):
    r = _run(tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert_same(artifacts_of(tmp_path / "runs" / "store"), serial, tolerance=0)  # bit for bit a serial run's
    ids = sorted(int(f.name) for f in (tmp_path / "runs" / "smoke" / "slurm").iterdir() if f.name.isdigit())
    print(f"\nSLURM job ids: {ids}")
    p = params.load(ROOT / "params" / "smoke.yaml", params.parse_overrides([f"workdir={tmp_path / 'runs'}", *SMALL]))
    jobs = graph.build(p)
    assert jobs and all(artifacts.is_done(f) for f in jobs)
    assert f"[jobs {len(jobs)}/{len(jobs)}]" in r.stdout + r.stderr
    logs = list((tmp_path / "runs" / "smoke" / "slurm").rglob("*_log.out"))
    assert len(logs) == len(ids) <= len(jobs)  # one log per SLURM job; classifiers ready together share one
    assert (tmp_path / "runs" / "smoke" / "notebooks" / "04_analyze.html").is_file()
    assert (tmp_path / "figures" / "smoke" / "tables" / "results.md").is_file()


def test_a_failing_job_is_retried_then_named_with_its_log_and_independent_jobs_go_on(slurm, tmp_path):
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    r = _run(tmp_path, f"model.base={empty}", "cluster.retries=1",
             "sweep={synthesize.strategy: [none, diff-mix], seed: [0]}")
    assert r.returncode == 1
    said = r.stdout + r.stderr
    assert "retry 1 of 1" in said
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "finetune/" in last and "_log.err" in last and "needs finetune/" in last
    p = params.load(ROOT / "params" / "smoke.yaml", params.parse_overrides(
        [f"workdir={tmp_path / 'runs'}", *SMALL, f"model.base={empty}",
         "sweep={synthesize.strategy: [none, diff-mix], seed: [0]}"]))
    baseline = [m for m in params.expand_sweep(p) if m["synthesize"]["strategy"] == "none"][0]
    assert artifacts.is_done(artifacts.train_dir(baseline))  # independent of the failed fine-tune: trained


def test_a_requeued_job_resumes_from_its_own_checkpoint(slurm, tmp_path):
    """Preemption as SLURM does it (``scontrol requeue``): the job starts again and continues from the
    classifier's last epoch instead of epoch 0."""
    import time
    sets = [f"workdir={tmp_path / 'runs'}", f"analyze.figures_dir={tmp_path / 'figures'}", *SMALL,
            "train.epochs=40", "sweep={synthesize.strategy: [none], seed: [0]}"]
    cmd = [sys.executable, "-m", "diffmix_utils.run", str(ROOT / "params" / "smoke.yaml"), "--executor", "slurm",
           *[x for s in sets for x in ("--set", s)]]
    runner = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    p = params.load(ROOT / "params" / "smoke.yaml", params.parse_overrides(sets))
    folder = artifacts.train_dir(params.expand_sweep(p)[0])
    deadline = time.time() + 300
    while not (folder / "state.pt").is_file():
        assert runner.poll() is None and time.time() < deadline, runner.stdout.read()[-3000:]
        time.sleep(0.5)
    job = subprocess.run(["squeue", "--noheader", "--me", "--format=%i"], capture_output=True, text=True).stdout.split()
    assert len(job) == 1
    subprocess.run(["scontrol", "requeue", job[0]], check=True)
    out, _ = runner.communicate(timeout=600)
    assert runner.returncode == 0, out[-3000:]
    log = "".join(f.read_text() for f in (tmp_path / "runs" / "smoke" / "slurm").rglob("*_log.out"))
    assert f"resuming {folder}" in log  # the second start continued; it did not begin again at epoch 0
    epochs = [json.loads(x)["epoch"] for x in (folder / "metrics.jsonl").read_text().splitlines()]
    assert epochs == list(range(1, 41))


def test_a_cancelled_job_is_named_and_the_rerun_completes_it(slurm, serial, tmp_path):
    """``scancel`` of a running job: it leaves the queue without a result, the run names it with its log
    (no retries here), and running the same command again completes the store."""
    import time
    sets = [f"workdir={tmp_path / 'runs'}", f"analyze.figures_dir={tmp_path / 'figures'}", *SMALL, "cluster.retries=0"]
    cmd = [sys.executable, "-m", "diffmix_utils.run", str(ROOT / "params" / "smoke.yaml"), "--executor", "slurm",
           *[x for s in sets for x in ("--set", s)]]
    runner = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    while True:  # the first job (the fine-tune) running
        listed = subprocess.run(["squeue", "--noheader", "--me", "--states=RUNNING", "--format=%i"],
                                capture_output=True, text=True).stdout.split()
        if listed:
            break
        assert runner.poll() is None and time.time() < deadline
        time.sleep(0.2)
    subprocess.run(["scancel", listed[0]], check=True)
    out, _ = runner.communicate(timeout=600)
    assert runner.returncode == 1 and "did not complete" in out and f"slurm/{listed[0]}/" in out, out[-3000:]
    again = _run(tmp_path, "cluster.retries=0")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert_same(artifacts_of(tmp_path / "runs" / "store"), serial)


def _defaults_run(tmp_path, *flags):
    """params/smoke.yaml on the slurm executor with nothing but the executor (and ``flags``) chosen, as a
    newcomer types it; the runner is given 120 s."""
    return subprocess.run([sys.executable, "-m", "diffmix_utils.run", str(ROOT / "params" / "smoke.yaml"),
                           "--executor", "slurm", "--set", f"workdir={tmp_path / 'runs'}", *flags],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_gpus_a_cpu_cluster_lacks_are_one_line_naming_the_flag(slurm, tmp_path):
    r = _defaults_run(tmp_path)  # cluster.gpus_per_job defaults to 1; this cluster has no GPU
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr[-3000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: SLURM refused the job finetune/") and "gres" in last and "--gpus-per-job 0" in last


def test_a_job_larger_than_any_node_is_one_line_not_a_silent_wait(slurm, tmp_path):
    r = _defaults_run(tmp_path, "--gpus-per-job", "0")  # cluster.cpus_per_job defaults to 8; the node has fewer
    cpus = os.cpu_count() or 1
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr[-3000:]
    last = r.stderr.strip().splitlines()[-1]
    assert "Reason=PartitionConfig" in last and f"cluster.cpus_per_job = 8 but the largest node has {cpus} CPUs" in last
    assert f"--cpus-per-job {cpus}" in last and re.search(r"\[jobs\] [1-6] pending, 0 running, 0 of 6 done", r.stdout)
    left = subprocess.run(["squeue", "--noheader", "--me", "--format=%i"], capture_output=True, text=True).stdout
    assert not left.split(), f"the runner left jobs in the queue: {left}"


def test_classifiers_ready_together_share_one_slurm_job_with_the_serial_bytes(slurm, tmp_path):
    sweep = "sweep={synthesize.strategy: [none], seed: [0, 1, 2]}"  # three classifiers, none waits on another
    for where in ("slurm", "serial"):
        (tmp_path / where).mkdir()
    r = _run(tmp_path / "slurm", sweep)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    serial = _run(tmp_path / "serial", sweep, executor="serial")
    assert serial.returncode == 0, serial.stderr[-3000:]
    assert_same(artifacts_of(tmp_path / "slurm" / "runs" / "store"), artifacts_of(tmp_path / "serial" / "runs" / "store"),
                tolerance=0)
    ids = [f for f in (tmp_path / "slurm" / "runs" / "smoke" / "slurm").iterdir() if f.name.isdigit()]
    assert len(ids) == 1 and "[jobs 3/3]" in r.stdout  # one wait in the queue for the three
