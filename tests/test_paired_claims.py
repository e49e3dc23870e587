"""Paired statistics, the claims report and the two controls (labels toward the source, noise images)."""
from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from diffmix_utils import artifacts, params
from diffmix_utils.analyze.claims import claim_figure, claim_members, claim_table, control_partner
from diffmix_utils.analyze.paired import NO_DIFFERENCE, t_interval, verdict
from diffmix_utils.analyze.tables import summarize
from diffmix_utils.labels import soft_label


def test_the_paired_interval_is_the_t_interval_of_the_mean_difference():
    mean, low, high = t_interval([1.0, 2.0, 3.0])  # sd 1, n 3: half-width t(0.975, 2)/sqrt(3)
    assert mean == 2.0 and math.isclose(high - mean, 4.302653 / math.sqrt(3), rel_tol=1e-5)
    assert math.isnan(t_interval([1.0])[1]) and verdict(float("nan"), float("nan")) == "too few paired seeds"
    assert (verdict(0.1, 2), verdict(-2, -0.1), verdict(-1, 1)) == ("better", "worse", NO_DIFFERENCE)


def test_summaries_pair_each_method_with_its_own_baseline_seed_by_seed():
    rows = []
    for seed, shared in enumerate([0.50, 0.70, 0.60, 0.80]):  # seed noise far larger than the effect
        rows.append(dict(strategy="none", strength=None, seed=seed, acc=shared, dir=f"b{seed}", base=f"b{seed}"))
        rows.append(dict(strategy="diff-mix", strength=0.5, seed=seed, acc=shared + 0.02, dir=f"m{seed}",
                         base=f"b{seed}"))
    df = pd.DataFrame(rows)
    results = pd.DataFrame({"variant": None, "dataset": "toybirds", "shots": None, "imbalance": None,
                            "backbone": "r", "strategy": df.strategy, "strength": df.strength, "gamma": 0.5,
                            "p": 0.1, "seed": df.seed, "val_acc": df.acc, "test_acc_at_best_val": df.acc,
                            "test_acc_final": df.acc, "test_acc_best": df.acc, "train_dir": df.dir,
                            "baseline_dir": df.base})
    table = summarize(results).set_index("strategy")
    # unpaired, the std (11 points) swamps 2 points; paired, the difference is exactly +2 every seed
    assert table.loc["diff-mix", "test_acc_at_best_val_std"] > 10
    assert table.loc["diff-mix", "diff_vs_baseline"] == 2.0 and table.loc["diff-mix", "verdict"] == "better"
    assert table.loc["diff-mix", "paired_seeds"] == 4 and pd.isna(table.loc["none", "diff_vs_baseline"])


def test_a_classifier_shared_by_two_variants_is_paired_once_in_each():
    rows = []  # the two regimes share the baseline's and diff-mix's classifiers; only real-mix differs
    for variant, real_mix in (("named", 0.10), ("opaque", -0.05)):
        for seed, shared in enumerate([0.50, 0.70, 0.60]):
            for strategy, acc, folder in (("none", shared, f"b{seed}"), ("diff-mix", shared + 0.02, f"m{seed}"),
                                          ("real-mix", shared + real_mix, f"r{variant}{seed}")):
                rows.append(dict(variant=variant, strategy=strategy, seed=seed, acc=acc, dir=folder, base=f"b{seed}"))
    df = pd.DataFrame(rows)
    results = pd.DataFrame({"variant": df.variant, "dataset": "toybirds", "shots": 1, "imbalance": None,
                            "backbone": "r", "strategy": df.strategy, "strength": 0.7, "gamma": 0.5, "p": 0.5,
                            "seed": df.seed, "val_acc": df.acc, "test_acc_at_best_val": df.acc,
                            "test_acc_final": df.acc, "test_acc_best": df.acc, "train_dir": df.dir,
                            "baseline_dir": df.base})
    table = summarize(results).set_index(["variant", "strategy"])
    for variant, real_mix in (("named", 10.0), ("opaque", -5.0)):
        assert table.loc[(variant, "diff-mix"), "diff_vs_baseline"] == 2.0
        assert table.loc[(variant, "real-mix"), "diff_vs_baseline"] == real_mix
        assert table.loc[(variant, "diff-mix"), "paired_seeds"] == 3 and table.loc[(variant, "none"), "seeds"] == 3


def test_the_controls_swap_the_label_and_replace_the_image():
    assert soft_label(0, 2, 0.25, 3, 0.5).tolist() == [0.5, 0.0, 0.5]
    assert soft_label(0, 2, 0.64, 3, 0.5).tolist() == pytest.approx([0.2, 0.0, 0.8])
    assert soft_label(0, 2, 0.64, 3, 0.5, toward="source").tolist() == pytest.approx([0.8, 0.0, 0.2])
    from diffmix_utils.models.translate import load_strategy_pipeline, noise_image
    from diffmix_utils.strategies import get_strategy
    noise = get_strategy("noise-mix")
    assert not noise.needs_finetune and load_strategy_pipeline({}, noise, "cpu") == (None, False)
    a, b = noise_image((16, 12), 3), noise_image((16, 12), 3)
    assert a.size == (16, 12) and a.tobytes() == b.tobytes() != noise_image((16, 12), 4).tobytes()


