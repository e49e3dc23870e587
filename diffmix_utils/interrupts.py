"""Ctrl-C, SIGTERM and SIGHUP stop the runner, and everything it started, within seconds.

A notebook's kernel runs in a POSIX session of its own, so a terminal's Ctrl-C (SIGINT to the
foreground process group) and a closed terminal (SIGHUP) never reach it. ``stop_on_signals``
therefore handles them in the runner: the first signal stops every process the runner started
(the kernel, its torchrun ranks and synthesis workers: ``children.stop_tree``) and raises
``Interrupted`` in the runner's main thread, which says in one line what was interrupted, that the
finished artifacts are kept and what continues the run, and exits with 128 + the signal number
(130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP). A second signal exits at once; so does a
watchdog if the first one's exception is swallowed on its way out.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import Callable

from . import children

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP (terminal closed)"}


class Interrupted(BaseException):
    """The run was stopped by a signal; ``code`` is the exit status (128 + signal number)."""

    def __init__(self, signum: int):
        super().__init__(NAMES.get(signum, f"signal {signum}"))
        self.signum, self.code = signum, 128 + signum


@contextlib.contextmanager
def stop_on_signals(say: Callable[[Interrupted], str], grace: float = 5.0):
    """Within the block, a signal of ``SIGNALS`` stops this process's children and raises
    ``Interrupted``; ``say(exc)`` is the one line printed if the process must exit without the
    caller's own handling (a second signal, or the watchdog after ``grace`` seconds)."""
    state: dict = {}

    def leave(exc: Interrupted) -> None:
        print(f"\n{say(exc)}", file=sys.stderr, flush=True)
        os._exit(exc.code)

    def handler(signum, frame):
        exc = Interrupted(signum)
        if state:  # the second signal: no more waiting
            children.stop_tree(grace=0.5)
            leave(exc)
        state["first"] = exc
        children.stop_tree()
        watchdog = threading.Timer(grace, leave, args=(exc,))
        watchdog.daemon = True
        watchdog.start()
        state["watchdog"] = watchdog
        raise exc

    before = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, old in before.items():
            signal.signal(s, old)
        if "watchdog" in state:
            state["watchdog"].cancel()


def first_signal(exc: BaseException) -> Interrupted | None:
    """The ``Interrupted`` behind ``exc`` (itself, or its cause or context), if any."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, Interrupted):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None
