"""A command line run in the test's own process, as Python would run it: ``python -m MODULE ARGS`` or
``python SCRIPT ARGS`` with ``__main__``, its argv and a working folder. The parsing and the code are the
real ones; what is saved is a fresh interpreter's imports (seconds per command), which is why the cheap
commands of the docs and ``--plan`` tests use it. Runs that start workers or kernels stay subprocesses."""
from __future__ import annotations

import runpy
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_cli(words: list[str], monkeypatch, capsys, cwd: Path = ROOT) -> tuple[int, str]:
    """Run ``words`` (starting with ``python``); returns the exit status and what it printed (stdout + stderr)."""
    assert words[0] == "python", words
    monkeypatch.chdir(cwd)
    module = words[1] == "-m"
    monkeypatch.setattr(sys, "argv", [words[2] if module else words[1], *words[3 if module else 2:]])
    if not module:
        monkeypatch.syspath_prepend(str((cwd / words[1]).parent))
    try:
        with warnings.catch_warnings():  # the package is imported already: runpy's note about that is expected
            warnings.filterwarnings("ignore", "'diffmix_utils", RuntimeWarning)
            (runpy.run_module(words[2], run_name="__main__", alter_sys=True) if module
             else runpy.run_path(str(cwd / words[1]), run_name="__main__"))
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    out = capsys.readouterr()
    return code, out.out + out.err
