"""Parameter schema of every stage: load a YAML file, fill defaults, validate, expand sweeps.

Every key the kit understands is declared once in ``SCHEMA`` with its default, type, range or
choices and a one-line doc. ``resolve`` turns a user's (partial) dict into a complete, validated
one or raises ``ParamsError`` naming the key, the bad value and what would be valid. The same
validator runs in ``python -m diffmix_utils.run`` and in every notebook (``from_notebook``), so a
hand-run ``papermill ... -p bogus_key 1`` fails the same way.
"""
from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .data.common import resolve_options
from .data.registry import DATASET_NAMES as DATASETS, LAYOUTS

STRATEGIES = ("none", "diff-mix", "diff-aug", "diff-gen", "real-mix", "real-aug", "real-gen",
              "ti-mix", "ti-aug")
FINETUNE_MODES = ("joint", "ti_only", "lora_only")
BUNDLED_MODELS = ("tiny-sd",)
SECTIONS = ("data", "model", "finetune", "synthesize", "train", "analyze")
STAGES = ("finetune", "synthesize", "train", "analyze")


class ParamsError(ValueError):
    """A parameter file or override is invalid; the message names key, value and what is valid."""


@dataclass(frozen=True)
class Field:
    default: Any
    kind: str                 # "int" | "float" | "str" | "bool" | "list[float]" | "list[str]" | "dict"
    doc: str
    choices: tuple | None = None
    low: float | None = None  # inclusive unless low_open
    high: float | None = None  # inclusive unless high_open
    low_open: bool = False
    high_open: bool = False
    nullable: bool = False
    pattern: str | None = None


