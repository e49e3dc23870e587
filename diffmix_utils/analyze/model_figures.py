"""Figures that run the run's own models on demand: cross-attention maps of the class token per
denoising step, the fine-tuning comparison grid (real / real-gen / each fine-tune mode), and the
t-SNE of classifier features for real, CutMix, Mixup and Diff-Mix samples between two classes."""
from __future__ import annotations

import copy
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from .. import artifacts  # noqa: E402
from ..data import open_image  # noqa: E402
from ..data.class_names import prompt_classes  # noqa: E402
from ..models.translate import Translator, load_strategy_pipeline, render_batch  # noqa: E402
from ..strategies import finetuned_generation, get_strategy  # noqa: E402
from ..labels import soft_label_of  # noqa: E402
from .figures import save  # noqa: E402

ATTENTION_LAYER = "up_blocks.2.attentions.1.transformer_blocks.0.attn2"  # the reference's hook (the reference's visualization code)


class _CaptureCrossAttention:
    """Attention processor that records the head-averaged attention of the conditional half of the
    classifier-free-guidance batch, then computes the layer's output with diffusers' own processor."""

    def __init__(self, maps: list):
        from diffusers.models.attention_processor import AttnProcessor
        self.maps, self.inner = maps, AttnProcessor()

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kw):
        with torch.no_grad():
            q = attn.head_to_batch_dim(attn.to_q(hidden_states))
            k = attn.head_to_batch_dim(attn.to_k(encoder_hidden_states))
            probs = attn.get_attention_scores(q, k, None)  # (batch * heads, pixels, tokens)
            probs = probs.reshape(hidden_states.shape[0], attn.heads, *probs.shape[1:]).mean(1)
            self.maps.append(probs[probs.shape[0] // 2:].float().cpu())  # the conditional half
        return self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, temb)


def _layer(unet) -> tuple[str, torch.nn.Module]:
    named = dict(unet.named_modules())
    if ATTENTION_LAYER in named:
        return ATTENTION_LAYER, named[ATTENTION_LAYER]
    last = [n for n in named if n.startswith("up_blocks") and n.endswith("attn2")][-1]
    return last, named[last]


def cross_attention_maps(p: dict, base: Path, formats: list[str], dpi: int, strength: float = 0.5,
                         rows: int = 5) -> list[Path]:
    """One held-out source translated toward the next class at ``strength``: per denoising step (rows)
    the attention of every prompt token (columns) at the reference's UNet layer."""
    translator = Translator(p)
    split, strategy = translator.split, get_strategy(p["synthesize"]["strategy"])
    pipe, with_tokens = load_strategy_pipeline(p, strategy, translator.device)
    name, layer = _layer(pipe.unet)
    maps: list[torch.Tensor] = []
    original = layer.processor
    layer.set_processor(_CaptureCrossAttention(maps))
    source = split["test"][0]
    label = split["items"][source]["label"]
    target = (label + 1) % len(split["classes"]) if strategy.inter_class else label
    task = {"target_class": target, "strength": strength, "seed": 0,
            "source_index": source if strategy.img2img else -1}
    try:
        result = render_batch(p, split, pipe, strategy, with_tokens, [task])[0]
    finally:
        layer.set_processor(original)
    superclass = p["finetune"]["superclass"] or split["superclass"]
    prompt = strategy.prompt(target, prompt_classes(p["data"], split["classes"]), superclass, with_tokens)
    tokens = [t.replace("</w>", "") for t in pipe.tokenizer.tokenize(prompt)]
    steps = np.unique(np.linspace(0, len(maps) - 1, min(rows, len(maps))).round().astype(int))
    side = int(round(maps[0].shape[1] ** 0.5))
    fig, axes = plt.subplots(len(steps), len(tokens) + 2, figsize=(1.1 * (len(tokens) + 2), 1.15 * len(steps)),
                             squeeze=False)
    for r, step in enumerate(steps):
        axes[r, 0].imshow(open_image(split, source))
        axes[r, 1].imshow(result)
        axes[r, 0].set_ylabel(f"step {step + 1}/{len(maps)}", fontsize=6)
        top = float(maps[step][0, :, 1:len(tokens) + 1].max())  # one colour scale per row: tokens compare
        for c, token in enumerate(tokens):  # token 0 of the encoding is the start token
            heat = maps[step][0, :, c + 1].reshape(side, side).numpy()
            axes[r, c + 2].imshow(heat, cmap="jet", vmin=0, vmax=top)
            if r == 0:
                axes[r, c + 2].set_title(token, fontsize=6)
    axes[0, 0].set_title("source", fontsize=6)
    axes[0, 1].set_title("result", fontsize=6)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"cross-attention at {name} ({side}×{side}), {strategy.name} s={strength:g}, "
                 f"class {label}→{target}; one colour scale per row", fontsize=7)
    return save(fig, base, formats, dpi)


FINETUNE_ROWS = {"joint": "TI+LoRA", "ti_then_lora": "TI→LoRA", "lora_only": "LoRA only (DB)", "ti_only": "TI only"}


