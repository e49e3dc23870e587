"""The toy reproduction's second regime: opaque class names, replicates over draws, power and MDD,
and the two regimes side by side."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffmix_utils import artifacts, params
from diffmix_utils.analyze.claims import claim_members, claim_table, claims_compared_figure, compared_claims
from diffmix_utils.analyze.paired import t_interval
from diffmix_utils.analyze.power import mdd, sd_from_interval, sd_of, seeds_needed, table_power
from diffmix_utils.data import toybirds
from diffmix_utils.data.class_names import opaque_names, prompt_classes
from diffmix_utils.models import pretrain
from diffmix_utils.models.tiny_sd import BUNDLED_DIR

ROOT = Path(__file__).resolve().parents[1]


def _caption_tokens(tokenizer) -> set[str]:
    """Every token of every caption the bundled model was pretrained on (all attribute combinations)."""
    seen = set()
    for body in pretrain.PALETTE:
        for head in pretrain.HEADS:
            for tail in toybirds.TAIL:
                for kind in toybirds.BACKGROUNDS:
                    seen |= set(tokenizer.tokenize(f"a photo of a {body} bird with a {head} head and a "
                                                   f"{tail.lower()} tail on {kind}"))
    return seen


def test_opaque_names_share_no_token_with_the_pretraining_captions_and_dataset_names_do():
    from transformers import CLIPTokenizer
    tok = CLIPTokenizer.from_pretrained(str(BUNDLED_DIR / "tokenizer"))
    captions = _caption_tokens(tok)
    names = opaque_names(16)
    assert len(set(names)) == 16 and all(n.isalpha() for n in names)
    for name in names:
        assert not set(tok.tokenize(f"{name} bird")) - {"bird</w>"} & captions, name
    described = [toybirds.class_name(c) for c in range(16)]
    assert all(set(tok.tokenize(n)) & captions for n in described)  # "red", "white", "fork" ...


def test_opaque_names_are_fixed_distinct_and_only_change_the_prompt_text():
    assert opaque_names(8) == opaque_names(8) == opaque_names(200)[:8]
    assert len(set(opaque_names(200))) == 200
    classes = ["Red White-headed Forktail", "Blue White-headed Forktail"]
    assert prompt_classes({"class_names": "dataset"}, classes) == classes
    assert prompt_classes({"class_names": "opaque"}, classes) == opaque_names(2)
    with pytest.raises(ValueError, match="data.class_names = .secret.*dataset, partial, uninformative, misleading"):
        prompt_classes({"class_names": "secret"}, classes)


def test_only_name_prompted_artifacts_change_key_with_opaque_names(tmp_path):
    def member(**sets):
        return params.resolve({"workdir": str(tmp_path), **sets})

    for strategy, changes in (("real-mix", True), ("real-aug", True), ("real-gen", True), ("diff-mix", False),
                              ("diff-gen", False), ("ti-mix", False), ("noise-mix", False), ("oracle-mix", False),
                              ("none", False)):
        named = member(synthesize={"strategy": strategy})
        opaque = member(synthesize={"strategy": strategy}, data={"class_names": "opaque"})
        assert artifacts.split_key(named) == artifacts.split_key(opaque)
        assert artifacts.finetune_key(named) == artifacts.finetune_key(opaque)
        assert (artifacts.train_key(named) != artifacts.train_key(opaque)) is changes, strategy
    lora_only = {"finetune": {"mode": "lora_only"}, "synthesize": {"strategy": "diff-mix"}}
    assert artifacts.finetune_key(member(**lora_only)) != artifacts.finetune_key(
        member(**lora_only, data={"class_names": "opaque"}))  # its fine-tune prompts with names


def test_a_draw_replicate_resamples_split_fine_tune_and_pool_and_pairs_with_its_own_baseline(tmp_path):
    file = {"workdir": str(tmp_path), "replicate": "draw", "data": {"split_seed": 3}, "synthesize": {"seed": 10},
            "sweep": {"seed": [0, 1, 2]}}
    members = params.expand_sweep(params.resolve(file))
    assert [(m["data"]["split_seed"], m["finetune"]["seed"], m["synthesize"]["seed"]) for m in members] == \
        [(3, 42, 10), (4, 43, 11), (5, 44, 12)]
    assert len({artifacts.finetune_key(m) for m in members}) == 3
    for m in members:
        assert artifacts.split_key(params.baseline_of(m)) == artifacts.split_key(m)
    conditional = params.expand_sweep(params.resolve({**file, "replicate": "classifier"}))
    assert {artifacts.finetune_key(m) for m in conditional} == {artifacts.finetune_key(conditional[0])}
    with pytest.raises(ValueError, match="already expanded"):
        params.expand_sweep(members[1])


def test_the_mdd_is_what_the_interval_can_detect_and_seeds_needed_inverts_it():
    assert seeds_needed(10.56, 5) == 37  # toy_paper's diff-mix spread: the toy_regimes seed count
    assert mdd(10.56, 37) <= 5 < mdd(10.56, 36)
    assert mdd(3.0, 10) < mdd(3.0, 5) and mdd(6.0, 10) == pytest.approx(2 * mdd(3.0, 10))
    assert math.isnan(mdd(3.0, 1))
    with pytest.raises(ValueError, match="effect = 0"):
        seeds_needed(3.0, 0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-30, 30, allow_nan=False), min_size=2, max_size=40))
def test_the_spread_read_back_from_an_interval_is_the_spread_of_the_differences(diffs):
    mean, low, high = t_interval(diffs)
    assert sd_from_interval(low, high, len(diffs)) == pytest.approx(sd_of(diffs), rel=1e-6, abs=1e-9)


def _finish(m: dict, acc: float) -> None:
    folder = artifacts.train_dir(m)
    folder.mkdir(parents=True, exist_ok=True)
    artifacts.write_json(folder / "result.json", {"test_acc_at_best_val": acc})
    artifacts.mark_done(folder)


def test_two_regimes_share_their_unnamed_arms_and_are_drawn_side_by_side(tmp_path):
    arms = [("baseline", "none"), ("real-mix", "real-mix"), ("diff-mix", "diff-mix")]
    variants = [{"name": f"{regime}/{arm}", "synthesize.strategy": s,
                 **({"data.class_names": "opaque"} if regime == "opaque" else {})}
                for regime in ("named", "opaque") for arm, s in arms]
    p = params.resolve({"workdir": str(tmp_path), "replicate": "draw", "analyze": {"claims": True},
                        "sweep": {"seed": [0, 1, 2, 3]},
                        "variants": variants + [{"name": "controls/baseline", "synthesize.strategy": "none"},
                                                {"name": "controls/noise", "synthesize.strategy": "noise-mix"}]})
    claims = claim_members(p)
    rng = np.random.default_rng(0)
    for seed in range(4):  # made-up accuracies: real-mix +10 with names, -2 without; diff-mix +1 in both
        base = 0.5 + 0.05 * rng.random()
        _finish(claims["named"]["baseline"][seed], base)
        _finish(claims["named"]["real-mix"][seed], base + 0.10 + 0.01 * rng.random())
        _finish(claims["opaque"]["real-mix"][seed], base - 0.02 + 0.01 * rng.random())
        _finish(claims["named"]["diff-mix"][seed], base + 0.01 + 0.01 * rng.random())
    tables = {c: claim_table(arms).set_index("arm") for c, arms in claims.items()}
    named, opaque = tables["named"], tables["opaque"]
    assert opaque.loc["diff-mix", "acc vs baseline Δ"] == named.loc["diff-mix", "acc vs baseline Δ"]  # one folder
    assert named.loc["diff-mix", "acc vs real-mix verdict"] == "worse"
    assert opaque.loc["diff-mix", "acc vs real-mix verdict"] == "better"
    assert 0 < opaque.loc["diff-mix", "acc vs real-mix MDD"] < 5
    diffs = [100 * (a - b) for a, b in zip(*(
        [artifacts.read_json(artifacts.train_dir(m) / "result.json")["test_acc_at_best_val"]
         for m in claims["opaque"][arm]] for arm in ("diff-mix", "real-mix")))]
    assert opaque.loc["diff-mix", "acc vs real-mix MDD"] == pytest.approx(mdd(sd_of(diffs), 4), abs=0.01)
    compared = compared_claims({c: t.reset_index() for c, t in tables.items()})
    assert list(compared) == ["named", "opaque"]
    fig = claims_compared_figure(compared, None, [], 80)
    ax = fig.figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["real-mix\nvs baseline", "diff-mix\nvs baseline",
                                                           "diff-mix\nvs real-mix"]
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"named", "opaque", "± MDD (power 0.8)"}
    assert (tmp_path / "x.png").exists() is False and claims_compared_figure(
        compared, tmp_path / "x", ["png"], 80)[0].stat().st_size > 1000
    power = table_power(opaque.reset_index(), effect=5)
    assert set(power.comparison) == {"acc vs baseline", "acc vs real-mix"} and (power["seeds for 5"] >= 2).all()


def test_the_plan_counts_pools_of_one_setting_once_with_their_number(tmp_path):
    from diffmix_utils.run import plan
    p = params.load(ROOT / "params" / "toy_regimes.yaml", params.parse_overrides([f"workdir={tmp_path}"]))
    line = next(x for x in plan(p).splitlines() if x.strip().startswith("synthesize"))
    # 37 draws: real-mix in two regimes (74 pools), diff-mix and both controls in one (37 each)
    assert "185 job(s)" in line and "real-mix s=0.7 x5 (74 pools)" in line and "diff-mix s=0.7 x5 (37 pools)" in line
