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

from .. import artifacts
from ..data import open_image, to_unit_tensor
from ..devices import pick_device
from ..models.translate import load_strategy_pipeline, render_batch
from ..strategies import get_strategy
from .oracles import load_or_train_oracle


def _render(p: dict, split: dict, pipe, strategy, have_tokens: bool, tasks: list[dict], batch_size: int) -> list:
    return [im for b in range(0, len(tasks), batch_size)
            for im in render_batch(p, split, pipe, strategy, have_tokens, tasks[b:b + batch_size])]


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
    split = artifacts.open_split(p)
    ft = artifacts.finetune_dir(p)
    if not artifacts.is_done(ft):
        raise FileNotFoundError(f"{ft} is not complete: fine-tune first")
    device, syn = pick_device(p["device"]), p["synthesize"]
    oracle = load_or_train_oracle(store / "oracles", len(split["classes"]), p["data"]["image_size"],
                                  **(oracle_options or {}))
    classes = split["classes"]
    sources, targets = _sources(split, num_sources, syn["seed"])
    real = [open_image(split, i) for i in sources]
    labels = [split["items"][i]["label"] for i in sources]
    kinds = [split["items"][i]["background"] for i in sources]
    out = {"chance": 1 / len(classes), "oracle": oracle.info, "num_sources": len(sources), "rows": []}

    mix = get_strategy("diff-mix")
    pipe, have_tokens = load_strategy_pipeline(p, mix, device)
    out["vae_ceiling"] = vae_ceiling(pipe, real, oracle, labels)
    out["oracle_on_real"] = float(np.mean([a == b for a, b in zip(oracle.predict(real)[0], labels)]))
    for s in strengths:
        tasks = [{"target_class": targets[i], "source_index": src, "strength": s, "seed": syn["seed"] * 100003 + i}
                 for i, src in enumerate(sources)]
        images = _render(p, split, pipe, mix, have_tokens, tasks, batch_size)
        pred, kind = oracle.predict(images)
        out["rows"].append({"strength": s,
                            "target_rate": float(np.mean([a == t for a, t in zip(pred, targets)])),
                            "source_rate": float(np.mean([a == c for a, c in zip(pred, labels)])),
                            "background_kept": float(np.mean([a == k for a, k in zip(kind, kinds)]))})

    del pipe
    gen_strategy = get_strategy("diff-gen")
    gen, have_tokens = load_strategy_pipeline(p, gen_strategy, device)
    wanted = [c for c in range(len(classes)) for _ in range(gen_per_class)]
    tasks = [{"target_class": c, "source_index": -1, "strength": 1.0, "seed": syn["seed"] * 7919 + k}
             for k, c in enumerate(wanted)]
    images = _render(p, split, gen, gen_strategy, have_tokens, tasks, batch_size)
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
