"""The loop every executor shares: start each job whose needs are complete, as many at once as the
backend has room for, watch them, retry a failed job up to ``retries`` times, and go on with the jobs
that do not depend on a failure. A job counts as done only when its folder is complete.

A backend (``local.LocalBackend``, ``slurm.SlurmBackend``) knows how to start a job, whether it has
ended (and how), where its log is, and how to stop what it started. One that sets ``jobs_per_start``
and ``group_stages`` is also handed groups of ready small jobs (``start_group``): they share one start,
one handle and one status; each job of a group counts as done when its folder is complete.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

from .. import artifacts, handoff
from ..graph import Job, ready, todo


class ClusterRefused(RuntimeError):
    """The cluster cannot run a job as asked (refused at submission, or pending for a reason that does not
    clear by waiting); the message names the setting to change. The runner prints it as one line."""


class Backend(Protocol):
    capacity: int

    def start(self, job: Job, attempt: int) -> Any: ...
    def ended(self, handle: Any) -> int | None: ...     # None while running, else an exit status
    def log(self, handle: Any) -> str: ...
    def stop(self, handles: list[Any]) -> None: ...
    # optional: close() after the graph, where a backend keeps workers between jobs;
    # states(handles) -> {"pending": n, "running": n[, "refused": line]}, where jobs wait in a queue (the
    # counts shown when they change; "refused": a job that can never start, which stops the run)


def run(graph: dict[Path, Job], backend: Backend, retries: int, say=print, poll: float = 0.5) -> list[str]:
    """Run every job of ``graph`` not yet complete; returns one line per job that failed or could not run
    (empty: all complete)."""
    pending, running, failed = todo(graph), {}, {}
    attempts = {f: 0 for f in pending}
    total, finished, shown = len(pending), 0, ""
    if total:
        say(f"[jobs] {total} of {len(graph)} to run, {backend.capacity} at a time")
    try:
        while pending:
            for f, job in list(pending.items()):
                blocked = [n for n in job.needs if n in failed]
                if blocked:
                    failed[f] = f"not run: it needs {graph[blocked[0]].name}, which failed"
                    del pending[f]
            for group in groups(ready(pending, set(running)), getattr(backend, "jobs_per_start", 1),
                                getattr(backend, "group_stages", ())):
                if len(_handles(running)) >= backend.capacity:
                    break
                for job in group:
                    attempts[job.folder] += 1
                handle = (backend.start(group[0], attempts[group[0].folder]) if len(group) == 1
                          else backend.start_group(group, [attempts[j.folder] for j in group]))
                for job in group:
                    running[job.folder] = (handle, time.time(), len(group) > 1)
            if not running and pending:
                names = ", ".join(j.name for j in list(pending.values())[:3])
                raise RuntimeError(f"jobs that can never start (their needs are not made by this graph): {names}")
            time.sleep(poll)
            if hasattr(backend, "states") and running:
                counts = backend.states(_handles(running))
                line = (f"[jobs] {counts.get('pending', 0)} pending, {counts.get('running', 0)} running, "
                        f"{finished} of {total} done")
                if line != shown:
                    say(line)
                    shown = line
                if counts.get("refused"):  # a job that can never start: one line, and what was submitted cancelled
                    raise ClusterRefused(counts["refused"])
            ended: dict[int, int | None] = {}  # one look per handle: a group's jobs share theirs
            for f, (handle, started, grouped) in list(running.items()):
                if id(handle) not in ended:
                    ended[id(handle)] = backend.ended(handle)
                status = ended[id(handle)]
                if status is None:
                    continue
                del running[f]
                job = graph[f]
                if artifacts.is_done(f) and (status == 0 or grouped):  # a group fails as one; its done jobs are done
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
        backend.stop(_handles(running))
        raise
    finally:
        getattr(backend, "close", lambda: None)()
    return [f"{graph[f].name}: {why}" for f, why in failed.items()]


def _handles(running: dict) -> list:
    """The distinct handles of the running jobs (a group's jobs share one)."""
    return list({id(h): h for h, _, _ in running.values()}.values())


def groups(jobs: list[Job], size: int, stages: tuple[str, ...]) -> list[list[Job]]:
    """``jobs`` in order, one per start, except that jobs of ``stages`` are packed ``size`` to a start (a
    backend whose every start waits in a queue runs small jobs together: one wait, one process)."""
    out, open_groups = [], {}
    for job in jobs:
        if size > 1 and job.stage in stages:
            group = open_groups.get(job.stage)
            if group is None or len(group) >= size:
                group = open_groups[job.stage] = []
                out.append(group)
            group.append(job)
        else:
            out.append([job])
    return out


def member_file(job: Job, folder: Path) -> Path:
    """The job's resolved member, written for ``python -m diffmix_utils.<module> --member-json FILE`` (atomically)."""
    return handoff.write_member(job.member, folder / "jobs" / f"{job.stage}-{job.folder.name}.json")
