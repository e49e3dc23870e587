"""``--executor local --workers N``: N jobs at once on this machine, each worker a long-lived process.

A worker (``diffmix_utils.worker``) takes job after job, keeping its imports and what it has loaded,
so a job pays no interpreter start; it runs the same stage code as a job process, so the bytes are
the serial executor's. A worker whose job failed exits, and the next job in its slot starts a fresh
one. On a machine with GPUs each worker owns one (``CUDA_VISIBLE_DEVICES``); on CPU each gets
``cluster.cpu_threads`` torch threads (fixed, 1 by default). A job's output goes to
``runs/<name>/logs/<stage>-<key>.log``, a worker's own (between jobs) to ``logs/worker-<slot>.log``.
Workers die with the runner (``children``), also after a ``kill -9``.
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

from .. import children
from ..graph import Job
from .scheduler import member_file


class _Worker:
    """One ``python -m diffmix_utils.worker`` process and the answers it has written."""

    def __init__(self, env: dict, log: Path):
        with open(log, "a") as fh:
            self.proc = children.popen([sys.executable, "-m", "diffmix_utils.worker"], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=fh, env=env, text=True, bufsize=1)
        self.answers: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                self.answers.put(int(json.loads(line)["status"]))
            except (ValueError, KeyError, TypeError):  # not an answer: something printed before main()
                continue

    def send(self, request: dict) -> None:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()

    def answer(self) -> int | None:
        """The status of the job it was sent, None while it runs; a worker that died unanswered gives its
        exit status (never 0)."""
        try:
            return self.answers.get_nowait()
        except queue.Empty:
            pass
        if self.proc.poll() is None:
            return None
        try:  # it may have answered just before it exited
            return self.answers.get(timeout=1)
        except queue.Empty:
            return self.proc.returncode or 1

    def close(self, grace: float = 10.0) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # end of requests: the worker exits
                self.proc.wait(timeout=grace)
            except (OSError, subprocess.TimeoutExpired):
                children.stop([self.proc])


class LocalBackend:
    def __init__(self, run_dir: Path, workers: int, gpus: int, threads: int):
        self.run_dir, self.capacity, self.gpus, self.threads = run_dir, workers, gpus, threads
        self.free = list(range(workers))
        self.workers: dict[int, _Worker] = {}

    def _env(self, slot: int) -> dict:
        env = dict(os.environ)
        env.pop("DIFFMIX_TERMINAL_PROGRESS", None)  # a worker's bars go to its job's log
        if self.gpus:
            env["CUDA_VISIBLE_DEVICES"] = str(slot % self.gpus)
        else:
            env.update({"OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads)})
        return env

    def start(self, job: Job, attempt: int):
        slot = self.free.pop(0)
        logs = self.run_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        worker = self.workers.get(slot)
        if worker is None or worker.proc.poll() is not None:
            worker = self.workers[slot] = _Worker(self._env(slot), logs / f"worker-{slot}.log")
        log = logs / f"{job.stage}-{job.folder.name}.log"
        with open(log, "a") as fh:
            fh.write(f"--- attempt {attempt} (worker {slot}, process {worker.proc.pid}) ---\n")
        worker.send({"module": job.module, "member_json": str(member_file(job, self.run_dir)), "log": str(log)})
        return slot, worker, log

    def ended(self, handle) -> int | None:
        slot, worker, _ = handle
        status = worker.answer()
        if status is not None and slot not in self.free:
            self.free.append(slot)
            if status != 0:  # it has exited or is exiting: the slot's next job starts a fresh worker
                worker.close()
                self.workers.pop(slot, None)
        return status

    def log(self, handle) -> str:
        return str(handle[2])

    def stop(self, handles) -> None:
        children.stop([w.proc for w in self.workers.values()])
        self.workers.clear()

    def close(self) -> None:
        """After the graph: every idle worker told to exit (end of its requests)."""
        for worker in self.workers.values():
            worker.close()
        self.workers.clear()


def gpu_count() -> int:
    import torch
    return torch.cuda.device_count() if torch.cuda.is_available() else 0
