"""Does Diff-Mix work in miniature? Score translations of held-out toybirds with the oracles.

For each strength s, held-out test images of class i are translated toward a different class j
with the fine-tuned model (diff-mix prompt); the oracle then says whether the output shows the
target class, still shows the source class, and kept the source's background kind. Text-to-image
(diff-gen) outputs are scored for the prompted class. The ceiling is the foreground oracle's
accuracy on VAE reconstructions of the same real images: no translation can look more like a
class than the autoencoder lets it.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from . import artifacts
from .data import ensure_split, open_image, to_unit_tensor
from .models.base import apply_finetune, load_pipeline, pick_device
from .oracles import load_or_train_oracle
from .strategies import get_strategy


def _apply_finetune(pipe, ft) -> bool:
    """Load whatever the fine-tune folder holds (LoRA and/or tokens); True if tokens were loaded."""
    return bool(apply_finetune(pipe, ft, lora=(ft / "pytorch_lora_weights.safetensors").is_file(),
                               embeddings=(ft / "learned_embeds.safetensors").is_file()))


def _sources(split: dict, n: int, seed: int) -> tuple[list[int], list[int]]:
    rng = np.random.default_rng([seed, 11])
    test = [split["test"][i] for i in rng.permutation(len(split["test"]))[:n]]
    classes = len(split["classes"])
    labels = [split["items"][i]["label"] for i in test]
    targets = [int((c + rng.integers(1, classes)) % classes) for c in labels]  # always another class
    return test, targets


@torch.no_grad()
def vae_ceiling(pipe, images, oracle, labels: list[int]) -> float:
    x = to_unit_tensor(images, pipe.vae.config.sample_size, Image.BICUBIC).to(pipe.device)
    rec = pipe.vae.decode(pipe.vae.encode(x).latent_dist.mode()).sample.clamp(-1, 1)
    pil = [pipe.image_processor.postprocess(r[None], output_type="pil")[0] for r in rec]
    pred, _ = oracle.predict(pil)
    return float(np.mean([a == b for a, b in zip(pred, labels)]))


def measure(p: dict, strengths: list[float], num_sources: int = 100, gen_per_class: int = 12,
            batch_size: int = 25, oracle_options: dict | None = None) -> dict:
    """Rates per strength, the text-to-image class accuracy and the VAE ceiling."""
    store = artifacts.store(p)
    split = ensure_split(artifacts.split_path(p), p["data"], store / "datasets")
    ft = artifacts.finetune_dir(p)
    if not artifacts.is_done(ft):
        raise FileNotFoundError(f"{ft} is not complete: fine-tune first")
    device, res, syn = pick_device(p["device"]), p["model"]["resolution"], p["synthesize"]
    oracle = load_or_train_oracle(store / "oracles", len(split["classes"]), p["data"]["image_size"],
                                  **(oracle_options or {}))
    classes, superclass = split["classes"], p["finetune"]["superclass"] or split["superclass"]
    sources, targets = _sources(split, num_sources, syn["seed"])
    real = [open_image(split, i) for i in sources]
    labels = [split["items"][i]["label"] for i in sources]
    kinds = [split["items"][i]["background"] for i in sources]
    out = {"chance": 1 / len(classes), "oracle": oracle.info, "num_sources": len(sources), "rows": []}

    pipe = load_pipeline(p["model"]["base"], store, "img2img", device)
    have_tokens = _apply_finetune(pipe, ft)
    out["vae_ceiling"] = vae_ceiling(pipe, real, oracle, labels)
    out["oracle_on_real"] = float(np.mean([a == b for a, b in zip(oracle.predict(real)[0], labels)]))
    mix = get_strategy("diff-mix")
    for s in strengths:
        images = []
        for b in range(0, len(sources), batch_size):
            idx = range(b, min(b + batch_size, len(sources)))
            images += pipe(prompt=[mix.prompt(targets[i], classes, superclass, have_tokens) for i in idx],
                           image=[real[i].resize((res, res), resample=3) for i in idx], strength=s,
                           num_inference_steps=syn["steps"], guidance_scale=syn["guidance"],
                           generator=[torch.Generator().manual_seed(syn["seed"] * 100003 + i) for i in idx]).images
        pred, kind = oracle.predict(images)
        out["rows"].append({"strength": s,
                            "target_rate": float(np.mean([a == t for a, t in zip(pred, targets)])),
                            "source_rate": float(np.mean([a == c for a, c in zip(pred, labels)])),
                            "background_kept": float(np.mean([a == k for a, k in zip(kind, kinds)]))})

    del pipe
    gen = load_pipeline(p["model"]["base"], store, "txt2img", device)
    _apply_finetune(gen, ft)
    wanted = [c for c in range(len(classes)) for _ in range(gen_per_class)]
    images = []
    for b in range(0, len(wanted), batch_size):
        chunk = wanted[b:b + batch_size]
        images += gen(prompt=[get_strategy("diff-gen").prompt(c, classes, superclass, have_tokens) for c in chunk],
                      height=res, width=res, num_inference_steps=syn["steps"], guidance_scale=syn["guidance"],
                      generator=[torch.Generator().manual_seed(syn["seed"] * 7919 + b + j)
                                 for j in range(len(chunk))]).images
    out["text_to_image_acc"] = float(np.mean([a == c for a, c in zip(oracle.predict(images)[0], wanted)]))
    return out


def format_report(r: dict) -> str:
    ch = r["chance"]
    lines = [f"oracle (held-out clean renders): foreground {r['oracle']['foreground_acc']:.3f}, "
             f"background {r['oracle']['background_acc']:.3f}",
             f"foreground oracle on the {r['num_sources']} real sources: {r['oracle_on_real']:.3f}; "
             f"on their VAE reconstructions (the ceiling): {r['vae_ceiling']:.3f}",
             f"chance = {ch:.3f}", "",
             "|   s | target rate | x chance | source rate | background kept |",
             "|-----|-------------|----------|-------------|-----------------|"]
    lines += [f"| {row['strength']:.1f} | {row['target_rate']:11.3f} | {row['target_rate'] / ch:8.2f} | "
              f"{row['source_rate']:11.3f} | {row['background_kept']:15.3f} |" for row in r["rows"]]
    lines += ["", f"text-to-image (diff-gen) prompted-class rate: {r['text_to_image_acc']:.3f} "
              f"= {r['text_to_image_acc'] / ch:.2f} x chance"]
    return "\n".join(lines)
