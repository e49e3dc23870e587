"""Where each stage's artifacts live, keyed by a hash of everything upstream that shapes them.

A sweep's members that share a fine-tune or a synthesis pool compute the same key and so reuse one
folder. A filter's scores of a pool live in their own folder, keyed by (pool, scorer, scoring model,
fraction); the pool itself is never rewritten. Keys leave out what only changes speed or bookkeeping
(``_NOT_SHAPING``), and name a folder by its content, not its path (``identity``). The files inside the folders and their checks are ``artifacts.files``; which
folders a parameter file needs made, and in what order, is ``jobs``.
"""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

from ..bundled import BUNDLED, bundled_digest
from ..data.class_names import UNINFORMATIVE_FILE, setting, uninformative_words
from ..params import baseline_of
from ..params.schema import SCHEMA
from ..stages import folder
from ..strategies import get_strategy
from .identity import data_identity, folder_identity, model_identity

# Keys that do not change a stage's output (speed or bookkeeping only) are left out of its hash.
_NOT_SHAPING = {"data": {"download", "class_names"},  # names shape only name-prompted artifacts: below
                "finetune": {"checkpoint_every", "checkpoint_limit", "num_processes", "gradient_checkpointing"},
                "synthesize": {"batch_size", "num_processes", "cpu_workers", "vae_slicing", "cpu_offload"},
                "train": {"num_workers", "num_processes"}}
# Keys added after stores existed, and the thread counts (fixed by default, since they change the last bits
# of weights and images): at these values they leave the hash out, so finished folders keep their keys.
_HASHED_ONLY_OFF_DEFAULT = {"train": {"label_toward": "target", "eval_every": 1, "oracle_fraction": 0.0},
                            "synthesize": {"cpu_threads": 1}}
DEFAULT_CPU_THREADS = SCHEMA["cluster"]["cpu_threads"].default  # torch threads of fine-tune, filter, training



