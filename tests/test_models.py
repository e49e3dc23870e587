"""The offline base model: real CLIP tokenizer, tiny SD in the diffusers layout, stock loading."""
from __future__ import annotations

import torch

from diffmix_utils.models import base, tiny_sd
from diffmix_utils.models.clip_vocab import load_tokenizer


def test_committed_tokenizer_is_clip_bpe():
    tok = load_tokenizer()
    assert len(tok) == 49408
    assert tok("a photo of a bird").input_ids == [49406, 320, 1125, 539, 320, 3329, 49407]
    assert tok.convert_ids_to_tokens(42170) == "ktn"  # the reference's TI init id
    assert tok.add_tokens(["<class_3>"]) == 1 and tok.convert_tokens_to_ids("<class_3>") == 49408


def test_tiny_sd_loads_offline_with_stock_pipelines(tmp_path):
    from diffusers import StableDiffusionImg2ImgPipeline
    folder = base.resolve_base("bundled:tiny-sd", tmp_path)
    pipe = StableDiffusionImg2ImgPipeline.from_pretrained(folder, local_files_only=True, safety_checker=None)
    assert pipe.unet.config.cross_attention_dim == pipe.text_encoder.config.hidden_size
    pipe.set_progress_bar_config(disable=True)
    from PIL import Image
    out = pipe("a photo of a bird", image=Image.new("RGB", (64, 64)), strength=0.5,
               num_inference_steps=2, generator=torch.Generator().manual_seed(0)).images[0]
    assert out.size == (64, 64)


def test_the_kit_loads_pipelines_without_loading_bars_and_leaves_the_switches_as_they_were(tmp_path):
    import contextlib
    import io
    from diffusers.utils import logging as diffusers_logging
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        base.load_pipeline("bundled:tiny-sd", tmp_path, "img2img", "cpu")
    assert "Loading" not in err.getvalue() and diffusers_logging.is_progress_bar_enabled()


def test_random_tiny_sd_is_identical_everywhere():
    a, b = tiny_sd.build_pipeline(), tiny_sd.build_pipeline()
    assert all(torch.equal(x, y) for x, y in zip(a.unet.state_dict().values(), b.unet.state_dict().values()))


def test_missing_hub_model_says_how_to_get_it(tmp_path):
    import pytest
    with pytest.raises(OSError, match="is not in the local cache .*python -m diffmix_utils.fetch"):
        base.load_components("nobody/not-a-model-xyz", tmp_path)
