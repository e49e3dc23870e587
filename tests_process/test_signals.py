"""Ctrl-C, SIGTERM and SIGHUP stop a run and everything it started; an interrupted run continues to
the same artifacts as an uninterrupted one; two runners on one store compute each artifact once.

Every runner here starts in a process group of its own and is signalled as a terminal does it
(the whole foreground group). ``make test-process`` runs these (CI too); they take a few minutes.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from store_compare import artifacts_of, assert_same

ROOT = Path(__file__).resolve().parent.parent
# the smoke run with stages long enough to be interrupted in the middle (about 20 s each here)
LONGER = ["finetune.steps=150", "finetune.checkpoint_every=50", "synthesize.multiplier=4", "train.epochs=6"]


class Runner:
    """``python -m diffmix_utils.run`` (or any command) in its own process group, its output collected."""
    started: list[subprocess.Popen] = []  # stopped after each test, whether it passed or failed

    def __init__(self, cmd: list[str], cwd: Path):
        self.proc = subprocess.Popen(cmd, cwd=cwd, start_new_session=True, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        Runner.started.append(self.proc)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    @classmethod
    def run(cls, work: Path, *extra: str) -> "Runner":
        sets = [f"workdir={work / 'runs'}", f"analyze.figures_dir={work / 'figures'}", *LONGER]
        cmd = [sys.executable, "-m", "diffmix_utils.run", str(ROOT / "params" / "smoke.yaml"), *extra]
        return cls(cmd + [x for s in sets for x in ("--set", s)], work)

    def _read(self) -> None:
        line = ""
        while ch := self.proc.stdout.read(1):
            line += ch
            if ch in "\r\n":
                self.lines.append(line)
                line = ""
        self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, marker: str, timeout: float = 240) -> None:
        end = time.time() + timeout
        while marker not in self.text:
            assert self.proc.poll() is None, f"ended before {marker!r}:\n{self.text[-3000:]}"
            assert time.time() < end, f"no {marker!r} after {timeout} s:\n{self.text[-3000:]}"
            time.sleep(0.1)

    def tree(self) -> list[int]:
        return [p.pid for p in psutil.Process(self.proc.pid).children(recursive=True)]

    def signal(self, sig: int, timeout: float = 30) -> tuple[int, float]:
        start = time.time()
        os.killpg(self.proc.pid, sig)
        code = self.proc.wait(timeout=timeout)
        return code, time.time() - start

    def finish(self, timeout: float = 600) -> int:
        return self.proc.wait(timeout=timeout)


def alive(pids: list[int]) -> list[int]:
    def running(pid):
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False
    time.sleep(0.5)
    return [pid for pid in pids if running(pid)]


@pytest.fixture(autouse=True)
def no_runner_left():
    """A failing test stops the runners it started (their whole groups), so none outlives it."""
    yield
    while Runner.started:
        proc = Runner.started.pop()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("whole")
    runner = Runner.run(work)
    assert runner.finish() == 0, runner.text[-3000:]
    return artifacts_of(work / "runs" / "store")


STOPS = [("fine-tune:", signal.SIGINT, 130, "finetune"), ("synthesize diff-mix", signal.SIGTERM, 143, "synthesize"),
         ("[train 2/", signal.SIGHUP, 129, "train")]


def test_a_signal_stops_every_stage_within_seconds_and_the_rerun_equals_an_uninterrupted_run(tmp_path, uninterrupted):
    times = {}
    for marker, sig, code, stage in STOPS:
        runner = Runner.run(tmp_path)
        runner.wait_for(marker)
        time.sleep(1.5)  # inside the stage's work, not at its first line
        tree = runner.tree()
        assert tree, "the runner has started its kernel"
        got, seconds = runner.signal(sig)
        times[stage] = round(seconds, 2)
        last = runner.text.strip().splitlines()[-1]
        assert got == code and seconds < 10, (got, seconds, runner.text[-2000:])
        assert not alive(tree), f"left running after {signal.Signals(sig).name}: {alive(tree)}"
        assert last.startswith("interrupted (") and f"during stage '{stage}'" in last, last
        assert "finished artifacts are kept" in last and "to continue: python -m diffmix_utils.run" in last
        assert "Traceback" not in runner.text
    print(f"\nstop times (s) per stage: {times}")
    final = Runner.run(tmp_path)
    assert final.finish() == 0, final.text[-3000:]
    assert_same(artifacts_of(tmp_path / "runs" / "store"), uninterrupted)


def test_two_runners_on_one_store_compute_each_artifact_once(tmp_path, uninterrupted):
    first, second = Runner.run(tmp_path), Runner.run(tmp_path)
    assert first.finish() == 0, first.text[-3000:]
    assert second.finish() == 0, second.text[-3000:]
    both = first.text + second.text
    assert "is being computed by another run (process" in both and "completed by another run; reusing it" in both
    assert_same(artifacts_of(tmp_path / "runs" / "store"), uninterrupted)


def test_interrupting_a_stage_in_a_kernel_stops_its_worker_processes(tmp_path):
    """JupyterLab's *Interrupt kernel* is SIGINT to the kernel's process group: a synthesis with two
    worker processes stops at once, the workers with it, and the next call finishes the pool."""
    code = ("import sys; from diffmix_utils import params, synthesize, finetune; "
            "p = params.load(sys.argv[1], params.parse_overrides(sys.argv[2:])); "
            "finetune.run_stage(p); print('synthesis starts', flush=True); synthesize.run_stage(p)")
    # a pool of a few seconds even on a fast machine: under load, a smaller one finished before the signal came
    sets = [f"workdir={tmp_path / 'runs'}", "finetune.steps=5", "synthesize.multiplier=32",
            "synthesize.num_processes=2"]
    cmd = [sys.executable, "-c", code, str(ROOT / "params" / "smoke.yaml"), *sets]
    stage = Runner(cmd, tmp_path)
    stage.wait_for("synthesis starts")
    stage.wait_for("shard 2/2")
    tree = stage.tree()
    assert len(tree) >= 2, "two synthesis workers"
    got, seconds = stage.signal(signal.SIGINT)
    assert got != 0 and seconds < 10 and "KeyboardInterrupt" in stage.text
    assert not alive(tree)
    again = Runner(cmd, tmp_path)
    assert again.finish() == 0, again.text[-3000:]
    pools = [d for d in (tmp_path / "runs" / "store" / "synthesize").iterdir() if not d.name.startswith(".")]
    assert all((d / "done.json").is_file() for d in pools) and pools