def stable_hash(obj: Any, n: int = 10) -> str:
    """Short content hash of a JSON-able object (key order does not matter)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:n]


def _section(p: dict, name: str) -> dict:
    later = _HASHED_ONLY_OFF_DEFAULT.get(name, {})
    return {k: v for k, v in p[name].items()
            if k not in _NOT_SHAPING.get(name, set()) and not (k in later and v == later[k])}


def split_key(p: dict) -> str:
    """The split's key: the data section, with a dataset folder by its content (``identity``), so the
    same release at another path (another node, a copied store) keeps its split and everything after it."""
    return stable_hash(data_identity(_section(p, "data")))


def _threads(threads: int) -> list:
    """``cluster.cpu_threads`` in the key of a fine-tune, filter or classifier (not at its fixed default):
    the thread count changes the float reduction order, so two counts are two contents."""
    return [] if threads == DEFAULT_CPU_THREADS else [{"cpu_threads": threads}]


def _names(p: dict, prompts_with_names: bool) -> list:
    """``data.class_names`` in the key of an artifact whose prompts use class names (not at the default):
    ``misleading`` as ``opaque`` (its name until 2026-12-07, so its folders keep their keys), and the
    committed uninformative words for the settings built from them (None before they are chosen: no pool
    can be made then, ``measure.name_check.require``)."""
    mode = setting(p["data"])
    if not prompts_with_names or mode == "dataset":
        return []
    if mode == "misleading":
        return [{"class_names": "opaque"}]
    return [{"class_names": mode, "words": uninformative_words() if UNINFORMATIVE_FILE.is_file() else None}]


def finetune_key(p: dict) -> str:
    return stable_hash([split_key(p), model_identity(p["model"]), _section(p, "finetune"),
                        *_names(p, p["finetune"]["mode"] == "lora_only"), *_threads(p["cluster"]["cpu_threads"])])


def uses_finetune(p: dict) -> bool:
    return p["synthesize"]["strategy"] != "none" and get_strategy(p["synthesize"]["strategy"]).needs_finetune


def synthesis_key(p: dict) -> str | None:
    if p["synthesize"]["strategy"] == "none":
        return None
    strategy = get_strategy(p["synthesize"]["strategy"])
    upstream = finetune_key(p) if uses_finetune(p) else [split_key(p), model_identity(p["model"])]
    by_name = not strategy.control and (not strategy.tokens or p["finetune"]["mode"] == "lora_only")
    return stable_hash([upstream, _section(p, "synthesize"), *_names(p, by_name)])


def oracle_partner(p: dict) -> dict | None:
    """The ``oracle-mix`` member whose pool (the same plan: sources, targets, seeds) ``train.oracle_fraction``
    takes rows from; None when the fraction is 0."""
    if not p["train"]["oracle_fraction"]:
        return None
    partner = copy.deepcopy(p)
    partner["synthesize"]["strategy"] = "oracle-mix"
    partner["train"]["oracle_fraction"] = 0.0
    return partner


def filter_scorer(p: dict) -> dict | None:
    """The classifier the ``classifier`` filter scores a pool with: the run's baseline (real data
    only, same recipe) trained with the pool's seed, so every member that shares the pool shares
    one filter; None for other scorers."""
    if p["filter"]["scorer"] != "classifier" or synthesis_key(p) is None:
        return None
    base = baseline_of(p)
    base["seed"] = p["synthesize"]["seed"]
    return base


def filter_key(p: dict) -> str | None:
    """(pool, scorer, scoring model, fraction); None when no filter applies."""
    f = p["filter"]
    if f["scorer"] == "none" or synthesis_key(p) is None:
        return None
    scorer = filter_scorer(p)
    model = train_key(scorer) if scorer is not None else folder_identity(f["model"])
    return scores_key(synthesis_key(p), f["scorer"], model, f["fraction"], p["cluster"]["cpu_threads"])


def scores_key(pool_key: str, scorer: str, model: str, fraction: float, threads: int = DEFAULT_CPU_THREADS) -> str:
    """The filter folder's key: the pool's key, the scorer, its model (a CLIP id or folder, or the
    scoring classifier's train key), the fraction marked not kept, and the thread count off its default."""
    return stable_hash([pool_key, scorer, model, float(fraction), *_threads(threads)])


def train_key(p: dict) -> str:
    weights = p["train"]["weights"]
    bundled = [bundled_digest(weights)] if weights and weights.startswith(BUNDLED) else []  # rebuilt weights: new key
    return stable_hash([split_key(p), filter_key(p) or synthesis_key(p), _section(p, "train"), p["seed"], *bundled,
                        *_threads(p["cluster"]["cpu_threads"])])


def store(p: dict) -> Path:
    return Path(p["workdir"]) / "store"


def run_dir(p: dict) -> Path:
    return Path(p["workdir"]) / p["name"]


def split_path(p: dict) -> Path:
    return store(p) / "splits" / f"{p['data']['dataset']}-{split_key(p)}.json"


def open_split(p: dict) -> dict:
    """The split file every stage of ``p`` reads (train / val / test indices), made atomically on first use."""
    from ..data import ensure_split
    return ensure_split(split_path(p), p["data"], store(p) / "datasets")


def dataset_cache(p: dict, key: str) -> Path:
    return store(p) / "datasets" / f"{p['data']['dataset']}-{key}"


def finetune_dir(p: dict) -> Path:
    return store(p) / folder("finetune") / finetune_key(p)


def synthesis_dir(p: dict) -> Path | None:
    key = synthesis_key(p)
    return None if key is None else store(p) / folder("synthesize") / key


def filter_dir(p: dict) -> Path | None:
    key = filter_key(p)
    return None if key is None else store(p) / folder("filter") / key


def train_dir(p: dict) -> Path:
    return store(p) / folder("train") / train_key(p)


def figures_dir(p: dict) -> Path:
    return Path(p["analyze"]["figures_dir"]) / p["name"]


def stage_folders(p: dict, stage: str) -> list[Path | None]:
    """The artifact folders one member needs for a stage (None: nothing to do)."""
    return [{"finetune": lambda: finetune_dir(p) if uses_finetune(p) else None,
             "synthesize": lambda: synthesis_dir(p), "filter": lambda: filter_dir(p), "train": lambda: train_dir(p),
             "analyze": lambda: figures_dir(p)}[stage]()]
