"""Fill defaults into a parameter mapping and validate every key before any work starts.

Every key the kit understands is declared once in ``params.schema.SCHEMA`` with its default, type, range or
choices and a one-line doc. ``resolve`` turns a user's (partial) dict into a complete, validated
one or raises ``ParamsError`` naming the key, the bad value and what would be valid. The same
validator runs in ``python -m diffmix_utils.run`` and in every notebook (``from_notebook``), so a
hand-run ``papermill NB OUT -p bogus_key 1`` fails the same way.
"""
from __future__ import annotations

import difflib
import math
import re
import sys
from pathlib import Path
from typing import Any

from ..data.common import resolve_options
from ..data.registry import LAYOUTS
from ..data.class_names import CHECKED as CHECKED_NAMES
from ..strategies import get_strategy, synthesis_settings_problem
from ..backbones import backbone_problem
from .schema import BUNDLED_MODELS, MOVED_KEYS, MOVED_MODELS, SCHEMA, Field, defaults
from .sweep import expand_sweep
from .variants import check_variants


class ParamsError(ValueError):
    """A parameter file or override is invalid; the message names key, value and what is valid."""


# Names that are not parameters: IPython's own, and the variables the kit's notebooks assign
# (so re-running a cell in JupyterLab does not report them as unknown keys).


def field(dotted: str) -> Field:
    """The Field of a dotted key such as ``synthesize.strength``; ParamsError if unknown."""
    node: Any = SCHEMA
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ParamsError(f"unknown key '{dotted}'; {closest_keys(dotted)}")
        node = node[part]
    if not isinstance(node, Field):
        raise ParamsError(f"'{dotted}' is a section, not a key; its keys: {', '.join(node)}")
    return node


def all_keys() -> list[str]:
    return [f"{k}.{kk}" if isinstance(v, dict) else k
            for k, v in SCHEMA.items() for kk in (v if isinstance(v, dict) else [None])]


def closest_keys(wrong: str, among: list[str] | None = None, otherwise: str = "") -> str:
    """'did you mean a, b?' for a mistyped key: the nearest valid keys by spelling (the whole dotted name,
    or its last part against every key's last part), never the whole list; ``otherwise`` when none is near."""
    among = list(dict.fromkeys(all_keys() if among is None else among))
    near = difflib.get_close_matches(wrong, among, n=3, cutoff=0.6)
    last = wrong.rsplit(".", 1)[-1]
    by_last = {k.rsplit(".", 1)[-1]: k for k in among}
    near += [by_last[k] for k in difflib.get_close_matches(last, list(by_last), n=3, cutoff=0.75)
             if by_last[k] not in near]
    hint = f"did you mean {', '.join(near[:3])}? " if near else (otherwise + "; " if otherwise else "")
    return hint + "every key is listed in docs/parameters.md"


def _range_text(key: str, f: Field) -> str:
    lo = "" if f.low is None else f"{f.low:g} {'<' if f.low_open else '<='} "
    hi = "" if f.high is None else f" {'<' if f.high_open else '<='} {f.high:g}"
    return f"{lo}{key.split('.')[-1].split('[')[0]}{hi}"


def _check_scalar(key: str, value: Any, f: Field, kind: str) -> Any:
    if kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ParamsError(f"{key} = {value!r} has type {type(value).__name__}; expected {kind}")
    if kind == "float" and not math.isfinite(value):
        bounded = f.low is not None or f.high is not None
        raise ParamsError(f"{key} = {value!r} is not a finite number; valid: "
                          f"{_range_text(key, f) if bounded else 'a finite number'}")
    if f.choices is not None and value not in f.choices:
        raise ParamsError(f"{key} = {value!r} is not valid; choose one of: {', '.join(map(str, f.choices))}")
    if f.pattern is not None and not re.fullmatch(f.pattern, value):
        raise ParamsError(f"{key} = {value!r} is not valid; it must match {f.pattern}")
    if kind in ("int", "float"):
        bad = ((f.low is not None and (value < f.low or (f.low_open and value == f.low))) or
               (f.high is not None and (value > f.high or (f.high_open and value == f.high))))
        if bad:
            raise ParamsError(f"{key} = {value!r} is out of range; valid: {_range_text(key, f)}")
    return value


_NOTICED: set[str] = set()


def _moved(key: str, value: Any) -> Any:
    """A deleted hub id becomes its maintained copy, with a one-line notice (once per process)."""
    if key == "model.base" and isinstance(value, str) and value in MOVED_MODELS:
        if value not in _NOTICED:
            _NOTICED.add(value)
            print(f"notice: model.base {value!r} was deleted from the Hugging Face hub; using its maintained "
                  f"copy {MOVED_MODELS[value]!r}", file=sys.stderr)
        return MOVED_MODELS[value]
    return value


