"""Training stage: soft labels, smoothing, replacement probability, resume, honest selection."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from diffmix_utils import artifacts, params
from diffmix_utils.labels import soft_label
from diffmix_utils.train.losses import smooth_targets
from diffmix_utils.synthesize import run_synthesis
from diffmix_utils.train import run_training, summarize


def test_soft_label_formula():
    y = soft_label(0, 2, 0.49, 4, gamma=0.5)
    assert torch.allclose(y, torch.tensor([0.3, 0, 0.7, 0]))
    assert torch.allclose(soft_label(1, 1, 0.7, 3, 0.5), torch.tensor([0, 1.0, 0]))
    assert torch.allclose(soft_label(0, 1, 1.0, 2, 0.8, kappa=0.9), torch.tensor([0, 0.9]))
    assert torch.allclose(soft_label(0, 1, 0.3, 2, 0.0), torch.tensor([0.0, 1.0]))  # gamma 0: hard target


def test_label_smoothing_is_the_reference_formula():
    q = smooth_targets(torch.tensor([[1.0, 0, 0, 0, 0]]), 0.1)
    assert torch.allclose(q, torch.tensor([[0.9 + 0.025, 0.025, 0.025, 0.025, 0.025]]))


def test_summary_selects_on_val_and_labels_the_paper_protocol():
    m = [{"epoch": 1, "val_acc": 0.5, "test_acc": 0.9}, {"epoch": 2, "val_acc": 0.7, "test_acc": 0.6},
         {"epoch": 3, "val_acc": 0.7, "test_acc": 0.8}]
    r = summarize(m)
    assert (r["best_epoch"], r["test_acc_at_best_val"], r["test_acc_final"], r["test_acc_best"]) == (2, 0.6, 0.8, 0.9)
    assert "selected on test" in r["test_acc_best_note"]
    sparse = [{"epoch": 1, "train_loss": 2.0}, {"epoch": 2, "val_acc": 0.6, "test_acc": 0.5},  # eval_every 2
              {"epoch": 3, "train_loss": 1.0}, {"epoch": 4, "val_acc": 0.5, "test_acc": 0.7}]
    r = summarize(sparse)
    assert (r["best_epoch"], r["test_acc_at_best_val"], r["test_acc_final"], r["test_acc_best"]) == (2, 0.5, 0.7, 0.7)


@pytest.fixture(scope="module")
def trained(finetuned):
    p, _ = finetuned
    member = params.expand_sweep(p)[0]
    run_synthesis(member)
    return member, run_training(member)


def test_training_writes_the_contract(trained):
    p, out = trained
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [1, 2]
    assert 0 < sum(m["synthetic_fraction"] for m in lines) / 2 < 1  # p = 0.5 of the items
    result = json.loads((out / "result.json").read_text())
    for k in ("val_acc", "test_acc_at_best_val", "test_acc_final", "test_acc_best"):
        assert 0 <= result[k] <= 1
    assert result["num_synthetic"] > 0
    assert load_file(str(out / "last.safetensors"))


def test_training_resumes_from_its_last_epoch(trained):
    p, out = trained
    # forget the final epoch as if killed after epoch 1, then rerun: only epoch 2 is trained again
    state = torch.load(out / "state.pt", weights_only=True)
    assert state["epoch"] == 2
    first = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    longer = {**p, "train": {**p["train"], "epochs": 3}}
    out3 = artifacts.train_dir(longer)
    out3.mkdir(parents=True, exist_ok=True)
    for name in ("state.pt", "metrics.jsonl"):
        (out3 / name).write_bytes((out / name).read_bytes())
    run_training(longer)
    lines = [json.loads(x) for x in (out3 / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [1, 2, 3] and lines[:2] == first


def test_analysis_tables_carry_group_and_shot_accuracies():
    import pandas as pd
    from diffmix_utils.analyze.tables import _extras, summarize
    r = {"test_worst_group_acc_at_best_val": 0.5, "test_few_acc_at_best_val": 0.25,
         "test_group_acc_at_best_val": {"waterbird/land": 0.5, "landbird/land": 1.0}}
    base = {"dataset": "toybirds", "shots": None, "strategy": "none", "strength": None, "gamma": 0.5, "p": 0.0,
            "val_acc": 0.9, "test_acc_at_best_val": 0.8, "test_acc_final": 0.8, "test_acc_best": 0.85}
    rows = [{**base, "seed": s, **_extras(r)} for s in (0, 1)]
    table = summarize(pd.DataFrame(rows))
    assert table.loc[0, "worst_group_acc"] == 50.0 and table.loc[0, "few_acc"] == 25.0
    assert table.loc[0, "group waterbird/land"] == 50.0 and table.loc[0, "seeds"] == 2


def test_group_columns_only_where_the_data_have_a_group_shift():
    from diffmix_utils.analyze.tables import _extras
    from diffmix_utils.data.registry import has_group_shift
    r = {"test_worst_group_acc_at_best_val": 0.5, "test_few_acc_at_best_val": 0.25,
         "test_group_acc_at_best_val": {"waterbird/land": 0.5, "landbird/land": 1.0}}
    toy = {"dataset": "toybirds", "background_match": None}
    assert not has_group_shift(toy)  # toybirds' groups are drawn independently of the class
    assert has_group_shift({**toy, "background_match": 0.95}) and has_group_shift({**toy, "dataset": "waterbirds"})
    assert _extras(r, group_shift=False) == {"few_acc": 0.25}
    assert set(_extras(r)) == {"worst_group_acc", "few_acc", "group waterbird/land", "group landbird/land"}


def test_the_tsne_figure_and_training_label_with_the_same_function():
    """One home for the soft label: the t-SNE figure colours a Diff-Mix sample by the label training
    gives it, ``kappa`` and ``label_toward`` included (it once recomputed s^gamma on its own)."""
    import ast
    from pathlib import Path

    from diffmix_utils.labels import soft_label_of
    train = {"gamma": 0.5, "kappa": 0.9, "label_toward": "source"}
    assert soft_label_of(train, 0, 1, 0.64, 2).tolist() == pytest.approx([0.9 * 0.8, 0.9 * 0.2])
    package = Path(__file__).resolve().parent.parent / "diffmix_utils"
    for module in ("analyze/model_figures.py", "train/data.py"):
        tree = ast.parse((package / module).read_text())
        called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        assert called & {"soft_label", "soft_label_of"}, module
        own = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow)
               and "gamma" in ast.unparse(n.right)]
        assert not own, f"{module} computes {own} itself (s ** gamma belongs to diffmix_utils.labels)"
