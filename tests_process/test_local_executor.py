"""``--executor local``: worker processes fill the store, then the notebooks report it; a failing job
is retried, then named with its log, and the jobs that do not need it go on. One key, one content, on
the defaults (no thread count set): two executors and two orders write the same bytes under every key
they share, another thread count writes other keys, and a serial run reading a store the local workers
filled gives the serial run's own tables."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from store_compare import artifacts_of, assert_same

ROOT = Path(__file__).resolve().parent.parent


def _run(tmp_path, *sets, executor="local", extra=(), cores=None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    args = [x for s in (f"workdir={tmp_path / 'runs'}", f"analyze.figures_dir={tmp_path / 'figures'}",
                        "finetune.steps=4", "synthesize.multiplier=1", "train.epochs=1", *sets)
            for x in ("--set", s)]
    pin = ["taskset", "-c", cores] if cores else []  # the machine's core count, as the run sees it
    return subprocess.run([*pin, sys.executable, "-m", "diffmix_utils.run", str(ROOT / "params" / "smoke.yaml"),
                           "--executor", executor, "--workers", "2", *args, *extra], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)


def test_local_workers_fill_the_store_then_a_failure_is_named_with_its_log(tmp_path):
    r = _run(tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    serial = _run(tmp_path / "serial", executor="serial")
    assert serial.returncode == 0, serial.stderr[-3000:]
    local_store, serial_store = artifacts_of(tmp_path / "runs" / "store"), artifacts_of(tmp_path / "serial" / "runs" / "store")
    assert_same(local_store, serial_store, tolerance=0)
    record = json.loads(next((tmp_path / "runs" / "store" / "finetune").glob("*/provenance.json")).read_text())
    assert record["torch_threads"] == 1
    # the sweep in the other order, on one core instead of all: the same keys, the same bytes
    reverse = _run(tmp_path / "reverse", "sweep.synthesize.strength=[1.0, 0.5]", executor="serial", cores="0")
    assert reverse.returncode == 0, reverse.stderr[-3000:]
    assert_same(artifacts_of(tmp_path / "reverse" / "runs" / "store"), serial_store, tolerance=0)
    # another thread count: every artifact it shapes gets another key; what it does not shape is shared
    two = _run(tmp_path / "two", "cluster.cpu_threads=2", executor="serial")
    assert two.returncode == 0, two.stderr[-3000:]
    threads_store = artifacts_of(tmp_path / "two" / "runs" / "store")
    shared = sorted(set(threads_store) & set(serial_store))
    assert all(threads_store[k] == serial_store[k] for k in shared if not isinstance(serial_store[k], dict))
    assert not any(k.startswith(("finetune/", "train/")) for k in shared)
    # the serial executor reading the store the local workers filled: the serial run's tables
    (tmp_path / "figures" / "smoke" / "tables" / "results.csv").unlink()
    reread = _run(tmp_path, executor="serial", extra=("--only", "analyze"))
    assert reread.returncode == 0 and "[analyze] running" in reread.stdout, reread.stderr[-3000:]
    for table in ("runs.csv", "results.csv"):
        assert ((tmp_path / "figures" / "smoke" / "tables" / table).read_text()
                == (tmp_path / "serial" / "figures" / "smoke" / "tables" / table).read_text()), table
    assert "[jobs 6/6]" in r.stdout and "2 at a time" in r.stdout  # 1 fine-tune, 2 pools, 3 classifiers
    logs = sorted(p for p in (tmp_path / "runs" / "smoke" / "logs").iterdir() if not p.name.startswith("worker-"))
    assert len(logs) == 6 and logs[0].name.startswith("finetune-")
    # two long-lived workers ran the six jobs: each job's log names its worker's process
    pids = {re.search(r"process (\d+)\)", p.read_text())[1] for p in logs}
    assert len(pids) == 2, pids
    assert (tmp_path / "figures" / "smoke" / "tables" / "results.md").is_file()
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    bad = _run(tmp_path, f"model.base={empty}", "cluster.retries=1")
    assert bad.returncode == 1 and "retry 1 of 1" in bad.stdout
    last = bad.stderr.strip().splitlines()[-1]
    assert last.startswith("error: 5 job(s) did not complete") and "logs/finetune-" in last and "not run" in last


def test_ctrl_c_stops_the_runner_and_its_long_lived_workers(tmp_path):
    import os
    import signal
    import time

    import psutil
    args = [x for s in (f"workdir={tmp_path / 'runs'}", "finetune.steps=200") for x in ("--set", s)]
    runner = subprocess.Popen([sys.executable, "-m", "diffmix_utils.run", str(ROOT / "params" / "smoke.yaml"),
                               "--executor", "local", "--workers", "2", *args], cwd=tmp_path, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    logs, deadline = tmp_path / "runs" / "smoke" / "logs", time.time() + 180
    while not (logs.is_dir() and any(logs.glob("finetune-*.log"))):  # a worker has its first job
        assert runner.poll() is None and time.time() < deadline, runner.communicate()[1][-3000:]
        time.sleep(0.2)
    workers = [c for c in psutil.Process(runner.pid).children(recursive=True)
               if "diffmix_utils.worker" in " ".join(c.cmdline())]
    assert workers
    started = time.time()
    os.killpg(runner.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole foreground group
    _, err = runner.communicate(timeout=120)
    print(f"stopped in {time.time() - started:.2f} s")
    assert runner.returncode != 0 and "interrupted" in err, err[-3000:]
    gone, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive, [p.pid for p in alive]
