"""Every paper file plans with a cost estimate; the analysis figures draw from a results table."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from diffmix_utils import params, run
from diffmix_utils.costs import classifier_flops, split_sizes

ROOT = Path(__file__).resolve().parent.parent
PAPER = sorted((ROOT / "params" / "paper").glob("*.yaml"))


@pytest.mark.parametrize("path", PAPER, ids=[p.stem for p in PAPER])
def test_every_paper_file_plans_with_counts_and_gpu_hours(path, tmp_path):
    p = params.load(path, {"workdir": str(tmp_path)})
    text = run.plan(p)
    assert re.search(r"train +\d+ job", text) and "GPU-hours at 100 % of an H100" in text
    assert "SD-1.5 architecture" in text  # the hub model is not here: its architecture in code
    hours = float(re.search(r"lower bound: ([\d,.]+) GPU-hours", text).group(1).replace(",", ""))
    assert hours > 0


def test_conventional_files_cross_backbones_with_the_nine_rows(tmp_path):
    p = params.load(ROOT / "params/paper/conventional_cub.yaml", {"workdir": str(tmp_path)})
    members = params.expand_sweep(p)
    assert len(members) == 18
    vit = [m for m in members if m["variant"].startswith("vit-b16@384/")]
    assert len(vit) == 9 and all(m["train"]["image_size"] == 384 and m["train"]["lr"] == 0.001 for m in vit)


def test_variant_axes_may_not_share_a_key():
    raw = {"variants": {"a": [{"name": "x", "train.lr": 0.1}], "b": [{"name": "y", "train.lr": 0.2}]}}
    with pytest.raises(params.ParamsError, match="variants axes 'a' and 'b' both set 'train.lr'"):
        params.resolve(raw)


def test_flops_and_nominal_sizes():
    assert 8.0e9 < classifier_flops("resnet50", 224, 1000) < 8.4e9  # ~4.1 GMAC, the published figure
    p = params.resolve({"data": {"dataset": "cub", "root": "/nowhere", "shots": 5}})
    assert split_sizes(p)[:2] == (200, 1000)


def test_plan_counts_an_own_imagefolder_before_its_split_exists(tmp_path):
    from PIL import Image
    for split, per in (("train", 7), ("test", 3)):
        for c in ("ant", "bee", "cat"):
            (tmp_path / "own" / split / c).mkdir(parents=True)
            for i in range(per):
                Image.new("RGB", (8, 8), (i * 30, 0, 0)).save(tmp_path / "own" / split / c / f"{i}.png")
    p = params.resolve({"workdir": str(tmp_path / "runs"), "data": {"dataset": "imagefolder",
                        "root": str(tmp_path / "own"), "val_fraction": 0.2}})
    m = params.expand_sweep(p)[0]
    assert split_sizes(m) == (3, 3 * (7 - 2), 3 * 2 + 3 * 3, True)  # ceil(0.2 * 7) = 2 val per class
    assert not (tmp_path / "runs").exists()  # counted, nothing written
    said = run.plan(p)  # exact counts (no ≈): the pool is multiplier x 15 training images
    assert "cost (counts;" in said and f" {round(p['synthesize']['multiplier'] * 15)} images," in said


def _table(rows):
    base = {"variant": None, "dataset": "cub", "shots": None, "imbalance": None, "backbone": "resnet50@224",
            "strength": 0.7, "gamma": 0.8, "p": 0.1, "test_acc_at_best_val_std": 0.2, "reference_acc": None}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_ablation_figures_from_a_results_table(tmp_path):
    from diffmix_utils.analyze.stage import _result_figures
    table = _table([{"strategy": "none", "strength": None, "test_acc_at_best_val": 81.0}]
                   + [{"strategy": "diff-mix", "synthesize.multiplier": m, "test_acc_at_best_val": 81 + m / 4,
                       "reference_acc": 82.93 if m == 4 else None} for m in (2.0, 4.0, 6.0)])
    written = {f.name for f in _result_figures(table, tmp_path, ["png"], 60)}
    assert {"accuracy_vs_synthesize.multiplier.png", "soft_label_gamma_curves.png",
            "accuracy_vs_strength.png"} <= written
    twin = _table([{"strategy": "diff-mix", "variant": v, "shots": s, "p": q, "test_acc_at_best_val": a + q}
                   for v, s, a in (("all-shot", None, 80.0), ("5-shot", 5.0, 50.0)) for q in (0.1, 0.5)])
    assert "accuracy_vs_p.png" in {f.name for f in _result_figures(twin, tmp_path, ["png"], 60)}


def test_analysis_of_a_fabricated_results_folder(tmp_path, capsys):
    """Fabricated inputs (result.json files of finished runs); the tables and figures are the real code's."""
    from diffmix_utils import artifacts, jobs
    from diffmix_utils.analyze import run_analysis
    from diffmix_utils.data import ensure_split

    from .conftest import tiny_params
    sweep = {"synthesize.strategy": ["none", "diff-mix"], "synthesize.multiplier": [1.0, 2.0], "seed": [0, 1]}
    p = tiny_params(tmp_path, sweep=sweep, analyze={"formats": ["png"], "figures_dir": str(tmp_path / "fig")})
    ensure_split(artifacts.split_path(p), p["data"], artifacts.store(p) / "datasets")
    members = params.expand_sweep(p)
    assert len(members) == 6  # the baseline is not multiplied by the synthetic size
    for m in members:
        acc = 0.5 + 0.1 * m["synthesize"]["multiplier"] * (m["synthesize"]["strategy"] != "none") + 0.01 * m["seed"]
        artifacts.write_json(artifacts.train_dir(m) / "result.json", {
            "val_acc": acc, "test_acc_at_best_val": acc, "test_acc_final": acc, "test_acc_best": acc + 0.02})
        artifacts.mark_done(artifacts.train_dir(m))
    assert not jobs.stage_complete(p, "analyze")
    files = run_analysis(p)
    written = {f.name for f in files}
    said = capsys.readouterr().out.strip().splitlines()[-1]  # one line, not a line per file
    assert said.startswith(f"wrote {len(files)} files to ") and "tables environment, results, runs" in said
    assert jobs.stage_complete(p, "analyze")  # the runner skips it now ...
    changed = {**p, "analyze": {**p["analyze"], "claims": True}}
    assert not jobs.stage_complete(changed, "analyze")  # ... but not with other analyze settings
    from IPython.display import Image, Markdown
    from diffmix_utils.analyze import outputs
    shown = outputs(files)  # what 04_analyze displays: the tables under their names, then the figures
    names = [x.data for x in shown if isinstance(x, Markdown) and x.data.startswith("**")]
    assert [n.split("**")[1] for n in names] == ["results", "environment"]  # runs.md stays in its file
    assert sum(isinstance(x, Image) for x in shown) == sum(f.suffix == ".png" for f in files) > 3
    assert isinstance(shown[-1], Image) and "| strategy |" in shown[1].data
    step = outputs(files, "results", "claim_", "class_histogram")  # one of 04_analyze's narrated steps
    assert step[0].data.startswith("**results**") and "analyze.claims" in step[2].data
    assert "not made in this run" in step[2].data and isinstance(step[3], Image) and len(step) == 4
    results_md = (tmp_path / "fig" / "t" / "tables" / "results.md").read_text()
    assert "<NA>" not in results_md and "nan" not in results_md
    header, _, first_row = ([c.strip() for c in line.strip("|").split("|")] for line in results_md.splitlines()[:3])
    assert first_row[header.index("strategy")] == "none"  # the baseline row first
    # a reader meets method, accuracy, difference and verdict first, the settings after (#34)
    assert header.index("test accuracy (%)") < header.index("Δ vs baseline [95 %]") < header.index("verdict") \
        < header.index("dataset")
    assert {"results.csv", "results.md", "runs.csv", "accuracy_vs_strength.png",
            "accuracy_vs_synthesize.multiplier.png", "class_histogram.png", "soft_label_gamma_curves.png"} <= written
    table = pd.read_csv(tmp_path / "fig" / "t" / "tables" / "results.csv")
    mix = table[(table.strategy == "diff-mix") & (table["synthesize.multiplier"] == 2.0)].iloc[0]
    assert mix.seeds == 2 and mix.test_acc_at_best_val == pytest.approx(70.5)  # mean of 70 and 71, in %
    assert mix.test_acc_at_best_val_std == pytest.approx(0.71)  # sample std (n - 1), as in the claims tables
    assert "kit-made" in mix.reference_source