def moved_key(dotted: Any) -> Any:
    """A key's current spelling (``synthesize.filter`` is now ``filter.scorer``), with a one-line notice
    (once per process); other keys unchanged."""
    new = MOVED_KEYS.get(dotted) if isinstance(dotted, str) else None
    if new is None:
        return dotted
    if dotted not in _NOTICED:
        _NOTICED.add(dotted)
        print(f"notice: {dotted} is now {new}; the old spelling still works", file=sys.stderr)
    return new


def _rename_moved(raw: dict) -> dict:
    """``raw`` with every moved key under its new spelling: in sections, sweeps and variants."""
    raw = dict(raw)
    for old in MOVED_KEYS:
        section, key = old.split(".")
        if isinstance(raw.get(section), dict) and key in raw[section]:
            value = raw[section][key]
            raw[section] = {k: v for k, v in raw[section].items() if k != key}
            new_section, new_key = moved_key(old).split(".")
            target = raw.get(new_section) or {}
            if isinstance(target, dict) and new_key in target:
                raise ParamsError(f"{old} and {new_section}.{new_key} are both set; {old} is the old spelling "
                                  f"of {new_section}.{new_key}: keep one")
            raw[new_section] = {**target, new_key: value} if isinstance(target, dict) else target
    if isinstance(raw.get("sweep"), dict):
        raw["sweep"] = {moved_key(k): v for k, v in raw["sweep"].items()}
    variants = raw.get("variants")

    def renamed(listed):
        return [{moved_key(k): x for k, x in v.items()} if isinstance(v, dict) else v for v in listed] \
            if isinstance(listed, list) else listed
    if isinstance(variants, dict):
        raw["variants"] = {axis: renamed(listed) for axis, listed in variants.items()}
    elif isinstance(variants, list):
        raw["variants"] = renamed(variants)
    return raw


def check_value(key: str, value: Any) -> Any:
    """Validate one value against its Field; returns it normalized (ints become floats where due, a
    deleted hub id its maintained copy)."""
    value = _moved(key, value)
    f = field(key)
    if value is None:
        if f.nullable:
            return None
        raise ParamsError(f"{key} = null is not allowed; expected {f.kind}")
    if f.kind.startswith("list["):
        if not isinstance(value, list) or not value:
            raise ParamsError(f"{key} = {value!r} must be a non-empty list of {f.kind[5:-1]}")
        return [_check_scalar(f"{key}[{i}]", v, f, f.kind[5:-1]) for i, v in enumerate(value)]
    if f.kind == "dict":
        if not isinstance(value, dict):
            raise ParamsError(f"{key} = {value!r} must be a mapping")
        odd = [k for k in value if not isinstance(k, str)]
        if odd:
            raise ParamsError(f"{key} has the key {odd[0]!r}, which is not a name; keys of {key} are strings")
        return value
    if f.kind == "list":
        if not isinstance(value, list):
            raise ParamsError(f"{key} = {value!r} must be a list")
        return value
    if f.kind == "variants":
        if not isinstance(value, (list, dict)):
            raise ParamsError(f"{key} = {value!r} must be a list of variants, or a mapping of axis name to "
                              "a list of variants")
        return value
    return _check_scalar(key, value, f, f.kind)