F = Field
SCHEMA: dict[str, Any] = {
    "name": F("smoke", "str", "run directory <workdir>/<name>/ and figures/<name>/",
              pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*"),
    "seed": F(0, "int", "classifier-training seed (fine-tune and synthesis have their own)", low=0),
    "workdir": F("runs", "str", "where runs and the shared artifact store live"),
    "device": F("auto", "str", "torch device", choices=("auto", "cpu", "cuda")),
    "data": {
        "dataset": F("toybirds", "str", "dataset registry name", choices=DATASETS),
        "root": F(None, "str", "dataset folder in its official layout (null: kit-rendered cache for "
                  "toybirds); see README, Datasets", nullable=True),
        "options": F({}, "dict", "layout options of the chosen dataset (e.g. aircraft train_split, "
                     "flowers split, waterbirds cub_root, hf columns); see README, Datasets"),
        "download": F(False, "bool", "let torchvision download the dataset into data.root "
                      "(flowers, aircraft, pet only)"),
        "num_classes": F(8, "int", "toybirds: number of classes", low=2, high=16),
        "image_size": F(64, "int", "toybirds: rendered image size in px", low=32, high=512),
        "train_per_class": F(24, "int", "toybirds: rendered train+val images per class", low=2),
        "test_per_class": F(12, "int", "toybirds: rendered test images per class", low=1),
        "background_match": F(None, "float", "toybirds Waterbirds-style shift: in train the "
                              "background family matches the class group with this probability; "
                              "test flips it (null: backgrounds independent of class)",
                              low=0.0, high=1.0, nullable=True),
        "shots": F(None, "int", "few-shot: K train images per class (null: all)", low=1, nullable=True),
        "imbalance": F(None, "float", "long-tail imbalance factor IF = n_max/n_min (null: none)",
                       low=1.0, nullable=True),
        "longtail_formula": F("kit", "str", "kit: n_r = n_max IF^(-r/(C-1)); reference: n_r = (N/C) "
                              "IF^(-r/(C-2)) (the reference's gen_imbalanced_data)", choices=("kit", "reference")),
        "val_fraction": F(0.1, "float", "fraction of each class's train images held out for model "
                          "selection", low=0.0, high=1.0, high_open=True),
        "split_seed": F(0, "int", "seed of the split file that every stage shares", low=0),
    },
    "model": {
        "base": F("bundled:tiny-sd", "str", "bundled:<name> | hub id | local diffusers folder"),
        "resolution": F(64, "int", "diffusion resolution in px (512 for SD-1.5)", low=32, high=1024),
    },
    "finetune": {
        "mode": F("joint", "str", "what is trained", choices=FINETUNE_MODES),
        "steps": F(60, "int", "optimizer steps", low=1),
        "batch_size": F(4, "int", "images per step", low=1),
        "lr": F(5e-5, "float", "LoRA learning rate", low=0.0, low_open=True),
        "ti_lr": F(5e-5, "float", "class-token embedding learning rate", low=0.0, low_open=True),
        "weight_decay": F(1e-2, "float", "AdamW weight decay (both groups)", low=0.0),
        "lora_rank": F(10, "int", "LoRA rank", low=1),
        "lora_alpha": F(None, "int", "LoRA alpha (null: = rank)", low=1, nullable=True),
        "init_token": F("42170", "str", "class-token init: a token id (digits) or a one-token "
                        "word; reference: id 42170, the CLIP piece 'ktn'"),
        "grad_clip": F(1.0, "float", "max grad norm of the LoRA params", low=0.0, low_open=True),
        "random_flip": F(True, "bool", "random horizontal flip"),
        "center_crop": F(False, "bool", "centre crop (else random crop) at model.resolution"),
        "superclass": F(None, "str", "prompt super-category (null: the dataset's)", nullable=True),
        "seed": F(42, "int", "fine-tune seed", low=0),
    },
    "synthesize": {
        "strategy": F("diff-mix", "str", "synthesis strategy ('none' = real data only)",
                      choices=STRATEGIES),
        "strength": F(0.7, "float", "img2img strength s", low=0.0, high=1.0, low_open=True),
        "strength_choices": F(None, "list[float]", "draw s per task uniformly from this list "
                              "(reference 'uniform': [0.3, 0.5, 0.7, 0.9])", low=0.0, high=1.0,
                              low_open=True, nullable=True),
        "multiplier": F(1.0, "float", "synthetic images = multiplier x |train|", low=0.0, low_open=True),
        "steps": F(25, "int", "DPM-Solver inference steps", low=1),
        "guidance": F(7.5, "float", "classifier-free guidance scale", low=0.0),
        "batch_size": F(16, "int", "images per pipeline call", low=1),
        "seed": F(0, "int", "synthesis seed; image seed = f(seed, task index)", low=0),
    },
    "train": {
        "backbone": F("resnet18", "str", "timm model name"),
        "pretrained": F(False, "bool", "load timm hub weights (needs them in the local cache)"),
        "image_size": F(64, "int", "classifier input size", low=16),
        "epochs": F(2, "int", "training epochs", low=1),
        "batch_size": F(32, "int", "batch size", low=1),
        "lr": F(0.05, "float", "SGD learning rate", low=0.0, low_open=True),
        "momentum": F(0.9, "float", "SGD momentum", low=0.0, high=1.0),
        "weight_decay": F(5e-4, "float", "SGD weight decay", low=0.0),
        "warmup_fraction": F(0.1, "float", "linear warmup fraction of all steps", low=0.0, high=1.0),
        "label_smoothing": F(0.1, "float", "label smoothing epsilon", low=0.0, high=1.0, high_open=True),
        "p": F(0.1, "float", "probability of replacing a real sample by a synthetic one",
               low=0.0, high=1.0),
        "gamma": F(0.5, "float", "soft label exponent: weight of the target class is s^gamma", low=0.0),
        "kappa": F(1.0, "float", "soft label scale (the reference's later code used 0.9)",
                   low=0.0, high=1.0, low_open=True),
        "num_workers": F(0, "int", "DataLoader workers", low=0),
        "synthetic_sampling": F("uniform", "str", "synthetic draw: uniform over the pool, or tail: target "
                                "class c with p ∝ 1/(n_c+1) (the reference's long-tail 'weightedSyn')",
                                choices=("uniform", "tail")),
        "target_classes_per_source": F(None, "int", "ablation: keep only K target classes per source class "
                                       "(null: all)", low=1, nullable=True),
        "mixup": F(0.0, "float", "Mixup probability per batch (reference baseline: 0.3)", low=0.0, high=1.0),
        "cutmix": F(0.0, "float", "CutMix probability per sample (reference baseline: 0.1)", low=0.0, high=1.0),
        "mix_alpha": F(1.0, "float", "Beta(alpha, alpha) of Mixup / CutMix lambda", low=0.0, low_open=True),
        "loss": F("ce", "str", "ce | balanced_softmax | ldam (long tail)", choices=("ce", "balanced_softmax", "ldam")),
        "reweight": F("none", "str", "class re-weighting: none | drw (from drw_epoch) | cb (from the start)",
                      choices=("none", "drw", "cb")),
        "drw_epoch": F(None, "int", "first DRW epoch (null: 80 % of epochs, as the reference's 160/200)",
                       low=0, nullable=True),
        "reweight_beta": F(0.9999, "float", "effective-number beta of DRW / CB weights", low=0.0, high=1.0,
                           high_open=True),
        "cmo": F(0.0, "float", "CMO: probability per batch of pasting a minority-sampled box (reference: 0.5)",
                 low=0.0, high=1.0),
        "shot_thresholds": F(None, "list[float]", "many/few thresholds [hi, lo]: many n > hi, few n < lo "
                             "(null: the reference's per dataset when data.imbalance is set)", low=0.0,
                             nullable=True),
        "skip_bad_images": F(False, "bool", "skip (and count) unreadable images instead of stopping"),
    },
    "analyze": {
        "formats": F(["png", "pdf"], "list[str]", "figure file formats", choices=("png", "pdf", "svg")),
        "dpi": F(150, "int", "PNG resolution", low=50, high=600),
        "figures_dir": F("figures", "str", "figures go to <figures_dir>/<name>/"),
    },
    "sweep": F({}, "dict", "dotted key -> list of values; the runs are the product"),
}

# Names that are not parameters: IPython's own, and the variables the kit's notebooks assign
# (so re-running a cell in JupyterLab does not report them as unknown keys).
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open", "P", "folders", "files", "f"}


def defaults() -> dict:
    """The complete default parameter dict (what every notebook's parameters cell holds)."""
    return {k: ({kk: copy.deepcopy(f.default) for kk, f in v.items()} if isinstance(v, dict)
                else copy.deepcopy(v.default)) for k, v in SCHEMA.items()}


def field(dotted: str) -> Field:
    """The Field of a dotted key such as ``synthesize.strength``; ParamsError if unknown."""
    node: Any = SCHEMA
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ParamsError(f"unknown key '{dotted}'; valid keys: {', '.join(all_keys())}")
        node = node[part]
    if not isinstance(node, Field):
        raise ParamsError(f"'{dotted}' is a section, not a key; its keys: {', '.join(node)}")
    return node


def all_keys() -> list[str]:
    return [f"{k}.{kk}" if isinstance(v, dict) else k
            for k, v in SCHEMA.items() for kk in (v if isinstance(v, dict) else [None])]


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


def check_value(key: str, value: Any) -> Any:
    """Validate one value against its Field; returns it normalized (ints become floats where due)."""
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
        return value
    return _check_scalar(key, value, f, f.kind)


def _check_cross(p: dict) -> None:
    d, m = p["data"], p["model"]
    if d["shots"] is not None and d["imbalance"] is not None:
        raise ParamsError(f"data.shots = {d['shots']} and data.imbalance = {d['imbalance']} "
                          "cannot both be set; use one (few-shot) or the other (long-tail)")
    layout = LAYOUTS[d["dataset"]]
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
                          "such as runwayml/stable-diffusion-v1-5, or an existing local folder")
    if m["resolution"] % 8:
        raise ParamsError(f"model.resolution = {m['resolution']} is not valid; it must be a multiple of 8")
    t = p["train"]
    if t["shot_thresholds"] is not None and (len(t["shot_thresholds"]) != 2
                                             or t["shot_thresholds"][0] < t["shot_thresholds"][1]):
        raise ParamsError(f"train.shot_thresholds = {t['shot_thresholds']} is not valid; give [hi, lo] "
                          "with hi >= lo, e.g. [20, 5]")
    _check_backbone(t["backbone"])


