"""Reference numbers: every row has a source and a kind, paper cells stay 'not available' until
filled from the PDF, and analysis puts the matching number beside a kit row."""
from __future__ import annotations

import shutil

import pandas as pd
import pytest

from diffmix_utils.analyze import reference
from diffmix_utils.analyze.tables import add_reference


def test_shipped_reference_files_are_valid_and_paper_values_are_not_invented():
    ref = reference.load()
    assert set(ref.kind) == {"paper", "dev-notebook"}
    paper = ref[ref.kind == "paper"]
    assert paper.value.isna().all() and paper.source.str.contains("not available").all()
    assert {"fewshot", "conventional", "longtail", "waterbirds"} <= set(paper.experiment)
    dev = ref[ref.kind == "dev-notebook"]
    assert dev.value.notna().all() and dev.source.str.contains("authors'").all()


def _copy(tmp_path):
    for name in ("paper.csv", "dev_notebook.csv"):
        shutil.copy(reference.FOLDER / name, tmp_path / name)
    return pd.read_csv(tmp_path / "paper.csv")


def test_a_filled_paper_value_needs_its_own_source(tmp_path):
    paper = _copy(tmp_path)
    paper.loc[0, "value"] = 50.0
    paper.to_csv(tmp_path / "paper.csv", index=False)
    with pytest.raises(reference.ReferenceError, match="paper.csv row 2: a paper value was filled in"):
        reference.load(tmp_path)
    paper.loc[0, "source"] = "paper Table 1"
    paper.to_csv(tmp_path / "paper.csv", index=False)
    assert reference.load(tmp_path).value.notna().sum() > 0
    paper.loc[1, "kind"] = "blog"
    paper.to_csv(tmp_path / "paper.csv", index=False)
    with pytest.raises(reference.ReferenceError, match="kind = 'blog'; valid: paper, dev-notebook"):
        reference.load(tmp_path)


def test_analysis_puts_the_matching_dev_number_beside_a_kit_row():
    rows = pd.DataFrame([  # fabricated kit summary rows (inputs), the reference side is the shipped file
        {"variant": None, "dataset": "cub", "shots": 5.0, "imbalance": None, "backbone": "resnet50@224",
         "strategy": "diff-mix", "strength": 0.9, "gamma": 0.5, "p": 0.3, "test_acc_at_best_val": 55.0},
        {"variant": None, "dataset": "cub", "shots": None, "imbalance": None, "backbone": "resnet50@224",
         "strategy": "diff-mix", "strength": 0.7, "gamma": 0.8, "p": 0.1, "synthesize.multiplier": 4.0,
         "test_acc_at_best_val": 80.0},
        {"variant": None, "dataset": "toybirds", "shots": None, "imbalance": None, "backbone": "resnet18@64",
         "strategy": "none", "strength": None, "gamma": 0.5, "p": 0.0, "test_acc_at_best_val": 70.0}])
    out = add_reference(rows)
    # three development numbers fit 5-shot Diff-Mix s 0.9 gamma 0.5 p 0.3: the strength sweep (59.42), the
    # p ablation at p 0.3 (59.44, s not stated) and the gamma x s ablation (62.01); the first is shown
    assert out.loc[0, "reference_acc"] in (59.42, 59.44, 62.01) and out.loc[0, "reference_kind"] == "dev-notebook"
    assert "+2 more" in out.loc[0, "reference_source"]
    assert out.loc[0, "paper_cell"].startswith("not available")
    assert out.loc[1, "reference_acc"] == 82.93  # the synthetic-size ablation's 4X bar
    assert pd.isna(out.loc[2, "reference_acc"]) and "kit-made" in out.loc[2, "reference_source"]
