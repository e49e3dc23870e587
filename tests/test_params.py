"""The parameter schema: defaults, validation messages, overrides, sweeps, the CLI's exit code."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from diffmix_utils import params
from diffmix_utils.params import ParamsError
from in_process import run_cli

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_resolve_to_themselves():
    assert params.resolve({}) == params.defaults()


@pytest.mark.parametrize("raw, words", [
    ({"bogus": 1}, ["unknown key 'bogus'", "valid top-level keys"]),
    ({"train": {"bogus_lr": 1}}, ["unknown key 'train.bogus_lr'"]),
    ({"synthesize": {"strength": 1.5}}, ["synthesize.strength = 1.5", "out of range", "0 < strength <= 1"]),
    ({"synthesize": {"strength": 0}}, ["out of range"]),
    ({"train": {"epochs": "ten"}}, ["train.epochs = 'ten'", "expected int"]),
    ({"train": {"epochs": True}}, ["expected int"]),
    ({"data": {"dataset": "cub2011"}}, ["data.dataset = 'cub2011'", "toybirds"]),
    ({"synthesize": {"strategy": "diffmix"}}, ["synthesize.strategy = 'diffmix'", "diff-mix"]),
    ({"train": {"backbone": "resnet5000"}}, ["train.backbone = 'resnet5000'", "not a timm model"]),
    ({"model": {"base": "bundled:huge-sd"}}, ["model.base = 'bundled:huge-sd'", "bundled:tiny-sd"]),
    ({"model": {"resolution": 60}}, ["multiple of 8"]),
    ({"data": {"shots": 5, "imbalance": 10.0}}, ["cannot both be set"]),
    ({"data": {"dataset": "imagefolder"}}, ["data.root = null"]),
    ({"sweep": {"synthesize.strenght": [0.5]}}, ["unknown key 'synthesize.strenght'"]),
    ({"sweep": {"synthesize.strength": [0.5, 2.0]}}, ["synthesize.strength = 2.0", "out of range"]),
    ({"sweep": {"seed": 3}}, ["non-empty list"]),
    ({"name": "../escape"}, ["name = '../escape'", "must match"]),
])
def test_bad_values_name_key_value_and_what_is_valid(raw, words):
    with pytest.raises(ParamsError) as exc:
        params.resolve(raw)
    for w in words:
        assert w in str(exc.value)


def test_int_is_accepted_where_float_is_expected():
    assert params.resolve({"synthesize": {"strength": 1}})["synthesize"]["strength"] == 1.0


def test_load_applies_dotted_overrides(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("name: x\ntrain: {epochs: 3}\n")
    p = params.load(f, {"train.p": 0.25, "seed": 4})
    assert (p["train"]["epochs"], p["train"]["p"], p["seed"]) == (3, 0.25, 4)
    with pytest.raises(ParamsError, match="unknown key 'train.pp'"):
        params.load(f, {"train.pp": 1})


def test_sweep_is_a_product_and_the_baseline_is_trained_once():
    p = params.resolve({"sweep": {"synthesize.strategy": ["none", "diff-mix"],
                                  "synthesize.strength": [0.3, 0.7], "seed": [0, 1]}})
    members = params.expand_sweep(p)
    kinds = [(m["synthesize"]["strategy"], m["synthesize"]["strength"], m["seed"]) for m in members]
    assert len(members) == 2 + 4  # none x 2 seeds (strength irrelevant) + diff-mix x 2 x 2
    assert ("diff-mix", 0.3, 1) in kinds and all(m["train"]["p"] == 0 for m in members
                                                 if m["synthesize"]["strategy"] == "none")
    assert len({m["member"] for m in members}) == len(members)


def test_from_notebook_reports_injected_unknown_names():
    ns = {"In": [], "params": params, "params_file": None, "overrides": {}, "bogus_key": 1}
    with pytest.raises(ParamsError, match="unknown key 'bogus_key'"):
        params.from_notebook(ns)
    del ns["bogus_key"]
    assert params.from_notebook(ns)["name"] == "smoke"
    # run again after later cells made objects (01_finetune's ft path and pipeline): not parameters
    assert params.from_notebook({**ns, "ft": ROOT / "runs", "pipe": object()})["name"] == "smoke"


DEMO = ROOT / "params" / "demo.yaml"


def test_a_notebook_reads_its_params_file_with_dotted_overrides_on_top(tmp_path):
    ns = {"In": [], "params_file": "params/demo.yaml", "overrides": {}}
    demo = params.from_notebook(ns)
    assert demo == params.load(DEMO)  # opened after make demo: the demo's run
    # an override equal to the schema default still overrides (no equal-to-default trap)
    default_lr = params.defaults()["train"]["lr"]
    edited = params.from_notebook({**ns, "overrides": {"train.epochs": 3, "train.lr": default_lr,
                                                       "sweep.seed": [5, 6]}})
    assert edited["train"]["epochs"] == 3 and edited["train"]["lr"] == default_lr
    assert edited["sweep"]["seed"] == [5, 6] and edited["name"] == demo["name"]
    assert edited == params.load(DEMO, {"train.epochs": 3, "train.lr": default_lr, "sweep.seed": [5, 6]})
    with pytest.raises(ParamsError, match="did you mean train.epochs"):
        params.from_notebook({**ns, "overrides": {"train.epoch": 3}})
    with pytest.raises(ParamsError, match="does not exist"):
        params.from_notebook({**ns, "params_file": str(tmp_path / "gone.yaml")})
    with pytest.raises(ParamsError, match="params_file = 3"):
        params.from_notebook({**ns, "params_file": 3})


def test_papermill_f_file_is_the_run_and_p_sections_set_keys(tmp_path):
    ns = {"In": [], "params_file": "params/demo.yaml", "overrides": {}}
    smoke = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())
    # papermill -f smoke.yaml: its sections are injected as variables; they are the run, demo is not read
    assert params.from_notebook({**ns, **smoke}) == params.load(ROOT / "params" / "smoke.yaml")
    # papermill -p params_file smoke.yaml
    assert params.from_notebook({**ns, "params_file": "params/smoke.yaml"}) == params.load(ROOT / "params" / "smoke.yaml")
    # papermill -p train '{epochs: 2}' (no name): set on top of the params_file, key by key
    two = params.from_notebook({**ns, "train": {"epochs": 2}})
    assert two["train"]["epochs"] == 2 and two == params.load(DEMO, {"train.epochs": 2})
    with pytest.raises(ParamsError, match="would mix"):  # a second file named beside an injected one
        params.from_notebook({**ns, **smoke, "params_file": "params/toy_paper.yaml"})
    # the runner: params_file None and every resolved section injected
    p = params.load(DEMO)
    assert params.from_notebook({"params_file": None, **{k: v for k, v in p.items() if k != "member"}}) == p


def test_set_reaches_one_sweep_axis_and_an_unknown_key_names_the_closest():
    p = params.load(DEMO, params.parse_overrides(["sweep.seed=[5,6,7]"]))
    assert p["sweep"]["seed"] == [5, 6, 7]
    assert {k: v for k, v in p["sweep"].items() if k != "seed"} == \
        {k: v for k, v in params.load(DEMO)["sweep"].items() if k != "seed"}
    with pytest.raises(ParamsError) as err:
        params.load(DEMO, {"synthesize.strenght": 0.5})
    message = str(err.value)
    assert "synthesize.strength" in message and "docs/parameters.md" in message
    assert len(message) < 200  # the closest keys, not all of them
    with pytest.raises(ParamsError, match="did you mean"):
        params.load(DEMO, {"sweep.synthesize.strenght": [0.5]})


def _run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "diffmix_utils.run", *args], cwd=cwd,
                          capture_output=True, text=True)


def test_cli_bad_file_exits_2_with_one_line_and_creates_nothing(tmp_path):
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"name": "bad", "workdir": str(tmp_path / "runs"),
                                                       "train": {"p": 1.7}}))
    r = _run_cli("bad.yaml", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["error: train.p = 1.7 is out of range; valid: 0 <= p <= 1"]
    assert "Traceback" not in r.stderr and not (tmp_path / "runs").exists()


def test_cli_plan_runs_nothing(tmp_path, monkeypatch, capsys):
    code, printed = run_cli(["python", "-m", "diffmix_utils.run", str(ROOT / "params" / "demo.yaml"), "--plan",
                             "--set", f"workdir={tmp_path / 'runs'}"], monkeypatch, capsys, cwd=tmp_path)
    assert code == 0, printed
    assert "15 sweep member(s)" in printed and "synthesize 2 job(s)" in printed.replace("  ", " ")
    assert not (tmp_path / "runs" / "demo").exists()


SHIPPED = sorted(str(f.relative_to(ROOT / "params")) for f in (ROOT / "params").rglob("*.yaml"))


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_parameter_files_validate(name):
    p = params.load(ROOT / "params" / name)
    assert p["name"] == Path(name).stem


def test_paper_files_name_every_real_dataset_layout():
    from diffmix_utils.data import LAYOUTS
    named = {params.load(ROOT / "params" / n)["data"]["dataset"] for n in SHIPPED if n.startswith("paper/")}
    assert named >= set(LAYOUTS) - {"toybirds", "imagefolder", "hf"}


def test_variants_multiply_the_sweep_and_are_validated():
    p = params.resolve({"variants": [{"name": "1-shot", "data.shots": 1, "train.p": 0.5},
                                     {"name": "cutmix", "synthesize.strategy": "none", "train.cutmix": 0.1}],
                        "sweep": {"seed": [0, 1], "synthesize.strength": [0.3, 0.7]}})
    members = params.expand_sweep(p)
    tags = [m["member"] for m in members]
    assert len(members) == 4 + 2  # 1-shot x 2 seeds x 2 strengths; cutmix baseline: strength collapses
    assert "variant=1-shot,seed=0,synthesize.strength=0.3" in tags
    one = next(m for m in members if m["variant"] == "1-shot")
    assert one["data"]["shots"] == 1 and one["train"]["p"] == 0.5
    cut = [m for m in members if m["variant"] == "cutmix"]
    assert all(m["train"]["cutmix"] == 0.1 and m["train"]["p"] == 0.0 for m in cut)
    gen = params.expand_sweep(params.resolve({"sweep": {"synthesize.strategy": ["diff-gen"],
                                                        "synthesize.strength": [0.3, 0.7]}}))
    assert len(gen) == 1 and gen[0]["synthesize"]["strength"] == 1.0  # text-to-image: s does not apply
    for bad, words in [([{"data.shots": 1}], "non-empty 'name'"),
                       ([{"name": "a"}, {"name": "a"}], "used twice"),
                       ([{"name": "a", "seed": 1}], "sets 'seed'"),
                       ([{"name": "a", "train.p": 2.0}], "train.p = 2.0 is out of range")]:
        with pytest.raises(params.ParamsError, match=words):
            params.resolve({"variants": bad, "sweep": {"seed": [0]}})


def test_img2img_strength_must_give_at_least_one_denoising_step():
    with pytest.raises(params.ParamsError, match="synthesize.strength = 0.1 with synthesize.steps = 4 runs no"):
        params.resolve({"synthesize": {"strategy": "diff-aug", "steps": 4, "strength": 0.1}})
    params.resolve({"synthesize": {"strategy": "diff-gen", "steps": 4, "strength": 0.1}})  # text-to-image: fine


def test_the_deleted_sd15_id_maps_to_its_maintained_copy_with_a_notice(capsys):
    a = params.resolve({"model": {"base": "runwayml/stable-diffusion-v1-5", "resolution": 512}})
    b = params.resolve({"sweep": {"model.base": ["runwayml/stable-diffusion-v1-5"]}})
    assert a["model"]["base"] == "stable-diffusion-v1-5/stable-diffusion-v1-5"
    assert b["sweep"]["model.base"] == ["stable-diffusion-v1-5/stable-diffusion-v1-5"]
    from diffmix_utils import artifacts
    c = params.resolve({"model": {"base": "stable-diffusion-v1-5/stable-diffusion-v1-5", "resolution": 512}})
    assert artifacts.finetune_key(a) == artifacts.finetune_key(c)  # both spellings share one fine-tune
    from pathlib import Path
    assert all("runwayml" not in f.read_text() or "maintained" in f.read_text()
               for f in (Path(__file__).parent.parent / "params" / "paper").glob("*.yaml"))


def test_provenance_records_the_environment_and_the_resolved_model(tmp_path):
    from diffmix_utils import provenance
    p = params.resolve({"workdir": str(tmp_path)})
    record = provenance.collect(p, "cpu", "fp32")
    assert record["torch"] and record["diffusers"] and record["device_count"] == 1 and record["dtype"] == "fp32"
    assert record["base_model"] == "bundled:tiny-sd" and record["resolved_revision"].startswith("sha256:")
    assert record["kit_commit"] is None or len(record["kit_commit"]) == 40
    hub = params.resolve({"model": {"base": "nobody/not-cached-xyz", "revision": "v1"}})
    assert provenance.base_model(hub)["resolved_revision"].startswith("unresolved")


def test_the_notebook_summary_shows_what_differs_and_the_stage_settings():
    from pathlib import Path
    p = params.load(Path(__file__).parent.parent / "params" / "demo.yaml")
    table = params.summary(p, "synthesize")
    assert table.loc["finetune.steps", "value"] == "400" and table.loc["synthesize.strategy", "value"] == "diff-mix"
    assert table.loc["members", "value"] == "15" and "sweep: seed" in table.index
    assert "data.dataset" not in table.index and "train.momentum" not in table.index  # the defaults stay out
    assert len(table) < len(params.all_keys()) / 3


def test_the_filter_settings_have_their_own_section_and_the_old_spelling_still_works(capsys):
    """``filter.scorer / fraction / model`` (once ``synthesize.filter*``): the old spelling in a file, a
    sweep, a variant or ``--set`` means the same run (same keys), with a one-line notice."""
    from diffmix_utils import artifacts
    new = params.resolve({"filter": {"scorer": "classifier", "fraction": 0.2}})
    old = params.resolve({"synthesize": {"filter": "classifier", "filter_fraction": 0.2}})
    assert old == new and "filter" not in new["synthesize"]
    assert artifacts.filter_key(params.expand_sweep(old)[0]) == artifacts.filter_key(params.expand_sweep(new)[0])
    assert "synthesize.filter is now filter.scorer" in capsys.readouterr().err
    swept = params.resolve({"sweep": {"synthesize.filter_fraction": [0.1, 0.3]}, "filter": {"scorer": "classifier"}})
    assert [m["filter"]["fraction"] for m in params.expand_sweep(swept)] == [0.1, 0.3]
    variant = params.resolve({"variants": [{"name": "filtered", "synthesize.filter": "classifier"}]})
    assert params.expand_sweep(variant)[0]["filter"]["scorer"] == "classifier"
    with pytest.raises(params.ParamsError, match="synthesize.filter and filter.scorer are both set"):
        params.resolve({"synthesize": {"filter": "clip"}, "filter": {"scorer": "classifier"}})
    baseline = params.baseline_of(params.expand_sweep(new)[0])
    assert baseline["filter"] == params.defaults()["filter"]  # no pool, nothing to filter


def test_an_override_of_a_swept_key_is_refused_naming_the_sweep_axis_to_set():
    with pytest.raises(params.ParamsError, match=r"seed = 3 in the overrides would change nothing.*sweep.seed=\[3\]"):
        params.load(ROOT / "params" / "demo.yaml", params.parse_overrides(["seed=3"]))
    assert params.load(ROOT / "params" / "demo.yaml", params.parse_overrides(["sweep.seed=[3]"]))["sweep"]["seed"] == [3]
