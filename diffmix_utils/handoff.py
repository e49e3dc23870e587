"""The job hand-off, in one place: whoever starts a job in another process (an executor's worker or
SLURM job, a torchrun group, the synthesis stage's shard workers) writes the resolved sweep member to
a JSON file, and the job, ``python -m diffmix_utils.<stage> --member-json FILE``, reads it back.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .atomic import atomic_write

FLAG = "--member-json"


def write_member(member: dict, path: Path) -> Path:
    """``member`` as JSON at ``path``, written whole (a job never reads half a file)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(Path(path), lambda t: t.write_text(json.dumps(member, sort_keys=True, default=str)))


def read_member(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def command(module: str, path: Path, *extra: str) -> list[str]:
    """``python -m <module> --member-json <path> [extra]`` with this interpreter."""
    return [sys.executable, "-m", module, FLAG, str(path), *extra]
