"""Where each stage's artifacts live, keyed by a hash of everything upstream that shapes them.

Stages never import each other; they meet here. A sweep's members that share a fine-tune or a
synthesis pool compute the same key and so reuse one folder. A filter's scores of a pool live in
their own folder, keyed by (pool, scorer, fraction); the pool itself is never rewritten. Every file
is written atomically (temp name, then ``os.replace``) and a stage folder counts as complete only
once its ``done.json`` exists, which is written last.
"""
from __future__ import annotations

import csv
import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from .atomic import ArtifactError, atomic_write
from .params import baseline_of, expand_sweep
from .strategies import get_strategy

# Keys that do not change a stage's output (speed or bookkeeping only) are left out of its hash.
_NOT_SHAPING = {"data": {"download"},
                "finetune": {"checkpoint_every", "checkpoint_limit", "num_processes", "gradient_checkpointing"},
                "synthesize": {"batch_size", "num_processes", "cpu_workers", "cpu_threads", "vae_slicing",
                               "cpu_offload",
                               "filter", "filter_model", "filter_fraction"},  # the filter has its own key
                "train": {"num_workers", "num_processes"}}
# Keys added after stores existed: at these values they leave the hash out, so finished folders keep their keys.
_HASHED_ONLY_OFF_DEFAULT = {"train": {"label_toward": "target", "eval_every": 1}}
MANIFEST_COLUMNS = ["task", "path", "strategy", "source_class", "target_class", "source_index",
                    "strength", "seed"]
SCORE_COLUMNS = ["task", "score", "kept"]


def stable_hash(obj: Any, n: int = 10) -> str:
    """Short content hash of a JSON-able object (key order does not matter)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:n]


def _section(p: dict, name: str) -> dict:
    later = _HASHED_ONLY_OFF_DEFAULT.get(name, {})
    return {k: v for k, v in p[name].items()
            if k not in _NOT_SHAPING.get(name, set()) and not (k in later and v == later[k])}


def split_key(p: dict) -> str:
    return stable_hash(_section(p, "data"))


def finetune_key(p: dict) -> str:
    return stable_hash([split_key(p), p["model"], _section(p, "finetune")])


def uses_finetune(p: dict) -> bool:
    return p["synthesize"]["strategy"] != "none" and get_strategy(p["synthesize"]["strategy"]).needs_finetune


def synthesis_key(p: dict) -> str | None:
    if p["synthesize"]["strategy"] == "none":
        return None
    upstream = finetune_key(p) if uses_finetune(p) else [split_key(p), p["model"]]
    return stable_hash([upstream, _section(p, "synthesize")])


def filter_scorer(p: dict) -> dict | None:
    """The classifier the ``classifier`` filter scores a pool with: the run's baseline (real data
    only, same recipe) trained with the pool's seed, so every member that shares the pool shares
    one filter; None for other scorers."""
    if p["synthesize"]["filter"] != "classifier" or synthesis_key(p) is None:
        return None
    base = baseline_of(p)
    base["seed"] = p["synthesize"]["seed"]
    return base


def filter_key(p: dict) -> str | None:
    """(pool, scorer, scoring model, fraction); None when no filter applies."""
    sy = p["synthesize"]
    if sy["filter"] == "none" or synthesis_key(p) is None:
        return None
    scorer = filter_scorer(p)
    model = train_key(scorer) if scorer is not None else sy["filter_model"]
    return scores_key(synthesis_key(p), sy["filter"], model, sy["filter_fraction"])


def scores_key(pool_key: str, scorer: str, model: str, fraction: float) -> str:
    """The filter folder's key: the pool's key, the scorer, its model (a CLIP id or folder, or the
    scoring classifier's train key) and the fraction marked not kept."""
    return stable_hash([pool_key, scorer, model, float(fraction)])


def train_key(p: dict) -> str:
    weights = p["train"]["weights"]
    bundled = [_bundled_digest(weights)] if weights and weights.startswith("bundled:") else []  # rebuilt weights: new key
    return stable_hash([split_key(p), filter_key(p) or synthesis_key(p), _section(p, "train"), p["seed"], *bundled])


@functools.lru_cache(maxsize=None)
def _bundled_digest(weights: str) -> str:
    """Content hash of a bundled classifier's weights file (so retraining it is a different run)."""
    from .models.classifiers import bundled_folder
    path = bundled_folder(weights) / "model.safetensors"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "missing"


def store(p: dict) -> Path:
    return Path(p["workdir"]) / "store"


def run_dir(p: dict) -> Path:
    return Path(p["workdir"]) / p["name"]


def split_path(p: dict) -> Path:
    return store(p) / "splits" / f"{p['data']['dataset']}-{split_key(p)}.json"


def open_split(p: dict) -> dict:
    """The split file every stage of ``p`` reads (train / val / test indices), made atomically on first use."""
    from .data import ensure_split
    return ensure_split(split_path(p), p["data"], store(p) / "datasets")


def dataset_cache(p: dict, key: str) -> Path:
    return store(p) / "datasets" / f"{p['data']['dataset']}-{key}"


def finetune_dir(p: dict) -> Path:
    return store(p) / "finetune" / finetune_key(p)


def synthesis_dir(p: dict) -> Path | None:
    key = synthesis_key(p)
    return None if key is None else store(p) / "synthesize" / key


def filter_dir(p: dict) -> Path | None:
    key = filter_key(p)
    return None if key is None else store(p) / "filter" / key


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


def stage_folders(p: dict, stage: str) -> list[Path | None]:
    """The artifact folders one member needs for a stage (None: nothing to do)."""
    return [{"finetune": lambda: finetune_dir(p) if uses_finetune(p) else None,
             "synthesize": lambda: synthesis_dir(p), "filter": lambda: filter_dir(p), "train": lambda: train_dir(p),
             "analyze": lambda: figures_dir(p)}[stage]()]


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


def stage_jobs(p: dict, stage: str) -> list[dict]:
    """The members that need work in ``stage``, one per distinct artifact folder. For ``train`` the
    classifiers the ``classifier`` filter scores with come too, and everything whose data needs no
    filter result comes before what reads a filtered pool (the order ``03_train`` runs them in)."""
    members = expand_sweep(p)
    if stage == "train":
        scorers = [s for s in map(filter_scorer, members) if s is not None]
        members = [m for m in scorers + members if filter_key(m) is None] + \
                  [m for m in members if filter_key(m) is not None]
    jobs, seen = [], set()
    for m in members:
        folder = stage_folders(m, stage)[0]
        if folder is not None and folder not in seen:
            seen.add(folder)
            jobs.append(m)
    return jobs


def stage_complete(p: dict, stage: str) -> bool:
    """True when every artifact folder the stage must write is complete (analyze: for these runs)."""
    if stage == "analyze":
        marker = run_dir(p) / "analyze-done.json"
        return marker.is_file() and read_json(marker) == analyze_marker(p)
    return all(is_done(stage_folders(m, stage)[0]) for m in stage_jobs(p, stage))


def analyze_marker(p: dict) -> dict:
    """What an analysis was made from (``runs/<name>/analyze-done.json``): the classifiers' keys and the
    ``analyze`` settings, so a new classifier or a changed setting (formats, dpi, claims) runs it again."""
    return {"train_keys": sorted(train_key(m) for m in expand_sweep(p)), "analyze": p["analyze"]}
