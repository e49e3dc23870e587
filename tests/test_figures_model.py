"""Figures that run the models: cross-attention capture, fine-tune comparison grid, t-SNE."""
from __future__ import annotations

import torch

from diffmix_utils import params
from diffmix_utils.analyze.model_figures import _CaptureCrossAttention, _layer, cross_attention_maps, \
    finetune_comparison, tsne_features
from diffmix_utils.models.base import load_pipeline
from diffmix_utils.train import run_training


def test_capture_records_one_normalised_map_per_denoising_step(tmp_path):
    pipe = load_pipeline("bundled:tiny-sd", tmp_path, "txt2img", "cpu")
    name, layer = _layer(pipe.unet)
    assert name == "up_blocks.2.attentions.1.transformer_blocks.0.attn2"
    maps = []
    layer.set_processor(_CaptureCrossAttention(maps))
    pipe("a photo of a bird", num_inference_steps=3, guidance_scale=7.5, height=64, width=64,
         generator=torch.Generator().manual_seed(0))
    assert len(maps) == 3 and maps[0].shape[0] == 1 and maps[0].shape[2] == 77  # the conditional half only
    assert torch.allclose(maps[0].sum(-1), torch.ones(1, maps[0].shape[1]), atol=1e-4)


def test_model_figures_are_drawn(finetuned, tmp_path):
    p, _ = finetuned
    member = params.expand_sweep(p)[0]
    baseline = params.baseline_of(member)
    run_training(baseline)
    out = [*cross_attention_maps(member, tmp_path / "xattn", ["png"], 60),
           *finetune_comparison(member, tmp_path / "compare", ["png"], 60, images=2),
           *tsne_features(member, tmp_path / "tsne", ["png"], 60, per_kind=4)]
    assert all(f.is_file() and f.stat().st_size > 1000 for f in out) and len(out) == 3


def test_the_comparison_leaves_no_empty_frames_where_a_class_has_fewer_real_images(finetuned, monkeypatch):
    from diffmix_utils import artifacts
    from diffmix_utils.analyze import model_figures
    member = params.expand_sweep(finetuned[0])[0]
    split = artifacts.open_split(member)
    target = split["items"][split["train"][0]]["label"]
    reals = sum(split["items"][i]["label"] == target for i in split["train"])
    drawn = []
    monkeypatch.setattr(model_figures, "save", lambda fig, *args: drawn.append(fig) or [])
    finetune_comparison(member, None, [], 60, images=reals + 1)
    real_row, generated = drawn[0].axes[:reals + 1], drawn[0].axes[reals + 1:2 * (reals + 1)]
    assert [ax.axison for ax in real_row] == [True] * reals + [False]
    assert all(ax.axison for ax in generated)
