"""The notebooks' figures come from the package: each report function reads the stage's artifacts and
returns a figure that renders inline (PNG) without pyplot."""
from __future__ import annotations

import io

from PIL import Image

from diffmix_utils.finetune import report


def _png_size(shown) -> tuple[int, int]:
    data = shown._repr_png_()
    assert data[:4] == b"\x89PNG"
    return Image.open(io.BytesIO(data)).size


def test_the_finetune_report_shows_images_loss_and_generations(finetuned):
    p, _ = finetuned
    w, h = _png_size(report.training_images(p, per_class=2))
    assert h > w  # one row per class (4 classes), two images each
    assert _png_size(report.loss_curve(p))[0] > 300
    shown = report.real_vs_generated(p, images=2, max_classes=2)
    assert len(shown.figure.axes) == 2 * 4 and _png_size(shown)[0] > 300


def test_generations_follow_the_finetune_mode_and_one_shot_grids_have_no_empty_columns(tmp_path):
    from conftest import tiny_params
    from diffmix_utils.finetune import run_finetune
    p = tiny_params(tmp_path, data={"shots": 1}, finetune={"mode": "ti_only", "steps": 1},
                    synthesize={"strategy": "ti-mix"})
    run_finetune(p)  # no LoRA file: the figure uses the tokens alone
    shown = report.real_vs_generated(p, images=2, max_classes=2)
    assert len(shown.figure.axes) == 2 * (1 + 2) and _png_size(shown)[0] > 100  # 1 real, 2 generated
    one_shot = report.training_images(p, per_class=4).figure  # 4 classes, 1 shot each: side by side
    assert len(one_shot.axes) == 4 and [a.get_title() for a in one_shot.axes][1].endswith("<class_1>")


def test_the_synthesis_and_training_reports_read_a_real_sweep(finetuned):
    from diffmix_utils import filtering, synthesize, train
    from diffmix_utils.filtering import report as filter_report
    from diffmix_utils.synthesize import report as pools
    from diffmix_utils.train import report as training
    from conftest import tiny_params
    # seeds 7: no other test makes these pools or classifiers in the shared store (the fine-tune is shared)
    p = tiny_params(finetuned[0]["workdir"], seed=7, synthesize={"seed": 7}, filter={"scorer": "classifier", "fraction": 0.3},
                    sweep={"synthesize.strategy": ["none", "diff-mix"], "synthesize.strength": [0.5, 0.9]})
    assert "no classifier" in training.learning_curves(p)  # nothing trained yet: a sentence, not an error
    synthesize.run_stage(p)
    plan = pools.plan_table(p)
    assert (plan.written == plan.planned).all() and plan["images/s"].gt(0).all()
    balance = pools.balance(p)
    assert balance.figure.axes[0].get_title().endswith(f"{plan.planned.sum()} in all)")
    assert list(plan.strategy) == ["diff-mix", "diff-mix"] and list(plan.strength) == ["0.5", "0.9"]
    grid = pools.translations(p)  # sources, a real image of each target + one row per pool, six tasks
    assert len(grid.figure.axes) == 4 * 6 and _png_size(grid)[0] > 200
    assert grid.figure.axes[6].get_ylabel().startswith("target class")
    train.run_stage(p, before_filter=True)
    assert "no filter ran" in filter_report.filter_extremes(p)
    filtering.run_stage(p)  # the baseline scores both pools
    assert _png_size(filter_report.filter_extremes(p))[0] > 200
    train.run_stage(p)
    table = training.member_table(p)
    assert set(table.index) == {"baseline · seed 7", "diff-mix s=0.5 · seed 7", "diff-mix s=0.9 · seed 7"}
    assert table["test acc % (chosen on val)"].between(0, 100).all()
    assert table.loc["baseline · seed 7", "synthetic images"] == 0
    curves = training.learning_curves(p)
    assert len(curves.figure.axes[1].get_legend().get_texts()) == 3
    heat = training.per_class_accuracy(p)
    assert [t.get_text() for t in heat.figure.axes[0].get_yticklabels()] == list(table.index)
