"""The toy reproduction's two dials: the class-names settings and their check's statistics, the q-pools
(``train.oracle_fraction``) in keys, graph and training rows, and the dials' tables and figures."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffmix_utils import artifacts, graph, params
from diffmix_utils.analyze import dial_figures, dials
from diffmix_utils.analyze.claims import claim_members
from diffmix_utils.data import class_names
from diffmix_utils.measure import name_tables
from diffmix_utils import pool_rows

ROOT = Path(__file__).resolve().parents[1]
CLASSES = [f"{c} {h}-headed Forktail" for h in ("White", "Black") for c in ("Red", "Blue", "Yellow", "Green")]


@pytest.fixture
def words(tmp_path, monkeypatch):
    """A committed-words file of this test's own (the real one is chosen by the check)."""
    file = tmp_path / "uninformative_names.json"
    file.write_text(json.dumps({"names": [f"Word{k}" for k in range(8)]}))
    monkeypatch.setattr(class_names, "UNINFORMATIVE_FILE", file)
    from diffmix_utils.artifacts import keys
    monkeypatch.setattr(keys, "UNINFORMATIVE_FILE", file)
    return file


def test_misleading_is_the_old_opaque_setting_with_its_names_and_keys(tmp_path):
    assert class_names.prompt_classes({"class_names": "misleading"}, CLASSES) == \
        class_names.prompt_classes({"class_names": "opaque"}, CLASSES) == class_names.opaque_names(8)
    old, new = (params.resolve({"workdir": str(tmp_path), "synthesize": {"strategy": "real-mix"},
                                "data": {"class_names": n}}) for n in ("opaque", "misleading"))
    assert artifacts.synthesis_key(old) == artifacts.synthesis_key(new)
    assert set(class_names.candidate_names(48, skip=8)).isdisjoint(class_names.opaque_names(8))


def test_partial_names_are_the_colour_and_the_uninformative_word_and_the_words_are_in_the_key(tmp_path, words):
    assert class_names.names_for("uninformative", CLASSES) == [f"Word{k}" for k in range(8)]
    assert class_names.names_for("partial", CLASSES)[:2] == ["Red Word0", "Blue Word1"]
    m = params.resolve({"workdir": str(tmp_path), "synthesize": {"strategy": "real-mix"},
                        "data": {"class_names": "uninformative"}})
    before = artifacts.synthesis_key(m)
    words.write_text(json.dumps({"names": [f"Other{k}" for k in range(8)]}))
    assert artifacts.synthesis_key(m) != before  # other words, other images: another key
    with pytest.raises(params.ParamsError, match="data.class_names = 'partial' is checked by the toybirds oracle"):
        params.resolve({"data": {"dataset": "cub", "root": str(tmp_path), "class_names": "partial"}})


def test_a_checked_setting_without_chosen_words_stops_before_any_image(tmp_path, monkeypatch):
    from diffmix_utils.measure import name_check
    monkeypatch.setattr(name_check, "UNINFORMATIVE_FILE", tmp_path / "missing.json")
    p = params.resolve({"workdir": str(tmp_path), "synthesize": {"strategy": "real-mix"},
                        "data": {"class_names": "uninformative"}})
    with pytest.raises(name_check.NameCheckFailed, match="not chosen yet.*--select"):
        name_check.require(p)
    name_check.require({**p, "data": {**p["data"], "class_names": "misleading"}})  # not a checked setting


