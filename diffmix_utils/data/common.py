"""What every dataset layout reader shares: the index it returns, its options, and clear errors.

A reader turns an official release on disk into a ``DatasetIndex``: class names (cleaned for
prompts), a super-category, and items ``{path, label, split, ...}`` where ``path`` is relative to
the dataset root (or absolute, for a second root such as Waterbirds' CUB) and ``split`` is
``train``, ``val`` (only where the release defines one) or ``test``. Every error names the path or
the value that is wrong and what was expected, so a half-unpacked download is diagnosed at once.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


class DatasetError(ValueError):
    """A dataset on disk does not match its documented layout; the message names the path."""


@dataclass(frozen=True)
class Option:
    """One entry of a layout's ``data.options``: default, what it means, and its valid values."""
    default: Any
    doc: str
    choices: tuple | None = None
    kind: type = str


@dataclass
class DatasetIndex:
    root: Path
    classes: list[str]
    superclass: str
    items: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Layout:
    """A registered dataset: its reader, prompt super-category, options and where it comes from."""
    read: Callable[[Path, dict], tuple[list[str], list[dict]]]
    superclass: str
    source: str                       # where the official release comes from
    layout: str                       # what data.root must hold
    options: dict[str, Option] = field(default_factory=dict)
    download: Callable[[Path, dict], Path] | None = None  # torchvision download -> the root to read


def clean_name(name: str) -> str:
    """'001.Black_footed_Albatross' -> 'Black footed Albatross' (prompt-ready class name)."""
    name = re.sub(r"^\d+\.", "", name.strip())
    name = re.sub(r"^n\d{8}-", "", name)  # Stanford Dogs / ImageNet wnid prefix
    return re.sub(r"\s+", " ", name.replace("_", " ").replace("/", " ")).strip()


def require_dir(path: Path, what: str) -> Path:
    if not Path(path).is_dir():
        raise DatasetError(f"{what}: folder {str(path)!r} does not exist")
    return Path(path)


def require_file(path: Path, what: str) -> Path:
    if not Path(path).is_file():
        raise DatasetError(f"{what}: file {str(path)!r} does not exist")
    return Path(path)


def read_rows(path: Path, what: str, fields: int) -> list[list[str]]:
    """Whitespace-separated rows of an index file (the last field keeps its inner spaces)."""
    rows = []
    for n, line in enumerate(require_file(path, what).read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(maxsplit=fields - 1)
        if len(parts) < fields:
            raise DatasetError(f"{path}:{n}: expected {fields} fields, got {line!r}")
        rows.append(parts)
    return rows


def to_int(value: str, where: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise DatasetError(f"{where}: {value!r} is not an integer") from None


def check_label(label: int, num_classes: int, where: str) -> int:
    if not 0 <= label < num_classes:
        raise DatasetError(f"{where}: label {label} is out of range; valid: 0..{num_classes - 1} "
                           f"(or 1..{num_classes} in the 1-based index files)")
    return label


def load_mat(path: Path, what: str) -> dict:
    """A MATLAB .mat file as a dict (scipy, squeeze_me), or a clear error."""
    from scipy.io import loadmat
    try:
        return loadmat(require_file(path, what), squeeze_me=True)
    except (ValueError, OSError, NotImplementedError) as exc:
        raise DatasetError(f"{what}: {str(path)!r} is not a readable .mat file ({exc})") from None


def mat_key(mat: dict, key: str, path: Path) -> Any:
    if key not in mat:
        keys = ", ".join(k for k in mat if not k.startswith("__"))
        raise DatasetError(f"{path} has no variable {key!r}; it holds: {keys}")
    return mat[key]


def resolve_options(layout_name: str, layout: Layout, options: dict | None) -> dict:
    """Defaults filled in and every key and value checked; raises ValueError naming the bad one."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(layout.options))
    if unknown:
        valid = ", ".join(layout.options) or "none"
        raise ValueError(f"data.options.{unknown[0]} is not an option of data.dataset = "
                         f"{layout_name!r}; valid options: {valid}")
    out = {}
    for key, opt in layout.options.items():
        value = options.get(key, opt.default)
        if value is not None and not isinstance(value, opt.kind):
            raise ValueError(f"data.options.{key} = {value!r} must be a {opt.kind.__name__}")
        if opt.choices and value not in opt.choices:
            raise ValueError(f"data.options.{key} = {value!r} is not valid for {layout_name!r}; "
                             f"valid: {', '.join(map(str, opt.choices))}")
        out[key] = value
    return out
