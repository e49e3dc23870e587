"""Processes the kit starts (torchrun ranks, synthesis workers, the local executor's workers): started
so that they die with their parent, waited for so that an interrupt stops them too, and stopped as a
tree when the runner is interrupted.

- ``popen(cmd)``: ``subprocess.Popen`` whose child gets SIGTERM when the process that started it dies
  (Linux ``PR_SET_PDEATHSIG``; elsewhere the explicit stops below still apply);
- ``wait_all(procs)``: their exit codes; an interrupt (KeyboardInterrupt, a kernel's *Interrupt*)
  while waiting stops them all before it goes on;
- ``stop_tree()``: SIGTERM to every descendant of this process, SIGKILL to what is left after a grace
  period; returns the process ids it stopped.
"""
from __future__ import annotations

import ctypes
import signal
import subprocess
import sys

import psutil

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def popen(cmd: list[str], **kwargs) -> subprocess.Popen:
    """``subprocess.Popen(cmd, **kwargs)``; on Linux the child is sent SIGTERM when its parent dies."""
    if sys.platform.startswith("linux"):
        kwargs.setdefault("preexec_fn", _die_with_parent)
    return subprocess.Popen(cmd, **kwargs)


def stop(procs: list[subprocess.Popen], grace: float = 10.0) -> None:
    """SIGTERM to every process of ``procs`` still running, SIGKILL after ``grace`` seconds."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_all(procs: list[subprocess.Popen]) -> list[int]:
    """The exit codes of ``procs``, in order. Interrupted while waiting (Ctrl-C, a kernel's interrupt,
    an error), it stops them all first: SIGTERM lets torchrun stop its own ranks, where SIGKILL would
    orphan them."""
    try:
        return [proc.wait() for proc in procs]
    except BaseException:
        stop(procs)
        raise


def descendants(pid: int | None = None) -> list[psutil.Process]:
    """Every living descendant of ``pid`` (default: this process), deepest first."""
    try:
        found = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return found[::-1]


def stop_tree(grace: float = 3.0, pid: int | None = None) -> list[int]:
    """Stop every descendant of ``pid`` (default: this process): SIGTERM, then SIGKILL to those alive
    after ``grace`` seconds. The tree is read once, before any signal, so a child whose parent dies
    first is still found. Returns their process ids."""
    tree = descendants(pid)
    for proc in tree:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(tree, timeout=grace)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=grace)
    return [proc.pid for proc in tree]
