"""Load the base text-to-image model: ``bundled:<name>``, a hub id, or a local diffusers folder.

Nothing is downloaded at run time: a hub id is read from the local Hugging Face cache
(``local_files_only``), and a missing one gets an error saying how to make it available.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from ..artifacts.files import check_safetensors, rebuild_hint
from . import tiny_sd


def resolve_base(base: str, cache_dir: Path) -> str:
    """A path or hub id that ``from_pretrained`` can read offline."""
    if base.startswith("bundled:"):
        name = base.split(":", 1)[1]
        if name != "tiny-sd":
            raise ValueError(f"model.base = {base!r} is unknown; bundled models: bundled:tiny-sd")
        return str(tiny_sd.materialize(Path(cache_dir) / "models"))
    return str(Path(base).expanduser()) if Path(base).expanduser().is_dir() else base


@contextlib.contextmanager
def _no_loading_bars():
    """Without diffusers' "Loading pipeline components" and transformers' "Loading weights" bars (the
    libraries' documented switches, restored after): a model is read from disk in seconds, and the
    stage's own bar says what is running."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging
    enabled = [lib for lib in (diffusers_logging, transformers_logging) if lib.is_progress_bar_enabled()]
    for lib in enabled:
        lib.disable_progress_bar()
    try:
        yield
    finally:
        for lib in enabled:
            lib.enable_progress_bar()


def _from_pretrained(cls, source: str, revision: str | None = None, **kwargs):
    if revision and not Path(source).is_dir():  # a hub id pinned to a commit or tag
        kwargs["revision"] = revision
    try:
        with _no_loading_bars():
            return cls.from_pretrained(source, local_files_only=True, **kwargs)
    except (OSError, EnvironmentError) as exc:
        at = f" at revision {revision!r}" if revision and not Path(source).is_dir() else ""
        raise OSError(f"model.base {source!r}{at} is not in the local cache ({str(exc).splitlines()[0]}); on a "
                      "machine with internet run python -m diffmix_utils.fetch PARAMS_FILE [--to DIR] and copy "
                      "the caches here (HF_HUB_CACHE), or set model.base to a folder that holds it") from None


def load_components(base: str, cache_dir: Path, revision: str | None = None) -> dict:
    """Tokenizer, text encoder, VAE, UNet and the DDPM training scheduler of the base model."""
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    src = resolve_base(base, cache_dir)
    return {
        "tokenizer": _from_pretrained(CLIPTokenizer, src, revision, subfolder="tokenizer"),
        # fp32 for training whatever the checkpoint's dtype (the bundled model ships in fp16)
        "text_encoder": _from_pretrained(CLIPTextModel, src, revision, subfolder="text_encoder", dtype=torch.float32),
        "vae": _from_pretrained(AutoencoderKL, src, revision, subfolder="vae", dtype=torch.float32),
        "unet": _from_pretrained(UNet2DConditionModel, src, revision, subfolder="unet", dtype=torch.float32),
        "noise_scheduler": _from_pretrained(DDPMScheduler, src, revision, subfolder="scheduler"),
    }


def load_pipeline(base: str, cache_dir: Path, kind: str, device: str, dtype=torch.float32,
                  revision: str | None = None):
    """``kind``: 'img2img' or 'txt2img', with the DPM-Solver++ multistep sampler (reference B.2)."""
    from diffusers import (DPMSolverMultistepScheduler, StableDiffusionImg2ImgPipeline,
                           StableDiffusionPipeline)

    cls = {"img2img": StableDiffusionImg2ImgPipeline, "txt2img": StableDiffusionPipeline}[kind]
    pipe = _from_pretrained(cls, resolve_base(base, cache_dir), revision, dtype=dtype,
                            safety_checker=None, requires_safety_checker=False)
    pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def apply_finetune(pipe, folder: Path, lora: bool, embeddings: bool) -> list[str]:
    """Load a fine-tune folder's LoRA and/or class tokens into ``pipe`` with the stock loaders.

    Checks that LoRA layers were really attached: diffusers silently applies nothing to a LoRA file
    in the legacy attention-processor layout (docs/real-models.md). Returns the tokens loaded.
    """
    from safetensors.torch import load_file

    folder = Path(folder)
    rebuild = rebuild_hint(folder, "finetune")
    for name, used in (("learned_embeds.safetensors", embeddings), ("pytorch_lora_weights.safetensors", lora)):
        if used:
            check_safetensors(folder / name, rebuild)
    tokens: list[str] = []
    if embeddings:
        state = load_file(str(folder / "learned_embeds.safetensors"))
        tokens = list(state)
        # the rows load_textual_inversion fills, made here without transformers' mean-resizing notice
        # (its own resize to the same size is then a no-op); the loaded vectors replace them
        pipe.text_encoder.resize_token_embeddings(len(pipe.tokenizer) + len(tokens), mean_resizing=False)
        pipe.load_textual_inversion(list(state.values()), token=tokens)
    if lora:
        # = pipe.load_lora_weights(folder) for a UNet-only LoRA (the same weights, checked in the
        # tests), without its notice that the file has no text-encoder keys
        pipe.unet.load_lora_adapter(str(folder), prefix="unet", weight_name="pytorch_lora_weights.safetensors")
        if not any("lora" in name for name, _ in pipe.unet.named_modules()):
            raise RuntimeError(f"{folder}/pytorch_lora_weights.safetensors attached no LoRA layer "
                               "to the UNet (legacy key layout?); convert it first")
    return tokens
