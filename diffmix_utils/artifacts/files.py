"""The files inside a stage folder and their checks: ``done.json`` (written last, so a folder with it
is complete), JSON and text written whole, the synthesis manifest and the filter's scores (the
contract's columns), and integrity checks that turn a broken artifact into one ``ArtifactError``
naming the file and how to rebuild it. Every file is written atomically (temp name, then
``os.replace``).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from ..atomic import ArtifactError, atomic_write

MANIFEST_COLUMNS = ["task", "path", "strategy", "source_class", "target_class", "source_index",
                    "strength", "seed"]
SCORE_COLUMNS = ["task", "score", "kept"]


def is_done(folder: Path | None) -> bool:
    return folder is None or (Path(folder) / "done.json").is_file()


def mark_done(folder: Path, info: dict | None = None) -> None:
    write_json(Path(folder) / "done.json", info or {})


def write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda t: t.write_text(text))


def write_json(path: Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def rebuild_hint(folder: Path, stage: str) -> str:
    return f"delete {str(folder)!r} and rerun the {stage} stage to rebuild it"


def check_safetensors(path: Path, rebuild: str) -> Path:
    """``path`` if it is a whole safetensors file (its header parses and covers the file), else one
    ``ArtifactError`` naming it and ``rebuild``: how to make it again."""
    from safetensors import safe_open
    try:
        with safe_open(str(path), "pt") as fh:
            fh.keys()
    except Exception as exc:  # SafetensorError (truncated, bad header), FileNotFoundError, ...
        raise ArtifactError(f"{str(path)!r} is missing or broken ({exc}); {rebuild}") from None
    return Path(path)


def write_manifest(path: Path, rows: list[dict]) -> Path:
    """Write synthesis task rows (plan.csv or manifest.csv) with the contract's columns."""
    return _write_csv(path, rows, MANIFEST_COLUMNS)


def write_scores(path: Path, rows: list[dict]) -> Path:
    """Write a filter's ``scores.csv`` (``task,score,kept``)."""
    return _write_csv(path, rows, SCORE_COLUMNS)


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> Path:
    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    return atomic_write(path, write)


def read_manifest(folder: Path) -> list[dict]:
    """The rows of a complete synthesis folder's manifest.csv, typed; a manifest that is unreadable,
    shorter or longer than the pool ``done.json`` describes, or that lists a missing image is one
    ``ArtifactError`` naming the file and how to rebuild the pool."""
    folder = Path(folder)
    rebuild = rebuild_hint(folder, "synthesize")
    try:
        with open(folder / "manifest.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        for r in rows:
            for k in ("task", "source_class", "target_class", "source_index", "seed"):
                r[k] = int(r[k])
            r["strength"] = float(r["strength"])
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{str(folder / 'manifest.csv')!r} cannot be read ({type(exc).__name__}: {exc}); "
                            f"{rebuild}") from None
    expected = read_json(folder / "done.json").get("images") if is_done(folder) else None
    if expected is not None and expected != len(rows):
        raise ArtifactError(f"{str(folder / 'manifest.csv')!r} lists {len(rows)} images but the pool has "
                            f"{expected}; {rebuild}")
    missing = next((r["path"] for r in rows if not (folder / r["path"]).is_file()), None)
    if missing is not None:
        raise ArtifactError(f"{str(folder / 'manifest.csv')!r} lists {missing!r}, which is missing; {rebuild}")
    return rows


def read_scores(folder: Path) -> dict[int, dict]:
    """A filter folder's ``scores.csv`` as ``{task: {"score": float, "kept": int}}``."""
    with open(Path(folder) / "scores.csv", newline="") as fh:
        return {int(r["task"]): {"score": float(r["score"]), "kept": int(r["kept"])} for r in csv.DictReader(fh)}
