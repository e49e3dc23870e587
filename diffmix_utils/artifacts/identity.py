"""What a folder named in a parameter file *is*, for artifact keys: its content, not its path.

On a cluster the same dataset and store are mounted at different paths on different nodes, datasets
are staged to node-local disks and stores are copied from scratch to project space. A key that held
a path would then make a second split, fine-tune, pool and classifier of the same data. So a folder
enters a key as a fingerprint of its files: every file's path relative to the folder and its size,
and the bytes of its small text files (index lists, configs), never its absolute path or its times.
Reading the file list of a dataset of 20,000 images takes a fraction of a second; it is done once per
folder and process.
"""
from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

_READ_WHOLE = {".txt", ".json", ".csv", ".mat", ".yaml", ".yml", ".model"}  # index files and configs
_SMALL = 1 << 20


@lru_cache(maxsize=64)
def _fingerprint(folder: str) -> str:
    digest = hashlib.sha1()
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(f for f in filenames if not f.startswith(".")):
            path = Path(dirpath) / name
            size = path.stat().st_size
            digest.update(f"{path.relative_to(folder).as_posix()}\0{size}\n".encode())
            if path.suffix.lower() in _READ_WHOLE and size <= _SMALL:
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def folder_identity(path: str | os.PathLike) -> str:
    """``content:<hash>`` of an existing folder's files (names, sizes, small index and config files);
    the path unchanged when it is not a folder here (a hub id, or a folder not there yet)."""
    folder = Path(path).expanduser()
    return f"content:{_fingerprint(str(folder.resolve()))}" if folder.is_dir() else str(path)


def data_identity(data: dict) -> dict:
    """The ``data`` section as it enters the split key: ``root`` (and any layout option naming a folder,
    such as Waterbirds' ``cub_root``) by content. With ``download: true`` the root is the official
    release, named rather than read, since it is filled by the first run. ``root: null`` (toybirds,
    rendered by the kit) is kept as it is, so existing keys do not change."""
    if data.get("root") is None:
        return data
    root = "official-release" if data.get("download") else folder_identity(data["root"])
    options = {k: folder_identity(v) if isinstance(v, str) and Path(v).expanduser().is_dir() else v
               for k, v in (data.get("options") or {}).items()}
    return {**data, "root": root, "options": options}


def model_identity(model: dict) -> dict:
    """The ``model`` section with a local ``base`` folder by content (a hub id or bundled name as is)."""
    base = model["base"]
    if base.startswith("bundled:") or not Path(base).expanduser().is_dir():
        return model
    return {**model, "base": folder_identity(base)}
