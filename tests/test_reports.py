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


def test_generations_follow_the_finetune_mode(tmp_path):
    from conftest import tiny_params
    from diffmix_utils.finetune import run_finetune
    p = tiny_params(tmp_path, finetune={"mode": "ti_only", "steps": 1}, synthesize={"strategy": "ti-mix"})
    run_finetune(p)  # no LoRA file: the figure uses the tokens alone
    assert _png_size(report.real_vs_generated(p, images=1, max_classes=2))[0] > 100