def test_the_oracle_control_draws_the_target_class_on_the_source_background(tmp_path):
    from conftest import tiny_params

    from diffmix_utils.data import ensure_split, open_image, toybirds
    from diffmix_utils.models.translate import render_batch
    from diffmix_utils.strategies import get_strategy
    p = tiny_params(tmp_path, synthesize={"strategy": "oracle-mix"})
    split = ensure_split(artifacts.split_path(p), p["data"], artifacts.store(p) / "datasets")
    source = split["train"][0]
    task = {"source_index": source, "target_class": 3, "seed": 12345, "strength": 0.7}
    image = render_batch(p, split, None, get_strategy("oracle-mix"), False, [task])[0]
    expected, kind = toybirds.render_image(3, "oracle", 12345, 64, split["items"][source]["background"])
    assert image.size == open_image(split, source).size and image.tobytes() == expected.tobytes()
    with pytest.raises(params.ParamsError, match="oracle-mix"):
        params.resolve({"data": {"dataset": "cub", "root": str(tmp_path)}, "synthesize": {"strategy": "oracle-mix"}})


def _claims_params(tmp_path) -> dict:
    return params.resolve({"name": "claims", "workdir": str(tmp_path), "analyze": {"claims": True},
                           "sweep": {"seed": [0, 1, 2]},
                           "variants": [{"name": "few/baseline", "synthesize.strategy": "none"},
                                        {"name": "few/diff-mix", "synthesize.strategy": "diff-mix"},
                                        {"name": "ctl/baseline", "synthesize.strategy": "none"},
                                        {"name": "ctl/source labels", "train.label_toward": "source"},
                                        {"name": "ctl/noise", "synthesize.strategy": "noise-mix"},
                                        {"name": "ctl/diff-mix", "synthesize.strategy": "diff-mix"}]})


def _finish(m: dict, acc: float) -> None:
    folder = artifacts.train_dir(m)
    folder.mkdir(parents=True, exist_ok=True)
    artifacts.write_json(folder / "result.json", {"test_acc_at_best_val": acc})
    artifacts.mark_done(folder)


def test_claims_are_reported_per_claim_with_controls_against_the_method_they_break(tmp_path):
    p = _claims_params(tmp_path)
    claims = claim_members(p)
    assert list(claims) == ["few", "ctl"] and list(claims["ctl"]) == ["baseline", "source labels", "noise", "diff-mix"]
    assert control_partner(claims["ctl"]["source labels"][0]) == {**claims["ctl"]["diff-mix"][0],
                                                                 "member": claims["ctl"]["source labels"][0]["member"],
                                                                 "variant": "ctl/source labels"}
    assert control_partner(claims["few"]["diff-mix"][0]) is None
    # made-up accuracies: diff-mix +3 over the baseline each seed, source labels -4 from diff-mix, noise ~ 0
    for seed, base in enumerate([0.60, 0.70, 0.65]):
        _finish(claims["few"]["baseline"][seed], base)
        _finish(claims["few"]["diff-mix"][seed], base + 0.03)
        _finish(claims["ctl"]["source labels"][seed], base + 0.03 - 0.04 + 0.001 * seed)
        _finish(claims["ctl"]["noise"][seed], base + [0.01, -0.01, 0.0][seed])
    few = claim_table(claims["few"]).set_index("arm")
    assert few.loc["diff-mix", "acc vs baseline Δ"] == 3.0 and few.loc["diff-mix", "acc vs baseline verdict"] == "better"
    ctl = claim_table(claims["ctl"]).set_index("arm")  # the same baseline and diff-mix runs, read again
    assert ctl.loc["diff-mix", "seeds"] == 3 and ctl.loc["diff-mix", "acc vs baseline Δ"] == 3.0
    assert ctl.loc["source labels", "acc vs labels toward target Δ"] == pytest.approx(-3.9, abs=0.01)
    assert ctl.loc["source labels", "acc vs labels toward target verdict"] == "worse"
    assert ctl.loc["noise", "acc vs baseline verdict"] == NO_DIFFERENCE
    assert ctl.loc["noise", "acc vs diff-mix verdict"] == "worse"
    files = claim_figure("ctl", ctl.reset_index(), tmp_path / "fig", ["png"], 80)
    assert files[0].stat().st_size > 1000
    shown = claim_figure("few", few.reset_index(), None, [], 80)
    assert "paired difference" in shown.figure.axes[0].get_title()


def test_a_bundled_classifier_starts_the_training_except_its_head():
    from safetensors.torch import load_file

    from diffmix_utils.models.classifiers import BUNDLED_DIR, bundled_config, create_classifier
    from diffmix_utils.backbones import backbone_problem
    config = bundled_config("bundled:toy-regnet")
    model = create_classifier(config["architecture"], 5, False, {}, "bundled:toy-regnet")
    saved = load_file(str(BUNDLED_DIR / "toy-regnet" / "model.safetensors"))
    state = model.state_dict()
    body = [k for k in saved if not k.startswith("head.")]
    assert body and all(torch.equal(state[k], saved[k].float()) for k in body if saved[k].is_floating_point())
    assert state["head.fc.weight"].shape[0] == 5  # a new head for this dataset's classes
    assert "set train.backbone: regnetx_002" in backbone_problem("resnet18", {}, "bundled:toy-regnet")
    assert "not a bundled classifier" in backbone_problem("regnetx_002", {}, "bundled:nope")
