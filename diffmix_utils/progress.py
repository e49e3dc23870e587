"""Progress that reaches the person waiting: a bar per long loop and a line per sweep member.

In JupyterLab (or a plain terminal) ``bar`` is ``tqdm.auto``'s bar. Under the runner
(``python -m diffmix_utils.run``, which sets ``DIFFMIX_TERMINAL_PROGRESS=1`` for the kernels it
starts) nobody watches the notebook while it executes, so the bar and the member lines go to the
kernel process's own stderr: the runner's terminal, where a newcomer sees what each stage is doing.
A terminal that is not a TTY (a CI log, a file) gets a line every 30 seconds instead of redraws.

``members(jobs, stage)`` yields the jobs of a stage and announces each that needs work ("[train 3/8]
diff-mix s=0.3 · seed 0"; the finished ones, whose folder is complete, in one count line); the bars
opened meanwhile carry the same "3/8" in their description. ``describe`` names a member the same way
in the reports.
"""
from __future__ import annotations

import os
import sys
from typing import Iterable, Iterator

from . import artifacts

ENV = "DIFFMIX_TERMINAL_PROGRESS"
_current = {"tag": "", "counted": False}


def to_terminal() -> bool:
    """True in a kernel the runner started: progress goes to its terminal."""
    return os.environ.get(ENV) == "1" and sys.__stderr__ is not None


def describe(m: dict, baseline: str = "baseline (real only)") -> str:
    """A member's short name: its variant, its strategy (and strength where it applies), its seed."""
    sy = m["synthesize"]
    what = baseline if sy["strategy"] == "none" else f"{sy['strategy']} s={sy['strength']:g}"
    return (f"{m['variant']}: " if m.get("variant") else "") + f"{what} · seed {m['seed']}"


def say(line: str) -> None:
    """One status line: in the runner's terminal under the runner, else printed (the notebook)."""
    if to_terminal():
        print(line, file=sys.__stderr__, flush=True)
    else:
        print(line, flush=True)


def members(jobs: list[dict], stage: str) -> Iterator[dict]:
    """Yield ``jobs`` (member parameter dicts of ``stage``) one by one, announcing "[stage k/n] what"
    for each that needs work; those whose folder is already complete are counted in one line."""
    folders = [artifacts.stage_folders(m, stage)[0] for m in jobs]
    finished = [artifacts.is_done(f) for f in folders]
    if any(finished):
        say(f"[{stage}] {sum(finished)} of {len(jobs)} already complete (under {folders[0].parent})")
    _current["counted"] = True
    try:
        for k, (m, skip) in enumerate(zip(jobs, finished), 1):
            _current["tag"] = f" {k}/{len(jobs)}" if len(jobs) > 1 else ""
            if not skip:
                say(f"[{stage}{_current['tag']}] {describe(m)}")
            yield m
    finally:
        _current["tag"], _current["counted"] = "", False


def already_complete(what: str, folder) -> None:
    """Say that one job's folder is complete, unless ``members`` counted it already (one line, not
    one per member)."""
    if not _current["counted"]:
        print(f"{what} already complete: {folder}")


def bar(iterable: Iterable | None = None, desc: str = "", **kwargs):
    """A tqdm bar: the notebook's widget, or a text bar in the runner's terminal (see the module doc)."""
    desc = desc + _current["tag"]
    if to_terminal():
        from tqdm import tqdm
        tty = sys.__stderr__.isatty()
        return tqdm(iterable, desc=desc, file=sys.__stderr__, mininterval=0.5 if tty else 30,
                    ncols=100 if not tty else None, **kwargs)
    from tqdm.auto import tqdm
    return tqdm(iterable, desc=desc, **kwargs)