def test_the_check_statistics_tell_the_four_settings_apart():
    rng = np.random.default_rng(0)
    prompted = np.repeat(np.arange(8), 12)
    tables = {"dataset": name_tables.contingency(prompted, prompted, 8),  # always the prompted class
              "uninformative": name_tables.contingency(prompted, rng.integers(0, 8, 96), 8),
              "misleading": name_tables.contingency(prompted, (prompted + 3) % 8, 8),  # always another one
              "partial": name_tables.contingency(prompted, prompted % 4 + 4 * rng.integers(0, 2, 96), 8)}
    s = {k: name_tables.summary(t, CLASSES) for k, t in tables.items()}
    assert s["dataset"]["prompted_x_chance"] == 8 and s["misleading"]["prompted_x_chance"] == 0
    assert s["misleading"]["p_independence"] < 1e-6 and s["uninformative"]["p_independence"] > 0.05
    assert s["partial"]["colour_x_share"] == 4  # same colour every time: 4x the colour's share (1/4) ...
    assert 0.3 < s["partial"]["prompted_within_colour"] < 0.7  # ... either class of it: the name says no more
    for setting in ("dataset", "misleading", "partial"):
        assert name_tables.passes(setting, s[setting]), setting
    assert name_tables.passes("uninformative", s["uninformative"]) == (0.5 <= s["uninformative"]["prompted_x_chance"] <= 1.5)
    assert not name_tables.passes("uninformative", s["misleading"]) and not name_tables.passes("dataset", s["misleading"])
    assert not name_tables.passes("partial", s["dataset"])  # a full name is not a partial one
    assert name_tables.independence_p(np.ones((8, 1), int) * 5) == 1.0  # one class drawn whatever the name
    with pytest.raises(ValueError, match="no rule for the class-names setting 'secret'"):
        name_tables.passes("secret", s["dataset"])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.integers(0, 6), min_size=8, max_size=8), min_size=3, max_size=12))
def test_the_name_closest_to_the_pooled_distribution_is_at_distance_zero_when_all_agree(rows):
    counts = np.asarray(rows) + 1
    d = name_tables.distance_to_pooled(counts)
    assert ((d >= 0) & (d <= 1)).all()
    assert np.allclose(name_tables.distance_to_pooled(np.tile(counts[:1], (len(rows), 1))), 0)


def _toy_dials(tmp_path, seeds=(0,), pattern="*") -> dict:
    p = params.load(ROOT / "params" / "toy_dials.yaml", params.parse_overrides(
        [f"workdir={tmp_path}", f"sweep.seed={list(seeds)}"]))
    return params.keep_variants(p, pattern)


def test_a_q_pool_reads_the_oracle_pool_of_the_same_plan_which_the_graph_makes_first(tmp_path):
    p = _toy_dials(tmp_path, pattern="fidelity/q=0.25")
    (m,) = params.expand_sweep(p)
    oracle = artifacts.oracle_partner(m)
    assert oracle["synthesize"]["strategy"] == "oracle-mix" and artifacts.oracle_partner(params.baseline_of(m)) is None
    jobs = graph.build(p)
    train = next(j for j in jobs.values() if j.stage == "train")
    assert artifacts.synthesis_dir(oracle) in train.needs and artifacts.synthesis_dir(m) in train.needs
    assert artifacts.synthesis_dir(oracle) in jobs  # made although no variant asks for the oracle pool
    q0 = {**m, "train": {**m["train"], "oracle_fraction": 0.0}}
    assert artifacts.synthesis_key(q0) == artifacts.synthesis_key(m)  # the q-pools share Diff-Mix's pool
    assert artifacts.train_key(q0) != artifacts.train_key(m)
    with pytest.raises(params.ParamsError, match="--variants 'nothing/\\*' matches no variant; this file's: names/baseline"):
        _toy_dials(tmp_path, pattern="nothing/*")
    for bad, match in (({"synthesize": {"strategy": "oracle-mix"}}, "strategy = 'oracle-mix'"),
                       ({"synthesize": {"strategy": "diff-mix"}, "filter": {"scorer": "clip"}}, "filter.scorer = 'clip'")):
        with pytest.raises(params.ParamsError, match=f"train.oracle_fraction = 0.5 .*{match}"):
            params.resolve({**bad, "train": {"oracle_fraction": 0.5}})
    with pytest.raises(params.ParamsError, match="train.oracle_fraction = 1.0 is out of range; valid: 0 <= oracle_fraction < 1"):
        params.resolve({"synthesize": {"strategy": "diff-mix"}, "train": {"oracle_fraction": 1.0}})