def _check_cross(p: dict) -> None:
    d, m = p["data"], p["model"]
    if d["shots"] is not None and d["imbalance"] is not None:
        raise ParamsError(f"data.shots = {d['shots']} and data.imbalance = {d['imbalance']} "
                          "cannot both be set; use one (few-shot) or the other (long-tail)")
    layout = LAYOUTS[d["dataset"]]
    if p["synthesize"]["strategy"] == "oracle-mix" and d["dataset"] != "toybirds":
        raise ParamsError(f"synthesize.strategy = 'oracle-mix' renders perfect translations with the toybirds "
                          f"renderer; it is not valid for data.dataset = {d['dataset']!r} (use toybirds)")
    if d["class_names"] in CHECKED_NAMES and d["dataset"] != "toybirds":
        raise ParamsError(f"data.class_names = {d['class_names']!r} is checked by the toybirds oracle; it is not "
                          f"valid for data.dataset = {d['dataset']!r} (use dataset or misleading)")
    _check_oracle_fraction(p)
    if p["analyze"]["dials"] and (d["dataset"] != "toybirds" or not p["analyze"]["claims"]):
        raise ParamsError(f"analyze.dials = true reads the toybirds oracle and the claim tables; not valid with "
                          f"data.dataset = {d['dataset']!r} and analyze.claims = {p['analyze']['claims']} "
                          "(use toybirds and analyze.claims: true)")
    if d["dataset"] != "toybirds" and not d["root"]:
        raise ParamsError(f"data.root = null is not valid for data.dataset = {d['dataset']!r}; give the "
                          f"folder that holds {layout.layout}")
    try:
        resolve_options(d["dataset"], layout, d["options"])
    except ValueError as exc:
        raise ParamsError(str(exc)) from None
    base = m["base"]
    if base.startswith("bundled:"):
        if base.split(":", 1)[1] not in BUNDLED_MODELS:
            raise ParamsError(f"model.base = {base!r} is not valid; bundled models: "
                              + ", ".join(f"bundled:{b}" for b in BUNDLED_MODELS))
    elif not (Path(base).expanduser().is_dir() or re.fullmatch(r"[\w.-]+/[\w.-]+", base)):
        raise ParamsError(f"model.base = {base!r} is not valid; give bundled:tiny-sd, a hub id "
                          "such as stable-diffusion-v1-5/stable-diffusion-v1-5, or an existing local folder")
    if m["resolution"] % 8:
        raise ParamsError(f"model.resolution = {m['resolution']} is not valid; it must be a multiple of 8")
    problem = synthesis_settings_problem(p["synthesize"], p["finetune"]["mode"])
    if problem:
        raise ParamsError(problem)
    t = p["train"]
    if t["shot_thresholds"] is not None and (len(t["shot_thresholds"]) != 2
                                             or t["shot_thresholds"][0] < t["shot_thresholds"][1]):
        raise ParamsError(f"train.shot_thresholds = {t['shot_thresholds']} is not valid; give [hi, lo] "
                          "with hi >= lo, e.g. [20, 5]")
    problem = backbone_problem(t["backbone"], t["model_kwargs"], t["weights"])
    if problem:
        raise ParamsError(problem)


def _check_oracle_fraction(p: dict) -> None:
    q, syn = p["train"]["oracle_fraction"], p["synthesize"]
    if not q:
        return
    strategy = None if syn["strategy"] == "none" else get_strategy(syn["strategy"])
    if p["data"]["dataset"] != "toybirds" or strategy is None or strategy.control or not (
            strategy.img2img and strategy.inter_class):
        raise ParamsError(f"train.oracle_fraction = {q} replaces rows of an inter-class img2img pool (diff-mix, "
                          f"real-mix, ti-mix) of toybirds by the oracle's; not valid with data.dataset = "
                          f"{p['data']['dataset']!r} and synthesize.strategy = {syn['strategy']!r}")
    if p["filter"]["scorer"] != "none":
        raise ParamsError(f"train.oracle_fraction = {q} with filter.scorer = {p['filter']['scorer']!r} is not "
                          "valid: the filter scored the pool without the oracle's rows; use one or the other")


def resolve(raw: dict | None) -> dict:
    """Fill defaults into a (partial) parameter dict and validate every key; returns a new dict."""
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ParamsError(f"parameters must be a mapping of keys to values, got {type(raw).__name__}")
    raw = _rename_moved(raw)
    p = defaults()
    for key, value in raw.items():
        spec = SCHEMA.get(key)
        if spec is None:
            raise ParamsError(f"unknown key '{key}'; {closest_keys(key, all_keys() + list(SCHEMA), 'valid top-level keys: ' + ', '.join(SCHEMA))}")
        if isinstance(spec, dict):
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ParamsError(f"{key} = {value!r} must be a mapping with keys: {', '.join(spec)}")
            for sub, v in value.items():
                p[key][sub] = check_value(f"{key}.{sub}", v)
        else:
            p[key] = check_value(key, value)
    for dotted, values in p["sweep"].items():
        if not isinstance(dotted, str):
            raise ParamsError(f"sweep key {dotted!r} is not valid; sweep keys are dotted names such as "
                              "synthesize.strength")
        if dotted == "sweep" or dotted == "name":
            raise ParamsError(f"sweep key '{dotted}' cannot be swept")
        if not isinstance(values, list) or not values:
            raise ParamsError(f"sweep.{dotted} = {values!r} must be a non-empty list of values")
        p["sweep"][dotted] = [check_value(dotted, v) for v in values]
    p["variants"] = check_variants(p["variants"], set(p["sweep"]), check_value, ParamsError)
    for member in expand_sweep(p):
        _check_cross(member)
    return p
