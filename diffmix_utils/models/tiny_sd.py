"""``bundled:tiny-sd``: a Stable-Diffusion-architecture model small enough for two CPU cores.

The same classes as SD-1.5 (CLIPTokenizer + CLIPTextModel, UNet2DConditionModel with
cross-attention, AutoencoderKL, SD-1.5's DDPM noise schedule) with small configs written here,
saved in the diffusers folder layout, so ``StableDiffusionImg2ImgPipeline.from_pretrained(folder)``
loads it and every kit stage runs the code path SD-1.5 runs. The tokenizer is the real CLIP BPE
vocabulary (``clip_vocab``), so ``<class_i>`` tokens and the reference's init token behave as on
SD-1.5.

If a pretrained copy ships in ``models/bundled/tiny-sd/`` it is used; otherwise ``materialize``
writes a randomly initialised one (seeded, identical everywhere) into a cache folder. Random
weights fine-tune and synthesize for real, but their images carry no learned content: pretraining
is a separate step (issue 4).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch

from ..atomic import atomic_dir
from .clip_vocab import ASSET_DIR as TOKENIZER_DIR, load_tokenizer

BUNDLED_DIR = Path(__file__).parent / "bundled" / "tiny-sd"
CONFIG_VERSION = 1

TEXT_CONFIG = dict(vocab_size=49408, hidden_size=64, intermediate_size=256, num_hidden_layers=4,
                   num_attention_heads=4, max_position_embeddings=77, projection_dim=64,
                   bos_token_id=49406, eos_token_id=49407, pad_token_id=49407)
UNET_CONFIG = dict(sample_size=16, in_channels=4, out_channels=4, layers_per_block=1,
                   block_out_channels=(32, 64, 128),
                   down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
                   up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
                   cross_attention_dim=64, attention_head_dim=8, norm_num_groups=16)
VAE_CONFIG = dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
                  block_out_channels=(32, 64, 64), norm_num_groups=16, sample_size=64,
                  down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3)
SCHEDULER_CONFIG = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                        beta_schedule="scaled_linear", clip_sample=False,
                        steps_offset=1, prediction_type="epsilon")


def build_pipeline(seed: int = 0):
    """A randomly initialised tiny ``StableDiffusionPipeline`` (no safety checker)."""
    from diffusers import AutoencoderKL, DDPMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    return StableDiffusionPipeline(
        vae=AutoencoderKL(**VAE_CONFIG), text_encoder=CLIPTextModel(CLIPTextConfig(**TEXT_CONFIG)),
        tokenizer=load_tokenizer(TOKENIZER_DIR), unet=UNet2DConditionModel(**UNET_CONFIG),
        scheduler=DDPMScheduler(**SCHEDULER_CONFIG), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)


def materialize(cache_dir: Path) -> Path:
    """The folder of the tiny model: the shipped pretrained one, else a random one in ``cache_dir``."""
    if (BUNDLED_DIR / "model_index.json").is_file():
        return BUNDLED_DIR
    folder = Path(cache_dir) / f"tiny-sd-random-v{CONFIG_VERSION}"
    warnings.warn("bundled:tiny-sd has no pretrained weights in this checkout; using a randomly "
                  f"initialised model ({folder}). Stages run for real, images carry no learned content.",
                  stacklevel=2)
    if (folder / "model_index.json").is_file():
        return folder
    with atomic_dir(folder) as tmp:
        build_pipeline().save_pretrained(tmp, safe_serialization=True)
    return folder
