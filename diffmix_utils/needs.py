"""What a parameter file needs besides compute, for ``run --plan``: disk and accelerator memory.

Disk is counted from the planned artifacts: the synthetic pools (PNG at ``model.resolution``, as
``costs.pool_bytes``), each fine-tune's LoRA (its parameter count from the UNet's attention layers at
``finetune.lora_rank``) and each classifier's weights and training state. Memory is a floor: the
weights and optimizer state each stage holds on the device, counted on meta tensors (no weights, no
download). Activations come on top and depend on the batch and the GPU; ``benchmarks/gpu_check.py``
measures the peaks on the GPU at hand. No GPU figure has been measured by the kit yet.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from . import artifacts, costs, jobs

FP32, FP16 = 4, 2


@lru_cache(maxsize=8)
def _diffusion_parameters(unet_json: str, vae_json: str, text_json: str, rank: int) -> dict[str, int]:
    """Parameter counts of the UNet, VAE, text encoder, and the LoRA the fine-tune adds at ``rank``."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(json.loads(unet_json))
        vae = AutoencoderKL.from_config(json.loads(vae_json))
        text = CLIPTextModel(CLIPTextConfig(**json.loads(text_json)))
    lora = sum(rank * (m.in_features + m.out_features) for name, m in unet.named_modules()
               if isinstance(m, torch.nn.Linear) and name.split(".")[-1] in ("to_q", "to_k", "to_v", "0")
               and ".attn" in name)
    count = lambda model: sum(t.numel() for t in model.parameters())  # noqa: E731
    return {"unet": count(unet), "vae": count(vae), "text": count(text), "lora": lora}


def _text_config(base: str) -> dict:
    from .models import sd15_config, tiny_sd
    folder = tiny_sd.BUNDLED_DIR if base == "bundled:tiny-sd" else Path(base).expanduser()
    file = folder / "text_encoder" / "config.json"
    if file.is_file():
        keep = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "max_position_embeddings", "projection_dim", "hidden_act")
        return {k: v for k, v in json.loads(file.read_text()).items() if k in keep}
    return dict(sd15_config.TEXT)


def diffusion_parameters(p: dict) -> dict[str, int]:
    unet, vae, _ = costs._configs(p["model"]["base"], p["model"]["revision"])
    return _diffusion_parameters(json.dumps(unet, sort_keys=True, default=list),
                                 json.dumps(vae, sort_keys=True, default=list),
                                 json.dumps(_text_config(p["model"]["base"]), sort_keys=True),
                                 p["finetune"]["lora_rank"])


@lru_cache(maxsize=32)
def classifier_parameters(backbone: str, num_classes: int, kwargs_json: str = "{}", weights: str | None = None) -> int:
    import torch

    from .models.classifiers import create_classifier
    with torch.device("meta"):
        model = create_classifier(backbone, num_classes, False, json.loads(kwargs_json), weights)
    return sum(t.numel() for t in model.parameters())


def _classifier(m: dict) -> int:
    tr = m["train"]
    return classifier_parameters(tr["backbone"], max(costs.split_sizes(m)[0], 2),
                                 json.dumps(tr["model_kwargs"], sort_keys=True), tr["weights"])


def _size(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n / 1e3:,.0f} kB"


def _memory(n: float) -> str:
    return f"{n / 2 ** 30:,.1f} GiB" if n >= 2 ** 30 else f"{n / 2 ** 20:,.0f} MiB"


def lines(p: dict, by_stage: dict[str, list[dict]] | None = None) -> list[str]:
    """The ``needs:`` lines of ``--plan``: disk for what is not on disk yet, and memory floors per stage.
    ``by_stage``: each stage's jobs (members), from the one job graph ``--plan`` builds."""
    by_stage = by_stage or {s: jobs.stage_jobs(p, s) for s in ("finetune", "synthesize", "train")}
    _, pools = costs.pool_bytes(p, by_stage["synthesize"])
    finetunes = [m for m in by_stage["finetune"] if not artifacts.is_done(artifacts.finetune_dir(m))]
    classifiers = [m for m in by_stage["train"] if not artifacts.is_done(artifacts.train_dir(m))]
    diff = diffusion_parameters(p)
    lora_bytes = diff["lora"] * FP32 * len(finetunes)
    weights = sum(_classifier(m) for m in classifiers) * FP32 * 3  # weights, and the state: weights + momentum
    frozen = diff["unet"] + diff["vae"] + diff["text"]
    largest = max((_classifier(m) for m in by_stage["train"]), default=0)
    return [f"needs: disk ≈{_size(pools + lora_bytes + weights)} in {p['workdir']} (pools {_size(pools)} at "
            f"{p['model']['resolution']} px, {len(finetunes)} fine-tune(s) {_size(lora_bytes)}, {len(classifiers)} "
            f"classifier(s) {_size(weights)}), besides the base model in the hub cache",
            f"  accelerator memory, at least: fine-tune {_memory(frozen * FP32 + diff['lora'] * FP32 * 4)}, "
            f"synthesis {_memory(frozen * (FP16 if p['device'] != 'cpu' else FP32))}, classifier "
            f"{_memory(largest * FP32 * 4)} (weights and optimizer state; activations come on top: "
            "python benchmarks/gpu_check.py measures the peaks on your GPU)"]