def _check_backbone(name: str) -> None:
    import timm  # third-party only; imported lazily because it pulls in torch
    if not timm.is_model(name):
        close = timm.list_models(f"*{name.split('_')[0]}*")[:8]
        raise ParamsError(f"train.backbone = {name!r} is not a timm model; for example: "
                          f"{', '.join(close) or 'resnet18, resnet50, vit_base_patch16_384'}")


def resolve(raw: dict | None) -> dict:
    """Fill defaults into a (partial) parameter dict and validate every key; returns a new dict."""
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ParamsError(f"parameters must be a mapping of keys to values, got {type(raw).__name__}")
    p = defaults()
    for key, value in raw.items():
        spec = SCHEMA.get(key)
        if spec is None:
            raise ParamsError(f"unknown key '{key}'; valid top-level keys: {', '.join(SCHEMA)}")
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
        if dotted == "sweep" or dotted == "name":
            raise ParamsError(f"sweep key '{dotted}' cannot be swept")
        if not isinstance(values, list) or not values:
            raise ParamsError(f"sweep.{dotted} = {values!r} must be a non-empty list of values")
        p["sweep"][dotted] = [check_value(dotted, v) for v in values]
    for member in expand_sweep(p):
        _check_cross(member)
    return p


def load(path: str | Path, overrides: dict | None = None) -> dict:
    """Read a YAML parameter file, apply ``{dotted.key: value}`` overrides, resolve and validate."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"parameter file {str(path)!r} does not exist")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path} must hold a mapping of keys to values")
    for dotted, value in (overrides or {}).items():
        field(dotted)
        section, _, sub = dotted.partition(".")
        if sub:
            raw.setdefault(section, {})
            raw[section][sub] = value
        else:
            raw[section] = value
    return resolve(raw)


def from_notebook(namespace: dict) -> dict:
    """Validate the parameters a notebook holds after papermill injected its own.

    Every public, non-module global of the notebook at this point is a parameter: names papermill
    injected that the schema does not know are reported, not silently ignored.
    """
    import os
    import types
    if not Path("params").is_dir() and Path("../params").is_dir():
        os.chdir("..")  # JupyterLab starts kernels in notebooks/; paths are relative to the kit root
    raw = {k: v for k, v in namespace.items()
           if not k.startswith("_") and k not in _IPYTHON_NAMES
           and not isinstance(v, (types.ModuleType, types.FunctionType, type))}
    return resolve(raw)


def _set(p: dict, dotted: str, value: Any) -> None:
    section, _, sub = dotted.partition(".")
    if sub:
        p[section][sub] = value
    else:
        p[section] = value


def expand_sweep(p: dict) -> list[dict]:
    """The runs of a sweep: the product of its lists, in key order, duplicates removed.

    Each member is a full parameter dict without ``sweep`` and with ``member`` (a readable tag).
    With ``synthesize.strategy: none`` the synthesis keys and ``train.p`` do not matter, so they
    are reset: the baseline of a strength sweep is trained once, not once per strength.
    """
    keys = list(p["sweep"])
    members, seen = [], set()
    for combo in itertools.product(*(p["sweep"][k] for k in keys)) if keys else [()]:
        m = copy.deepcopy({k: v for k, v in p.items() if k != "sweep"})
        for k, v in zip(keys, combo):
            _set(m, k, v)
        if m["synthesize"]["strategy"] == "none":
            m["synthesize"] = {**defaults()["synthesize"], "strategy": "none"}
            m["train"]["p"] = 0.0
        tag = ",".join(f"{k}={_get(m, k)}" for k in keys) or "main"
        ident = yaml.safe_dump(m, sort_keys=True)
        if ident not in seen:
            seen.add(ident)
            m["member"] = tag
            members.append(m)
    return members


def _get(p: dict, dotted: str) -> Any:
    section, _, sub = dotted.partition(".")
    return p[section][sub] if sub else p[section]


def dump(p: dict) -> str:
    """YAML text of a resolved parameter dict (written to runs/<name>/params.yaml)."""
    return yaml.safe_dump(p, sort_keys=False)
