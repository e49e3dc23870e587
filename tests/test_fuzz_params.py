"""Property tests of the parameter validator (hypothesis): random mutations of valid parameter files
either validate or raise ``ParamsError`` with one line that names the offending key -- never another
exception, and the runner creates nothing before validation passes.

``make test`` runs a fixed-seed profile (``ci``); ``make fuzz`` a deeper one (``HYPOTHESIS_PROFILE=fuzz``).
"""
from __future__ import annotations

import contextlib
import copy
import io
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffmix_utils import params, run

ROOT = Path(__file__).resolve().parent.parent
BASES = {name: yaml.safe_load((ROOT / "params" / name).read_text())
         for name in ("smoke.yaml", "demo.yaml", "paper/fewshot_cub.yaml", "paper/longtail_flowers.yaml")}
KEYS = params.all_keys()

SCALARS = (st.none() | st.booleans() | st.integers(-10**9, 10**9)
           | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from([math.nan, math.inf, -math.inf, 0, -1, 1e308, 1e-308, "", "1", "true", "nan"])
           | st.text(max_size=12))
JUNK = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.one_of(st.text(max_size=6), st.integers(-3, 3)), inner, max_size=3),
                    max_leaves=6)


def _set(raw: dict, dotted: str, value) -> None:
    section, _, sub = dotted.partition(".")
    if sub:
        if not isinstance(raw.get(section), dict):
            raw[section] = {}
        raw[section][sub] = value
    else:
        raw[section] = value


def _drop(raw: dict, dotted: str) -> None:
    section, _, sub = dotted.partition(".")
    if sub and isinstance(raw.get(section), dict):
        raw[section].pop(sub, None)
    elif not sub:
        raw.pop(section, None)


@st.composite
def mutation(draw):
    """(kind, dotted key, value): the key is what an error must name."""
    kind = draw(st.sampled_from(["set", "set", "number", "drop", "unknown", "sweep", "variant", "section"]))
    key = draw(st.sampled_from(KEYS))
    if kind == "number":
        return "set", key, draw(st.sampled_from([math.nan, math.inf, -math.inf, -1, 0, 10**12, 1e300, True, False]))
    if kind == "set":
        return "set", key, draw(JUNK)
    if kind == "drop":
        return "drop", key, None
    if kind == "unknown":
        section = draw(st.sampled_from(["", *params.SECTIONS]))
        name = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8))
        bogus = f"{section}.{name}" if section else name
        return ("set", bogus, draw(JUNK)) if bogus not in KEYS else ("drop", bogus, None)
    if kind == "sweep":
        swept = draw(st.sampled_from(KEYS + ["bogus.key", "name", "sweep"]))
        return "sweep", swept, draw(st.one_of(JUNK, st.lists(JUNK, max_size=3)))
    if kind == "variant":
        return "variant", key, draw(st.one_of(JUNK, st.lists(st.dictionaries(
            st.sampled_from(["name", key]), JUNK, max_size=2), max_size=2)))
    return "set", draw(st.sampled_from(params.SECTIONS)), draw(JUNK)


def apply(base: dict, mutations: list) -> tuple[object, list[str]]:
    raw, named = copy.deepcopy(base), []
    for kind, key, value in mutations:
        named += [key, key.split(".")[0], key.split(".")[-1]]
        if kind == "set":
            _set(raw, key, value)
        elif kind == "drop":
            _drop(raw, key)
        elif kind == "sweep":
            raw.setdefault("sweep", {})
            raw["sweep"] = {**(raw["sweep"] if isinstance(raw["sweep"], dict) else {}), key: value}
            named += ["sweep"]
        else:
            raw["variants"] = value
            named += ["variants", "variant"]
    return raw, named


