"""The loop every executor shares: start each job whose needs are complete, as many at once as the
backend has room for, watch them, retry a failed job up to ``retries`` times, and go on with the jobs
that do not depend on a failure. A job counts as done only when its folder is complete.

A backend (``local.LocalBackend``, ``slurm.SlurmBackend``) knows how to start a job, whether it has
ended (and how), where its log is, and how to stop what it started.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

from .. import artifacts, handoff
from ..graph import Job, ready, todo


class Backend(Protocol):
    capacity: int

    def start(self, job: Job, attempt: int) -> Any: ...
    def ended(self, handle: Any) -> int | None: ...     # None while running, else an exit status
    def log(self, handle: Any) -> str: ...
    def stop(self, handles: list[Any]) -> None: ...


def run(graph: dict[Path, Job], backend: Backend, retries: int, say=print, poll: float = 0.5) -> list[str]:
    """Run every job of ``graph`` not yet complete; returns one line per job that failed or could not run
    (empty: all complete)."""
    pending, running, failed = todo(graph), {}, {}
    attempts = {f: 0 for f in pending}
    total, finished = len(pending), 0
    if total:
        say(f"[jobs] {total} of {len(graph)} to run, {backend.capacity} at a time")
    try:
        while pending:
            for f, job in list(pending.items()):
                blocked = [n for n in job.needs if n in failed]
                if blocked:
                    failed[f] = f"not run: it needs {graph[blocked[0]].name}, which failed"
                    del pending[f]
            for job in ready(pending, set(running)):
                if len(running) >= backend.capacity:
                    break
                attempts[job.folder] += 1
                running[job.folder] = (backend.start(job, attempts[job.folder]), time.time())
            if not running and pending:
                names = ", ".join(j.name for j in list(pending.values())[:3])
                raise RuntimeError(f"jobs that can never start (their needs are not made by this graph): {names}")
            time.sleep(poll)
            for f, (handle, started) in list(running.items()):
                status = backend.ended(handle)
                if status is None:
                    continue
                del running[f]
                job = graph[f]
                if status == 0 and artifacts.is_done(f):
                    finished += 1
                    del pending[f]
                    say(f"[jobs {finished}/{total}] {job.name} done in {time.time() - started:.0f} s")
                elif attempts[f] <= retries:
                    say(f"[jobs] {job.name} failed (exit status {status}); retry {attempts[f]} of {retries}; "
                        f"log: {backend.log(handle)}")
                else:
                    failed[f] = f"failed {attempts[f]} time(s), last exit status {status}; log: {backend.log(handle)}"
                    del pending[f]
                    say(f"[jobs] {job.name} {failed[f]}")
    except BaseException:
        backend.stop([h for h, _ in running.values()])
        raise
    return [f"{graph[f].name}: {why}" for f, why in failed.items()]


def member_file(job: Job, folder: Path) -> Path:
    """The job's resolved member, written for ``python -m diffmix_utils.<module> --member-json FILE`` (atomically)."""
    return handoff.write_member(job.member, folder / "jobs" / f"{job.stage}-{job.folder.name}.json")
