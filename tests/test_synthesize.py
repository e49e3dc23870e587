"""Synthesis stage: deterministic plan, fixed batches, manifest contract, resume after a kill."""
from __future__ import annotations

import csv
import hashlib

from diffmix_utils import artifacts
from diffmix_utils.data import ensure_split
from diffmix_utils.strategies import STRATEGIES, get_strategy
from diffmix_utils.synthesize import make_batches, plan_tasks, run_synthesis, task_seed
from diffmix_utils import params

from .conftest import tiny_params


def _split(p):
    return ensure_split(artifacts.split_path(p), p["data"], artifacts.store(p) / "datasets")


def test_strategy_registry_matches_the_schema():
    assert set(STRATEGIES) == set(params.STRATEGIES) - {"none"}
    assert get_strategy("diff-mix").prompt(3, ["a"] * 4, "bird") == "a photo of a <class_3> bird"
    assert get_strategy("real-mix").prompt(1, ["x", "Red Fork"], "bird") == "a photo of a Red Fork bird"
    assert get_strategy("diff-mix").prompt(1, ["x", "Red Fork"], "bird", have_tokens=False).endswith("Red Fork bird")


def test_plan_is_a_pure_function_of_the_parameters(workdir):
    p = tiny_params(workdir)
    split = _split(p)
    a, b = plan_tasks(p, split), plan_tasks(p, split)
    assert a == b and len(a) == len(split["train"])
    assert all(split["items"][t["source_index"]]["label"] == t["source_class"] for t in a)
    assert all(t["source_index"] in split["train"] for t in a)
    assert any(t["source_class"] != t["target_class"] for t in a)  # inter-class
    aug = plan_tasks(tiny_params(workdir, synthesize={"strategy": "diff-aug"}), split)
    assert all(t["source_class"] == t["target_class"] for t in aug)
    gen = plan_tasks(tiny_params(workdir, synthesize={"strategy": "diff-gen"}), split)
    assert all(t["strength"] == 1.0 and t["source_index"] == -1 for t in gen)
    uni = plan_tasks(tiny_params(workdir, synthesize={"strength_choices": [0.4, 0.9], "multiplier": 4.0}), split)
    assert {t["strength"] for t in uni} == {0.4, 0.9}
    assert task_seed(0, 5) == a[5]["seed"] != a[6]["seed"]


def test_batches_share_one_strength_and_keep_every_task(workdir):
    p = tiny_params(workdir, synthesize={"strength_choices": [0.4, 0.5, 0.9], "multiplier": 3.0})
    tasks = plan_tasks(p, _split(p))
    batches = make_batches(tasks, 5)
    assert all(len({t["strength"] for t in b}) == 1 and len(b) <= 5 for b in batches)
    assert sorted(t["task"] for b in batches for t in b) == list(range(len(tasks)))


def _hashes(folder):
    return {f.relative_to(folder): hashlib.sha1(f.read_bytes()).hexdigest() for f in folder.rglob("*.png")}


def test_synthesis_writes_the_manifest_and_resumes_to_identical_files(finetuned):
    p, _ = finetuned
    out = run_synthesis(p)
    with open(out / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == artifacts.MANIFEST_COLUMNS
    assert all((out / r["path"]).is_file() for r in rows)
    first, manifest = _hashes(out), (out / "manifest.csv").read_bytes()
    # simulate a kill: some images, the manifest and the done marker are gone
    victims = sorted(out.rglob("*.png"))[::2]
    for f in victims:
        f.unlink()
    (out / "manifest.csv").unlink()
    (out / "done.json").unlink()
    assert run_synthesis(p) == out
    assert _hashes(out) == first and (out / "manifest.csv").read_bytes() == manifest
    assert not [f for f in out.rglob("*") if f.name.startswith(".")]  # no temp file left


def test_images_and_manifest_are_identical_for_one_and_two_processes(tmp_path):
    from diffmix_utils.synthesize import run_synthesis
    runs = {}
    for n in (1, 2):
        p = tiny_params(tmp_path / f"n{n}", synthesize={"strategy": "real-mix", "num_processes": n, "batch_size": 3})
        p = params.expand_sweep(p)[0]
        out = run_synthesis(p)
        files = sorted(f.relative_to(out) for f in (out / "images").rglob("*.png"))
        runs[n] = (files, {f: (out / f).read_bytes() for f in files}, (out / "manifest.csv").read_text())
    assert runs[1][0] == runs[2][0] and len(runs[1][0]) > 3
    assert runs[1][1] == runs[2][1]  # byte-identical images
    assert runs[1][2] == runs[2][2]