def _numbers(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _numbers(v)
    elif isinstance(obj, float):
        yield obj


def _check_error(message: str, named: list[str]) -> None:
    assert "\n" not in message.strip(), message
    assert any(str(k) in message for k in named if k), (message, named)


CASES = st.tuples(st.sampled_from(sorted(BASES)), st.lists(mutation(), min_size=1, max_size=3))


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=CASES)
def test_mutated_files_validate_or_name_the_key(case, tmp_path):
    base, mutations = case
    raw, named = apply(BASES[base], mutations)
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    try:
        p = params.load(path)
    except params.ParamsError as exc:
        _check_error(str(exc), named)
        return
    assert all(math.isfinite(x) for x in _numbers(p)), p  # never a silent NaN or infinity
    members = params.expand_sweep(p)  # a file that validates also expands
    assert members and all(isinstance(m["seed"], int) for m in members)


@settings(max_examples=settings.default.max_examples // 6,  # the runner is slower: 25 in make test
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=CASES)
def test_the_runner_refuses_before_creating_anything(case, tmp_path_factory):
    base, mutations = case
    tmp = tmp_path_factory.mktemp("fuzz")
    raw, named = apply(BASES[base], mutations)
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    work = tmp / "runs"
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = run.main([str(path), "--plan", "--set", f"workdir={work}",
                         "--set", f"analyze.figures_dir={tmp / 'figures'}"])
    assert code in (0, 2), (code, err.getvalue())
    if code == 2:
        lines = err.getvalue().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err.getvalue()
        _check_error(lines[0], named + ["workdir", "figures_dir"])
    assert not work.exists() and not (tmp / "figures").exists()  # --plan and a refusal create nothing


@given(text=st.sampled_from(["", "\n", "# only a comment\n", "[]", "- 1\n", "42", "null", "'a string'"]))
def test_empty_files_and_files_that_are_not_a_mapping_are_refused(text, tmp_path_factory):
    path = tmp_path_factory.mktemp("empty") / "p.yaml"
    path.write_text(text)
    try:
        params.load(path)
    except params.ParamsError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
    else:
        raise AssertionError(f"{text!r} was accepted")


@pytest.mark.parametrize("text, named", [
    ("", "is empty"),
    ("name: x\nsynthesize: {strength: .nan}\n", "synthesize.strength = nan is not a finite number"),
    ("name: x\nsynthesize: {multiplier: .inf}\n", "synthesize.multiplier = inf is not a finite number"),
    ("name: x\nsynthesize: {multiplier: 100000}\n", "synthesize.multiplier = 100000.0 is out of range"),
    ("name: x\ntrain: {p: true}\n", "train.p = True has type bool; expected float"),
    ("name: x\ntrain: {amp: 1}\n", "train.amp = 1 has type int; expected bool"),
    ("name: x\nsweep: {synthesize.strength: [0.5, .nan]}\n", "synthesize.strength = nan is not a finite"),
    ("name: x\nvariants: [{name: a, train.p: .inf}]\n", "train.p = inf is not a finite number"),
    ("name: x\ntrain: {model_kwargs: {drop_rate: .nan}}\n", "train.model_kwargs"),
    ("name: x\ntrain: {model_kwargs: {no_such_argument: 1}}\n", "is not accepted by the backbone"),
    ("name: x\ndata: {num_classes: 17}\n", "data.num_classes = 17 is out of range"),
    ("name: x\ntrain: {backbone: resnet200, pretrained: true}\n", "has no hub weights timm can fetch"),
    ("name: x\nmodel: {base: []}\n", "model.base = [] has type list; expected str"),  # found by make fuzz
    ("name: x\nanalyze: 3\n", "analyze = 3 in"),  # under --set analyze.figures_dir: found by make fuzz
])
def test_the_holes_the_matrix_found_are_closed(text, named, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = run.main([str(path), "--set", f"workdir={tmp_path / 'runs'}",
                         "--set", f"analyze.figures_dir={tmp_path / 'figures'}"])
    assert code == 2 and named in err.getvalue() and len(err.getvalue().strip().splitlines()) == 1, err.getvalue()
    assert not (tmp_path / "runs").exists() and not (tmp_path / "figures").exists()