def test_oracle_rows_replace_a_nested_share_of_the_pool_with_the_same_tasks(tmp_path, monkeypatch):
    rows = [{"task": t, "source_class": t % 8, "target_class": (t * 3) % 8, "strength": 0.7, "path": f"p{t}.png"}
            for t in range(40)]
    oracle_folder = tmp_path / "oracle"
    monkeypatch.setattr(artifacts, "synthesis_dir", lambda m: oracle_folder)
    monkeypatch.setattr(artifacts, "is_done", lambda f: True)
    monkeypatch.setattr(artifacts, "read_manifest", lambda f: [{**r, "path": f"o{r['task']}.png"} for r in rows])
    base = params.resolve({"synthesize": {"strategy": "diff-mix"}})
    chosen = {}
    for q in (0.25, 0.5, 0.75):
        m = {**base, "train": {**base["train"], "oracle_fraction": q}}
        out = pool_rows.with_oracle_rows(m, rows)
        assert [(r["task"], r["source_class"], r["target_class"]) for r in out] == \
            [(r["task"], r["source_class"], r["target_class"]) for r in rows]
        chosen[q] = {r["task"] for r in out if r["path"].startswith(str(oracle_folder))}
        assert len(chosen[q]) == round(q * 40)
    assert chosen[0.25] < chosen[0.5] < chosen[0.75]


def _finish(m: dict, acc: float) -> None:
    folder = artifacts.train_dir(m)
    folder.mkdir(parents=True, exist_ok=True)
    artifacts.write_json(folder / "result.json", {"test_acc_at_best_val": acc})
    artifacts.mark_done(folder)


def test_the_dials_tables_read_made_up_results_as_the_plan_says(tmp_path, words):
    p = _toy_dials(tmp_path, seeds=range(6))
    claims = claim_members(p)
    rng = np.random.default_rng(1)
    gain = {"real-mix dataset": 0.08, "real-mix partial": 0.04, "real-mix uninformative": 0.0,
            "real-mix misleading": -0.08, "diff-mix": 0.0}
    fidelity = {}
    for seed in range(6):
        base = 0.6 + 0.05 * rng.random()
        _finish(claims["names"]["baseline"][seed], base)
        for arm, g in gain.items():
            _finish(claims["names"][arm][seed], base + g + 0.01 * (rng.random() - 0.5))
        for arm, ms in claims["fidelity"].items():
            q = dials.arm_q(ms[0], p["finetune"])
            if ms[0]["synthesize"]["strategy"] == "noise-mix":
                q = -0.5
            if q is not None:  # gain 0.2 q, fidelity 20 % + 75 q
                _finish(ms[seed], base + 0.2 * q + 0.01 * (rng.random() - 0.5))
                fidelity[artifacts.train_dir(ms[seed])] = 0.2 + 0.75 * max(q, 0)
    names = dials.name_table(claims["names"]).set_index("comparison")
    assert names.loc["real-mix dataset − real-mix partial", "verdict"] == "better"
    assert names.loc["real-mix uninformative − real-mix misleading", "hypothesis"] == "N1"
    assert names.loc["diff-mix − real-mix uninformative", "verdict"] == "no difference detected"
    assert names.loc["real-mix misleading − baseline", "verdict"] == "worse"
    table = dials.fidelity_table(claims["fidelity"], p["finetune"], fidelity=fidelity)
    assert list(table.kind) == ["noise", "q-pool", "q-pool", "q-pool", "q-pool", "q-pool"]
    assert table.set_index("arm").loc["q=0.5", "fidelity mean"] == pytest.approx(57.5)
    tests = dials.fidelity_tests(claims["fidelity"], table, p["finetune"], fidelity=fidelity).set_index("hypothesis")
    assert tests.loc["F1", "estimate"] == pytest.approx(20, abs=1) and tests.loc["F1", "verdict"] == "better"
    assert tests.loc["convexity", "estimate"] == pytest.approx(0, abs=1)
    assert tests.loc["F2", "estimate"] == 0.25
    check = {"settings": {s: {"conditions": {"img2img": {"prompted_x_chance": x}}}
                          for s, x in (("dataset", 4.0), ("partial", 2.0), ("uninformative", 1.0), ("misleading", 0.1))}}
    fig = dial_figures.name_dial_figure(names.reset_index(), check, None, [], 80)
    assert [t.get_text().split("\n")[0] for t in fig.figure.axes[0].get_xticklabels()] == \
        ["dataset", "partial", "uninformative", "misleading"]
    files = dial_figures.fidelity_dial_figure(table, tmp_path / "dial_fidelity", ["png"], 80)
    assert files[0].stat().st_size > 5000