def finetune_comparison(p: dict, base: Path, formats: list[str], dpi: int, images: int = 6) -> list[Path]:
    """Row 0: real training images of one class; then text-to-image generations of that class with
    the base model (class name, Real-Gen) and with every fine-tune mode whose fine-tune exists."""
    translator = Translator(p)
    split, device = translator.split, translator.device
    target = split["items"][split["train"][0]]["label"]
    reals = [i for i in split["train"] if split["items"][i]["label"] == target][:images]
    tasks = [{"target_class": target, "strength": 1.0, "seed": k, "source_index": -1} for k in range(images)]
    rows = [("real", [open_image(split, i) for i in reals])]
    pipe, _ = load_strategy_pipeline(p, get_strategy("real-gen"), device)
    rows.append(("Real-Gen (base)", render_batch(p, split, pipe, get_strategy("real-gen"), False, tasks)))
    for mode, label in FINETUNE_ROWS.items():
        m = copy.deepcopy(p)
        m["finetune"]["mode"] = mode
        if not artifacts.is_done(artifacts.finetune_dir(m)):
            continue
        gen = finetuned_generation(mode)
        pipe, with_tokens = load_strategy_pipeline(m, gen, device)
        rows.append((label, render_batch(m, split, pipe, gen, with_tokens, tasks)))
    fig, axes = plt.subplots(len(rows), images, figsize=(1.2 * images, 1.3 * len(rows)), squeeze=False)
    for r, (label, pictures) in enumerate(rows):
        for c in range(images):
            ax = axes[r, c]
            if c < len(pictures):
                ax.imshow(pictures[c])
            elif c:
                ax.axis("off")  # fewer real images than columns (1-shot): no empty frames
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, fontsize=7)
    fig.suptitle(f"class {target} ({split['classes'][target]}): real images and generations", fontsize=8)
    return save(fig, base, formats, dpi)


@torch.no_grad()
def tsne_features(p: dict, base: Path, formats: list[str], dpi: int, per_kind: int = 30) -> list[Path]:
    """t-SNE of the run's baseline classifier's features (pre-logits) for real images of two classes
    and for CutMix, Mixup and Diff-Mix samples between them, coloured by the weight of the second
    class in the sample's label (Diff-Mix: the training soft label, ``labels.soft_label_of``); the reference used CLIP
    features and perplexity 5."""
    from sklearn.manifold import TSNE
    from timm.data.mixup import cutmix_bbox_and_lam

    from ..models.classifiers import classifier_transforms, load_trained_classifier
    from ..params import baseline_of
    model, size = load_trained_classifier(artifacts.train_dir(baseline_of(p)))
    _, tf = classifier_transforms(size)
    translator = Translator(p)
    split = translator.split
    a, b = 0, 1
    pool = {c: [i for i in split["train"] if split["items"][i]["label"] == c] for c in (a, b)}
    rng = np.random.default_rng(0)
    x = {c: torch.stack([tf(open_image(split, i)) for i in pool[c]]) for c in (a, b)}
    samples = [("real", x[a][k], 0.0) for k in range(min(per_kind, len(pool[a])))]
    samples += [("real", x[b][k], 1.0) for k in range(min(per_kind, len(pool[b])))]
    for _ in range(per_kind):
        xa, xb = x[a][rng.integers(len(pool[a]))], x[b][rng.integers(len(pool[b]))]
        lam = float(rng.uniform())
        samples.append(("Mixup", lam * xa + (1 - lam) * xb, 1 - lam))
        (yl, yh, xl, xh), lam_c = cutmix_bbox_and_lam(xa[None].shape, lam, correct_lam=True)
        mixed = xa.clone()
        mixed[:, yl:yh, xl:xh] = xb[:, yl:yh, xl:xh]
        samples.append(("CutMix", mixed, 1 - lam_c))
    strategy = p["synthesize"]["strategy"] if p["synthesize"]["strategy"].endswith("-mix") else "diff-mix"
    for k in range(per_kind):
        src, tgt = (a, b) if k % 2 == 0 else (b, a)
        s = float(rng.uniform(max(0.1, 1 / p["synthesize"]["steps"]), 1.0))  # at least one denoising step
        _, image = translator.translate(pool[src][rng.integers(len(pool[src]))], tgt, s, strategy, seed=k)
        label = soft_label_of(p["train"], src, tgt, s, len(split["classes"]))
        samples.append(("Diff-Mix", tf(image), float(label[b])))
    feats = model.forward_head(model.forward_features(torch.stack([t for _, t, _ in samples])), pre_logits=True)
    xy = TSNE(perplexity=min(5, len(samples) - 1), init="pca", random_state=0).fit_transform(feats.numpy())
    fig, ax = plt.subplots(figsize=(4.8, 4.0))
    for kind, marker in (("real", "o"), ("Mixup", "^"), ("CutMix", "s"), ("Diff-Mix", "*")):
        idx = [i for i, (k, _, _) in enumerate(samples) if k == kind]
        sc = ax.scatter(xy[idx, 0], xy[idx, 1], c=[samples[i][2] for i in idx], cmap="coolwarm_r", vmin=0, vmax=1,
                        marker=marker, s=40 if kind == "Diff-Mix" else 22, edgecolors="k", linewidths=0.3,
                        label=kind)
    fig.colorbar(sc, ax=ax, label=f"label weight of class {b} ({split['classes'][b]})")
    ax.legend(fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"t-SNE of baseline-classifier features: class {a} vs {b}", fontsize=8)
    return save(fig, base, formats, dpi)
