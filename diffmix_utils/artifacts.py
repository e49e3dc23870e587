"""Where each stage's artifacts live, keyed by a hash of everything upstream that shapes them.

Stages never import each other; they meet here. A sweep's members that share a fine-tune or a
synthesis pool compute the same key and so reuse one folder. Every file is written atomically
(temp name, then ``os.replace``) and a stage folder counts as complete only once its
``done.json`` exists, which is written last.
"""
from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any

from .atomic import atomic_write

# Keys that do not change a stage's output (speed or bookkeeping only) are left out of its hash.
_NOT_SHAPING = {"data": {"download"}, "finetune": {"checkpoint_every", "checkpoint_limit", "num_processes"},
                "synthesize": {"batch_size", "num_processes", "cpu_workers", "cpu_threads"},
                "train": {"num_workers", "num_processes"}}
MANIFEST_COLUMNS = ["task", "path", "strategy", "source_class", "target_class", "source_index",
                    "strength", "seed"]
FINETUNED_STRATEGIES = {"diff-mix", "diff-aug", "diff-gen", "ti-mix", "ti-aug"}


def stable_hash(obj: Any, n: int = 10) -> str:
    """Short content hash of a JSON-able object (key order does not matter)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:n]


def _section(p: dict, name: str) -> dict:
    return {k: v for k, v in p[name].items() if k not in _NOT_SHAPING.get(name, set())}


def split_key(p: dict) -> str:
    return stable_hash(_section(p, "data"))


def finetune_key(p: dict) -> str:
    return stable_hash([split_key(p), p["model"], _section(p, "finetune")])


def uses_finetune(p: dict) -> bool:
    return p["synthesize"]["strategy"] in FINETUNED_STRATEGIES


def synthesis_key(p: dict) -> str | None:
    if p["synthesize"]["strategy"] == "none":
        return None
    upstream = finetune_key(p) if uses_finetune(p) else [split_key(p), p["model"]]
    return stable_hash([upstream, _section(p, "synthesize")])


def train_key(p: dict) -> str:
    return stable_hash([split_key(p), synthesis_key(p), _section(p, "train"), p["seed"]])


def store(p: dict) -> Path:
    return Path(p["workdir"]) / "store"


def run_dir(p: dict) -> Path:
    return Path(p["workdir"]) / p["name"]


def split_path(p: dict) -> Path:
    return store(p) / "splits" / f"{p['data']['dataset']}-{split_key(p)}.json"


def dataset_cache(p: dict, key: str) -> Path:
    return store(p) / "datasets" / f"{p['data']['dataset']}-{key}"


def finetune_dir(p: dict) -> Path:
    return store(p) / "finetune" / finetune_key(p)


def synthesis_dir(p: dict) -> Path | None:
    key = synthesis_key(p)
    return None if key is None else store(p) / "synthesize" / key


def train_dir(p: dict) -> Path:
    return store(p) / "train" / train_key(p)


def figures_dir(p: dict) -> Path:
    return Path(p["analyze"]["figures_dir"]) / p["name"]


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


def stage_folders(p: dict, stage: str) -> list[Path | None]:
    """The artifact folders one member needs for a stage (None: nothing to do)."""
    return [{"finetune": lambda: finetune_dir(p) if uses_finetune(p) else None,
             "synthesize": lambda: synthesis_dir(p), "train": lambda: train_dir(p),
             "analyze": lambda: figures_dir(p)}[stage]()]


def write_manifest(path: Path, rows: list[dict]) -> Path:
    """Write synthesis task rows (plan.csv or manifest.csv) with the contract's columns, plus
    ``score,kept`` once a filter has scored them."""
    columns = MANIFEST_COLUMNS + (["score", "kept"] if rows and "kept" in rows[0] else [])

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    return atomic_write(path, write)


def read_manifest(folder: Path) -> list[dict]:
    """The rows of a synthesis folder's manifest.csv, typed."""
    with open(Path(folder) / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        for k in ("task", "source_class", "target_class", "source_index", "seed"):
            r[k] = int(r[k])
        r["strength"] = float(r["strength"])
        if "kept" in r:
            r["score"], r["kept"] = float(r["score"]), int(r["kept"])
    return rows


def stage_jobs(p: dict, stage: str) -> list[dict]:
    """The sweep members that need work in ``stage``, one per distinct artifact folder."""
    from .params import expand_sweep
    jobs, seen = [], set()
    for m in expand_sweep(p):
        folder = stage_folders(m, stage)[0]
        if folder is not None and folder not in seen:
            seen.add(folder)
            jobs.append(m)
    return jobs


def stage_complete(p: dict, stage: str) -> bool:
    """True when every artifact folder the stage must write is complete (analyze: for these runs)."""
    if stage == "analyze":
        marker = run_dir(p) / "analyze-done.json"
        return marker.is_file() and read_json(marker).get("train_keys") == analyzed_keys(p)
    return all(is_done(stage_folders(m, stage)[0]) for m in stage_jobs(p, stage))


def analyzed_keys(p: dict) -> list[str]:
    from .params import expand_sweep
    return sorted(train_key(m) for m in expand_sweep(p))
