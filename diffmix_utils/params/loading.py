"""Reading a parameter file and applying dotted overrides (``--set``, a notebook's ``overrides``).

``load(path, overrides)`` is what the runner and every stage's command line call: read the YAML,
set the overrides, then ``validate.resolve`` fills defaults and checks every key.
"""
from __future__ import annotations

import fnmatch
from pathlib import Path

import yaml

from .validate import ParamsError, field, moved_key, resolve


def read_file(path: str | Path) -> dict:
    """The raw mapping of a YAML parameter file (not yet resolved); ParamsError if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"parameter file {str(path)!r} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        raise ParamsError(f"{path} is not valid YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParamsError(f"{path} cannot be read as a text file: {exc}") from None
    if raw is None:
        raise ParamsError(f"{path} is empty; a parameter file holds at least a name and the keys it changes "
                          "(see params/demo.yaml)")
    if not isinstance(raw, dict):
        raise ParamsError(f"{path} must hold a mapping of keys to values, not a {type(raw).__name__}")
    return raw


def load(path: str | Path, overrides: dict | None = None) -> dict:
    """Read a YAML parameter file, apply ``{dotted.key: value}`` overrides, resolve and validate."""
    return resolve(apply_overrides(read_file(path), overrides, where=str(path)))


def apply_overrides(raw: dict, overrides: dict | None, where: str = "the parameters") -> dict:
    """``raw`` (a parameter file's mapping) with dotted overrides set: ``train.epochs`` sets one key,
    ``sweep.seed`` replaces (or adds) one sweep axis, ``name`` a top-level key. Returns a new dict."""
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    if not isinstance(overrides, (dict, type(None))):
        raise ParamsError(f"overrides = {overrides!r} must be a mapping of dotted keys to values, "
                          "e.g. {'synthesize.strength': 0.5}")
    for dotted, value in (overrides or {}).items():
        if not isinstance(dotted, str):
            raise ParamsError(f"override key {dotted!r} is not valid; write a dotted key such as 'train.epochs'")
        if dotted.startswith("sweep."):  # one sweep axis: sweep.seed=[5,6,7]
            axis = moved_key(dotted[len("sweep."):])
            field(axis)
            if raw.get("sweep") is None:
                raw["sweep"] = {}
            if not isinstance(raw["sweep"], dict):
                raise ParamsError(f"sweep = {raw['sweep']!r} in {where} must be a mapping (sweep.{axis} sets one axis)")
            raw["sweep"][axis] = value
            continue
        dotted = moved_key(dotted)
        field(dotted)
        swept = raw.get("sweep") if isinstance(raw.get("sweep"), dict) else {}
        if dotted in swept and f"sweep.{dotted}" not in (overrides or {}):  # the sweep's values would win
            raise ParamsError(f"{dotted} = {value!r} in the overrides would change nothing: {where} sweeps "
                              f"sweep.{dotted} = {swept[dotted]!r}, whose values win; set 'sweep.{dotted}=[{value}]' "
                              "instead")
        section, _, sub = dotted.partition(".")
        if sub:
            if raw.get(section) is None:  # absent, or "section:" left empty in the file
                raw[section] = {}
            if not isinstance(raw[section], dict):
                raise ParamsError(f"{section} = {raw[section]!r} in {where} must be a mapping of keys to values "
                                  f"({dotted} sets one of them)")
            raw[section][sub] = value
        else:
            raw[section] = value
    return raw


def parse_overrides(items: list[str]) -> dict:
    """``["train.epochs=5", "seed=3"]`` (the command line's ``--set``) as ``{dotted key: value}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ParamsError(f"--set {item!r} is not valid; write --set section.key=value")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem", None) or "not valid YAML"
            raise ParamsError(f"--set {item!r}: the value {value!r} is not valid YAML ({where}); quote the whole "
                              "argument in the shell, e.g. --set 'sweep.seed=[0,1,2]'") from None
    return out


def dump(p: dict) -> str:
    """YAML text of a resolved parameter dict (written to runs/<name>/params.yaml)."""
    return yaml.safe_dump(p, sort_keys=False)


def keep_variants(p: dict, pattern: str) -> dict:
    """``p`` with only the variants whose names match the glob ``pattern``; one error naming the pattern and the
    file's variant names when none does."""
    kept = [v for v in p["variants"] if fnmatch.fnmatchcase(v["name"], pattern)]
    if not kept:
        raise ParamsError(f"--variants {pattern!r} matches no variant; this file's: "
                          f"{', '.join(v['name'] for v in p['variants']) or '(none)'}")
    return {**p, "variants": kept}
