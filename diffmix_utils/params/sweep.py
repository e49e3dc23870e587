"""Sweeps and variants: the member runs a parameter set expands into, and each member's baseline.

``expand_sweep`` multiplies ``variants`` by the product of the ``sweep`` lists; ``baseline_of`` is
the real-data-only run that goes with a member (the classifier filter scores with it, and the
analysis compares against it).
"""
from __future__ import annotations

import copy
import itertools
import json
from typing import Any

from ..strategies import get_strategy
from .schema import defaults


def _set(p: dict, dotted: str, value: Any) -> None:
    section, _, sub = dotted.partition(".")
    if sub:
        p[section][sub] = value
    else:
        p[section] = value


# training keys that only shape how synthetic images are used: irrelevant (reset) for the baseline
SYNTHETIC_ONLY_TRAIN_KEYS = ("gamma", "kappa", "label_toward", "synthetic_sampling", "target_classes_per_source",
                             "oracle_fraction")


def reset_to_baseline(m: dict) -> None:
    """Make member ``m`` (in place) the real-data-only baseline: the synthesis and filter keys, ``train.p`` and
    the training keys that only concern synthetic images take their defaults."""
    m["synthesize"] = {**defaults()["synthesize"], "strategy": "none"}
    m["filter"] = defaults()["filter"]  # no pool, nothing to filter
    m["train"].update({k: defaults()["train"][k] for k in SYNTHETIC_ONLY_TRAIN_KEYS}, p=0.0)


def baseline_of(member: dict) -> dict:
    """The baseline run that goes with ``member`` (same data, model and training recipe)."""
    base = copy.deepcopy(member)
    reset_to_baseline(base)
    return base


def resample_draw(m: dict) -> None:
    """``replicate: draw``: the seed also picks the few-shot draw, the fine-tune's and the pool's seeds
    (each offset by it), so seeds are replicates of the whole method and a member is paired with the
    baseline of its own draw. Applied once, when a member is made from its file."""
    for section, key in (("data", "split_seed"), ("finetune", "seed"), ("synthesize", "seed")):
        m[section][key] += m["seed"]


def expand_sweep(p: dict) -> list[dict]:
    """The runs of a sweep: the product of its lists, in key order, duplicates removed.

    ``variants`` (named bundles of overrides) multiply the sweep: variants x product of the lists.
    Each member is a full parameter dict without ``sweep``/``variants`` and with ``member`` (a
    readable tag) and ``variant`` (its name or None); identical members are kept once.
    With ``synthesize.strategy: none`` the synthesis keys, ``train.p`` and the training keys that
    only concern synthetic images do not matter, so they are reset: the baseline of a strength
    sweep is trained once, not once per strength; likewise
    the text-to-image strategies (diff-gen, real-gen) get s = 1 whatever the sweep says. With
    ``replicate: draw`` a member's seed also offsets its split, fine-tune and pool seeds (``resample_draw``).
    """
    if "member" in p:
        raise ValueError(f"expand_sweep takes a parameter file's dict, not member {p['member']!r} (already expanded)")
    keys = list(p["sweep"])
    members, seen = [], set()
    variants = p.get("variants") or [None]
    for variant, combo in itertools.product(variants, itertools.product(*(p["sweep"][k] for k in keys))):
        m = copy.deepcopy({k: v for k, v in p.items() if k not in ("sweep", "variants")})
        for k, v in (variant or {}).items():
            if k != "name":
                _set(m, k, v)
        for k, v in zip(keys, combo):
            _set(m, k, v)
        if m.get("replicate") == "draw":
            resample_draw(m)
        if m["synthesize"]["strategy"] == "none":
            reset_to_baseline(m)
        elif not get_strategy(m["synthesize"]["strategy"]).img2img:  # text-to-image: s does not apply
            m["synthesize"].update(strength=1.0, strength_choices=None)
        tag = ",".join(([f"variant={variant['name']}"] if variant else []) + [f"{k}={get(m, k)}" for k in keys])
        ident = json.dumps(m, sort_keys=True, default=repr)  # identity of a member (yaml: 20x slower)
        if ident not in seen:
            seen.add(ident)
            m["member"], m["variant"] = tag or "main", variant["name"] if variant else None
            members.append(m)
    return members


def get(p: dict, dotted: str) -> Any:
    section, _, sub = dotted.partition(".")
    return p[section][sub] if sub else p[section]


KEY_SETTINGS = {"finetune": ["model.base", "finetune.mode", "finetune.steps", "finetune.lora_rank"],
                "synthesize": ["synthesize.strategy", "synthesize.strength", "synthesize.multiplier",
                               "filter.scorer"],
                "train": ["train.backbone", "train.epochs", "train.p", "train.gamma"],
                "analyze": ["analyze.figures_dir"]}


def summary(p: dict, stage: str | None = None):
    """A small table for a notebook: the keys that differ from the defaults and the stage's key
    settings (the full resolved file is ``runs/<name>/params.yaml``), with the sweep's lists."""
    import pandas as pd
    base, rows = defaults(), {}
    for section, value in p.items():
        if section in ("sweep", "variants", "member", "variant"):
            continue
        if isinstance(value, dict) and isinstance(base.get(section), dict):
            rows.update({f"{section}.{k}": v for k, v in value.items() if v != base[section].get(k)})
        elif value != base.get(section):
            rows[section] = value
    for key in KEY_SETTINGS.get(stage, []):
        rows.setdefault(key, get(p, key))
    rows.update({f"sweep: {k}": v for k, v in p.get("sweep", {}).items()})
    if p.get("variants"):
        rows["variants"] = ", ".join(v["name"] for v in p["variants"])
    rows["members"] = len(expand_sweep(p))
    return pd.DataFrame({"value": [str(v) for v in rows.values()]}, index=list(rows)).rename_axis("key")