def test_model_figures_off_leaves_out_every_figure_that_runs_a_model(finetuned, tmp_path, monkeypatch):
    """``analyze.model_figures: false``: a block's claim tables without the minutes of model figures."""
    import shutil

    from diffmix_utils import artifacts
    from diffmix_utils.analyze import figures, run_analysis, stage
    p, _ = finetuned
    drawn = []
    monkeypatch.setattr(figures, "progressive_translation", lambda m, *a: drawn.append("progressive") or [])
    monkeypatch.setattr(stage, "_model_figures", lambda p, img2img, *a: drawn.extend(["model"] * bool(img2img)) or [])
    for on in (False, True):
        q = {**p, "name": f"mf{on}", "workdir": str(tmp_path / "runs"), "sweep": {"synthesize.strategy": ["none", "diff-mix"]},
             "analyze": {**p["analyze"], "formats": ["png"], "figures_dir": str(tmp_path / "fig"), "model_figures": on}}
        q = params.resolve(q)
        if not artifacts.is_done(artifacts.finetune_dir(q)):  # the session's fine-tune, in this test's own store
            shutil.copytree(artifacts.finetune_dir(p), artifacts.finetune_dir(q))
        for m in params.expand_sweep(q):
            artifacts.write_json(artifacts.train_dir(m) / "result.json", {
                "val_acc": 0.5, "test_acc_at_best_val": 0.5, "test_acc_final": 0.5, "test_acc_best": 0.5})
            artifacts.mark_done(artifacts.train_dir(m))
        files = run_analysis(q)
        assert any(f.name == "results.csv" for f in files)
        assert drawn == ([] if not on else ["progressive", "model"]), (on, drawn)
