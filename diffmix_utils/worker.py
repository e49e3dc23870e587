"""A long-lived worker of the local executor: ``python -m diffmix_utils.worker`` takes job after job,
so that a job does not pay a fresh interpreter's start, its imports (torch, diffusers, timm) and the
first touch of the models' files; the stage code is the same as a job process runs.

Protocol, one JSON line each way: a request on stdin, ``{"module": "diffmix_utils.train",
"member_json": FILE, "log": FILE}``, runs ``<module>.__main__.main(["--member-json", FILE])`` in this
process with its output (Python's and the C libraries', file descriptors 1 and 2) appended to the
job's log; the answer, ``{"status": N}``, goes to the stdout the worker started with. End of stdin:
the worker exits 0. A job that fails ends the worker after its answer, so the retry and the jobs
after it get a fresh process (a half-done job cannot leave state behind). Started by
``executors/local.py``, which gives each worker its GPU or its thread count; it dies with its parent.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import os
import sys
import traceback
from typing import IO, Iterable

from . import handoff


@contextlib.contextmanager
def output_to(log: str):
    """File descriptors 1 and 2 (and so ``print``, tqdm and C libraries' output) appended to ``log``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    text = open(os.dup(fd), "w", buffering=1)  # Python's own streams, wherever sys.stdout pointed
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
            yield
    finally:
        text.close()
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (fd, *saved):
            os.close(f)


def run_job(module: str, member_json: str) -> int:
    """The job as ``python -m <module> --member-json FILE`` would run it; its exit status."""
    try:
        main = importlib.import_module(f"{module}.__main__").main
        return int(main([handoff.FLAG, member_json]) or 0)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except Exception:  # noqa: BLE001 - the job's failure, written to its log like an uncaught one
        traceback.print_exc()
        return 1
    finally:
        gc.collect()
        if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
            sys.modules["torch"].cuda.empty_cache()


def serve(requests: Iterable[str], answers: IO[str]) -> int:
    """Run each request of ``requests`` and answer it; returns at the end of the requests (0) or after
    the first job that failed (its status)."""
    for line in requests:
        if not line.strip():
            continue
        job = json.loads(line)
        with output_to(job["log"]):
            status = run_job(job["module"], job["member_json"])
        answers.write(json.dumps({"status": status}) + "\n")
        answers.flush()
        if status != 0:
            return status
    return 0


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m diffmix_utils.worker`` (docs/cli.md is generated from it)."""
    return argparse.ArgumentParser(prog="python -m diffmix_utils.worker",
                                   description="A local executor's long-lived worker: one JSON job request "
                                   "per line on stdin, one JSON answer per job on stdout (started by "
                                   "--executor local, not by hand).")


def main(argv: list[str] | None = None) -> int:
    parser().parse_args(argv)
    answers = os.fdopen(os.dup(1), "w")  # the answers' channel, kept before any job takes fd 1
    os.dup2(2, 1)  # what is printed between jobs goes to the worker's own log, never into the answers
    return serve(sys.stdin, answers)


if __name__ == "__main__":
    sys.exit(main())