def test_the_capacity_arms_are_placed_against_q_quarter_and_compared_with_diff_mix(tmp_path, words):
    p = params.load(ROOT / "params" / "toy_dials_capacity.yaml", params.parse_overrides(
        [f"workdir={tmp_path}", "sweep.seed=[0, 1, 2, 3, 4]"]))
    arms = claim_members(p)["fidelity"]
    made = {"q=0 (diff-mix)": (0.0, 0.70), "q=0.25": (0.05, 0.80), "4x steps": (0.05, 0.80),
            "rank 40": (0.0, 0.60), "4x steps rank 40": (0.02, 0.75)}  # (gain, fidelity)
    fidelity, rng = {}, np.random.default_rng(2)
    for seed in range(5):
        base = 0.6 + 0.05 * rng.random()
        _finish(arms["baseline"][seed], base)
        for arm, (gain, fid) in made.items():
            _finish(arms[arm][seed], base + gain + 0.01 * (rng.random() - 0.5))
            fidelity[artifacts.train_dir(arms[arm][seed])] = fid + 0.01 * (rng.random() - 0.5)
    table = dials.fidelity_table(arms, p["finetune"], fidelity=fidelity)
    assert list(table.kind) == ["q-pool", "q-pool", "capacity", "capacity", "capacity"]
    tests = dials.fidelity_tests(arms, table, p["finetune"], fidelity=fidelity)
    f3 = tests[tests.hypothesis == "F3"].set_index("statement")
    assert f3.loc["rank 40: measured fidelity − the q = ¼ pool's (points of %)", "estimate"] == pytest.approx(-20, abs=1)
    assert f3.loc["rank 40: measured fidelity − the q = ¼ pool's (points of %)", "verdict"] == "worse"
    assert f3.loc["4x steps: measured fidelity − the q = ¼ pool's (points of %)", "estimate"] == pytest.approx(0, abs=1)
    more = tests[tests.hypothesis == "exploratory"].set_index("statement")
    assert len(more) == 6 and set(more.draws) == {5}
    assert more.loc["4x steps: gain − Diff-Mix's gain (q = 0; points)", "estimate"] == pytest.approx(5, abs=1)
    assert more.loc["4x steps: gain − Diff-Mix's gain (q = 0; points)", "verdict"] == "better"
    assert more.loc["4x steps rank 40: measured fidelity − Diff-Mix's (q = 0; points of %)", "estimate"] == \
        pytest.approx(5, abs=1)


def test_a_q_pool_classifier_trains_on_both_pools_from_a_relative_workdir(finetuned, monkeypatch):
    from conftest import tiny_params

    from diffmix_utils import synthesize, train
    workdir = Path(finetuned[0]["workdir"])
    monkeypatch.chdir(workdir.parent)  # workdir "runs0", as params files write "runs"
    p = tiny_params(workdir.name, seed=11, synthesize={"seed": 11, "strategy": "diff-mix"},
                    train={"oracle_fraction": 0.5})
    synthesize.run_stage(p)  # the Diff-Mix pool and, for the q-pool, the oracle pool of the same plan
    oracle = artifacts.synthesis_dir(artifacts.oracle_partner(p))
    assert artifacts.is_done(oracle)
    rows, _ = pool_rows.synthetic_rows(p)
    from_oracle = [r for r in rows if Path(r["path"]).is_absolute()]
    assert len(from_oracle) == round(0.5 * len(rows)) and all(Path(r["path"]).is_file() for r in from_oracle)
    train.run_stage(p)
    assert artifacts.is_done(artifacts.train_dir(p))
