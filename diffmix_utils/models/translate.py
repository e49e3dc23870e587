"""How a strategy's pipeline is loaded and called: shared by the synthesis stage, the explorer,
the analysis figures made on demand and the toybirds fidelity kit, so all of them make the same
image for the same task.

- ``load_strategy_pipeline``: the base model (``models.base``) with the fine-tune a strategy needs
  (LoRA merged once, class tokens), in ``synthesize.dtype``; a fine-tune folder that is not
  complete, or lacks the file the strategy loads, stops with one error naming it;
- ``pipeline_call`` / ``render_batch``: one call for a batch of tasks of one strength, each with
  its own prompt and seeded generator (img2img sources resized to ``model.resolution`` and back);
- ``Translator``: one task at a time, for interactive use.
"""
from __future__ import annotations

import torch
from PIL import Image

from .. import artifacts
from ..data import open_image
from ..data.class_names import prompt_classes
from ..strategies import get_strategy
from ..devices import pick_device
from .base import apply_finetune, load_pipeline


def check_finetune(p: dict, strategy) -> None:
    """A strategy that loads the fine-tune needs its folder complete and holding the files it loads."""
    if not strategy.needs_finetune:
        return
    ft = artifacts.finetune_dir(p)
    if not artifacts.is_done(ft):
        raise FileNotFoundError(f"strategy {strategy.name!r} needs the fine-tuned model, but "
                                f"{ft} is not complete: run the finetune stage first")
    need = (["pytorch_lora_weights.safetensors"] if strategy.lora else []) + \
        (["learned_embeds.safetensors"] if strategy.tokens and p["finetune"]["mode"] != "lora_only" else [])
    missing = [name for name in need if not (ft / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{ft} is marked complete but has no {' and no '.join(missing)}, which strategy "
                                f"{strategy.name!r} loads: delete that folder and rerun the finetune stage")


DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def synthesis_dtype(p: dict, device: str) -> torch.dtype:
    """``synthesize.dtype``; auto is fp16 on CUDA (as the reference) and fp32 on CPU."""
    name = p["synthesize"]["dtype"]
    if name == "auto":
        name = "fp16" if device.startswith("cuda") else "fp32"
    return DTYPES[name]


def load_strategy_pipeline(p: dict, strategy, device: str, merge_lora: bool = True):
    """The pipeline a strategy needs (fine-tuned, tokens only, or base) and whether it has the tokens;
    ``merge_lora=False`` leaves the LoRA as a separate branch, as the reference runs it."""
    kind = "img2img" if strategy.img2img else "txt2img"
    if strategy.control:  # a control: no model at all
        return None, False
    check_finetune(p, strategy)
    pipe = load_pipeline(p["model"]["base"], artifacts.store(p), kind, device, dtype=synthesis_dtype(p, device),
                         revision=p["model"]["revision"])
    tokens = []
    if strategy.needs_finetune:
        ft = artifacts.finetune_dir(p)
        has_tokens = (ft / "learned_embeds.safetensors").is_file()
        tokens = apply_finetune(pipe, ft, lora=strategy.lora, embeddings=strategy.tokens and has_tokens)
        if strategy.lora and merge_lora:  # merge W + BA once: calls skip the LoRA branch (last bits differ)
            pipe.fuse_lora()
    save_memory(pipe, p["synthesize"], device)
    return pipe, bool(tokens)


def save_memory(pipe, syn: dict, device: str) -> None:
    """``synthesize.vae_slicing`` (decode one image at a time) and ``synthesize.cpu_offload`` (each model on
    the GPU only while it runs; CUDA only, so a CPU run ignores it)."""
    if syn["vae_slicing"]:
        pipe.vae.enable_slicing()
    if syn["cpu_offload"] and str(device).startswith("cuda"):
        pipe.enable_model_cpu_offload(device=device)


def pipeline_call(pipe, prompts: list[str], seeds: list[int], steps: int, guidance: float, resolution: int,
                  images: list | None = None, strength: float = 1.0) -> list:
    """The kit's one pipeline call: per-image prompts and seeded generators, one strength; img2img
    when ``images`` (already ``resolution`` px) are given, else text-to-image. PIL images out."""
    common = dict(prompt=prompts, num_inference_steps=steps, guidance_scale=guidance,
                  generator=[torch.Generator().manual_seed(s) for s in seeds])
    if images is None:
        return pipe(height=resolution, width=resolution, **common).images
    return pipe(image=images, strength=strength, **common).images


def render_batch(p: dict, split: dict, pipe, strategy, with_tokens: bool, batch: list[dict]) -> list:
    """One pipeline call for tasks that share a strength: each task's own prompt and seed; img2img
    sources are resized to ``model.resolution`` and the results back to the source size."""
    syn, res = p["synthesize"], p["model"]["resolution"]
    if strategy.control:
        return [control_image(strategy.control, split, t) for t in batch]
    superclass = p["finetune"]["superclass"] or split["superclass"]
    names = prompt_classes(p["data"], split["classes"])
    prompts = [strategy.prompt(t["target_class"], names, superclass, with_tokens) for t in batch]
    call = dict(steps=syn["steps"], guidance=syn["guidance"], resolution=res)
    if not strategy.img2img:
        return pipeline_call(pipe, prompts, [t["seed"] for t in batch], **call)
    sources = [open_image(split, t["source_index"]) for t in batch]
    images = pipeline_call(pipe, prompts, [t["seed"] for t in batch], **call,
                           images=[s.resize((res, res), resample=3) for s in sources], strength=batch[0]["strength"])
    return [im.resize(s.size, resample=3) for im, s in zip(images, sources)]


def control_image(control: str, split: dict, task: dict) -> Image.Image:
    """A control strategy's image for ``task``, the size of its source: uniform noise (``noise``) or
    the target class rendered by toybirds on the source's background (``oracle``)."""
    source = open_image(split, task["source_index"])
    if control == "noise":
        return noise_image(source.size, task["seed"])
    from ..data import toybirds
    background = split["items"][task["source_index"]]["background"]
    image, _ = toybirds.render_image(task["target_class"], "oracle", task["seed"] % 2**31, source.size[0], background)
    return image


def noise_image(size: tuple[int, int], seed: int) -> Image.Image:
    """Uniform RGB noise of ``size``, a pure function of ``seed`` (the noise-mix control's image)."""
    import numpy as np
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


class Translator:
    """One translation at a time with the synthesis stage's pipeline, prompt and per-image seeding
    (the explorer widget and the analysis figures made on demand use it). Pipelines are loaded once
    per kind (fine-tuned, tokens only, base) and kept."""


    def __init__(self, p: dict):
        self.p = p
        self.split = artifacts.open_split(p)
        self.device = pick_device(p["device"])
        self._pipes: dict[tuple, tuple] = {}

    def _pipe(self, strategy):
        key = (strategy.lora, strategy.tokens, strategy.img2img)
        if key not in self._pipes:
            self._pipes[key] = load_strategy_pipeline(self.p, strategy, self.device)
        return self._pipes[key]

    def translate(self, source_index: int, target: int, strength: float, strategy: str = "diff-mix",
                  seed: int = 0) -> tuple[Image.Image, Image.Image]:
        """(source image, result) for one task; aug strategies ignore ``target`` (target = source)."""
        strat = get_strategy(strategy)
        source = open_image(self.split, source_index)
        label = self.split["items"][source_index]["label"]
        task = {"target_class": target if strat.inter_class else label, "strength": strength, "seed": seed,
                "source_index": source_index if strat.img2img else -1}
        pipe, with_tokens = self._pipe(strat)
        out = render_batch(self.p, self.split, pipe, strat, with_tokens, [task])[0]
        return source, out.resize(source.size, resample=3)
