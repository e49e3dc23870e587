"""Atomic files and folders (standard library only, so every layer of the kit may use it).

A reader never sees a half-written file or folder: work happens under a temp name beside the
target, which is renamed onto it only when complete, and removed if anything fails. A file that is
found broken all the same (truncated by a full disk, edited by hand) is an ``ArtifactError`` that
names it and how to rebuild it.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


class ArtifactError(RuntimeError):
    """A kit-written file is broken or was changed; the message names it and how to rebuild it."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then rename onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix + ".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextmanager
def atomic_dir(folder: Path, keep_existing: bool = False) -> Iterator[Path]:
    """Yield a temp folder beside ``folder``; when the block ends it replaces ``folder``.

    ``keep_existing``: the content is a pure function of its inputs (a rendered dataset), so when
    another process finished ``folder`` meanwhile, its copy is kept and this one discarded: never
    removed under a reader."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
        if keep_existing:
            try:
                os.rename(tmp, folder)  # fails when another process's folder is already there
            except OSError:
                if not folder.is_dir():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
            return
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
