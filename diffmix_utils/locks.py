"""One artifact, one computer: a lock per artifact folder, so two runs on one store (two runners,
a runner and a notebook, two workers) never compute the same artifact at once.

``once(folder, what, compute)`` runs ``compute()`` only while holding the folder's lock, and only
if the folder is still not complete once the lock is held: the second run waits for the first,
says so, and then reuses what it finished. The lock is an exclusive ``flock`` on
``<stage>/.<key>.lock`` (``filelock``), which the operating system releases when its holder dies,
however it dies (Ctrl-C, ``kill -9``), so a dead run's lock never blocks a rerun. Who holds it is
written beside it (``.<key>.holder.json``: host, process id, since) for the waiting run to say.

Inside a torchrun / ``accelerate launch`` group the launching process holds the lock; its ranks
do not take one (they would wait for each other).
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Callable, TypeVar

from filelock import FileLock, Timeout

from . import artifacts, progress

T = TypeVar("T")


def lock_path(folder: Path) -> Path:
    return folder.parent / f".{folder.name}.lock"


def owner_path(folder: Path) -> Path:
    return folder.parent / f".{folder.name}.holder.json"


def holder(folder: Path) -> str:
    """Who holds the lock on ``folder``, in words (from its owner file; '' when unknown)."""
    try:
        info = json.loads(owner_path(folder).read_text())
    except (OSError, ValueError):
        return ""
    since = time.strftime("%H:%M:%S", time.localtime(info.get("since", 0)))
    return f"process {info.get('pid')} on {info.get('host')}, since {since}"


def once(folder: Path, what: str, compute: Callable[[], T]) -> T | Path:
    """``compute()`` under the lock of ``folder``, unless the folder is complete when the lock is
    held (another run finished it meanwhile): then the folder is returned as it is."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # a rank of a launched group: its launcher holds the lock
        return compute()
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path(folder)))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        who = holder(folder)
        progress.say(f"{what}: {folder} is being computed by another run{' (' + who + ')' if who else ''}; "
                     "waiting for it, then reusing it")
        lock.acquire()
    try:
        if artifacts.is_done(folder):
            progress.say(f"{what}: {folder} was completed by another run; reusing it")
            return folder
        artifacts.write_json(owner_path(folder), {"host": socket.gethostname(), "pid": os.getpid(),
                                                  "since": time.time()})
        return compute()
    finally:
        owner_path(folder).unlink(missing_ok=True)
        lock.release()
