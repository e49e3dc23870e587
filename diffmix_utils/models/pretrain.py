"""Pretrain ``bundled:tiny-sd`` on kit-rendered generic birds: first the VAE, then UNet + text encoder.

    python -m diffmix_utils.models.pretrain OUT_DIR [--vae-steps 600] [--unet-steps 1500] [--batch 32]
        [--init-from MODEL_DIR] [--lr 5e-4] [--lr-schedule constant|cosine] [--ema 0.999]

Training pairs are rendered on the fly: birds with random body and head colours from a palette
wider than toybirds' classes, either tail, on any background, captioned with those attributes in
words ("a photo of a purple bird with a black head and a fan tail on sand"); 10 % of captions are
dropped for classifier-free guidance. Class identities (``<class_i>``) are not taught here:
learning them is the fine-tune stage's job.

Phase 1 trains the AutoencoderKL (MSE + a small KL) and sets ``scaling_factor`` to 1/std of its
latents; phase 2 trains the UNet and the text encoder with the epsilon-prediction loss. The result
is saved in the diffusers folder layout (UNet and VAE in fp16, the text encoder in fp32). Progress resumes from
``OUT_DIR/.pretrain-state.pt`` (``weights_only`` load: weights, optimizer and EMA) and the log goes to
``OUT_DIR/pretrain_log.jsonl``.

``--init-from`` warm-starts every component from a saved model (a continuation round; with
``--vae-steps 0`` the VAE and its latent scaling are kept). ``--lr-schedule cosine`` decays the UNet
learning rate to zero over the UNet steps; ``--ema D`` saves an exponential moving average (decay D)
of the UNet and text-encoder weights instead of the last iterate.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFilter
from tqdm.auto import tqdm

from ..data import to_unit_tensor, toybirds
from ..devices import torch_threads
from . import tiny_sd

PALETTE = {"red": (200, 40, 40), "blue": (40, 80, 200), "yellow": (230, 200, 40), "green": (40, 160, 60),
           "purple": (130, 50, 170), "orange": (240, 130, 30), "pink": (240, 130, 180),
           "brown": (120, 80, 40), "grey": (130, 130, 130), "cyan": (40, 190, 200)}
HEADS = {"white": (245, 245, 245), "black": (25, 25, 25), "red": (200, 30, 30), "yellow": (235, 210, 40)}


def render_pair(rng: np.random.Generator, size: int) -> tuple[Image.Image, str]:
    """One generic bird and its caption."""
    body, head = rng.choice(list(PALETTE)), rng.choice(list(HEADS))
    tail = rng.choice(toybirds.TAIL)
    kind = rng.choice(list(toybirds.BACKGROUNDS))
    big = size * 4
    img = toybirds.render_background(rng, kind, big)
    toybirds.draw_bird(ImageDraw.Draw(img), PALETTE[body], HEADS[head], tail, big * rng.uniform(0.35, 0.65),
                       big * rng.uniform(0.4, 0.6), big * rng.uniform(0.14, 0.2), int(rng.choice([-1, 1])))
    img = img.filter(ImageFilter.GaussianBlur(4 * 0.3)).resize((size, size), Image.LANCZOS)
    return img, f"a photo of a {body} bird with a {head} head and a {tail.lower()} tail on {kind}"


def batch(rng: np.random.Generator, n: int, size: int) -> tuple[torch.Tensor, list[str]]:
    pairs = [render_pair(rng, size) for _ in range(n)]
    return to_unit_tensor([im for im, _ in pairs]), [c for _, c in pairs]


def _warm_start(pipe, folder: Path) -> None:
    """Load the weights (and the VAE's latent scaling) of a saved tiny-sd into ``pipe``."""
    from .base import load_components
    parts = load_components(str(folder), folder)
    for name in ("vae", "unet", "text_encoder"):
        getattr(pipe, name).load_state_dict(parts[name].state_dict())
    pipe.vae.register_to_config(scaling_factor=parts["vae"].config.scaling_factor)


def pretrain(out: Path, vae_steps: int, unet_steps: int, batch_size: int, size: int = 64, seed: int = 0,
             init_from: Path | None = None, lr: float = 5e-4, lr_schedule: str = "constant",
             ema: float = 0.0) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pipe = tiny_sd.build_pipeline(seed)
    if init_from is not None:
        _warm_start(pipe, Path(init_from))
    vae, unet, te, tok, sched = pipe.vae, pipe.unet, pipe.text_encoder, pipe.tokenizer, pipe.scheduler
    denoiser = torch.nn.ModuleDict({"unet": unet, "te": te})
    opt_vae = torch.optim.AdamW(vae.parameters(), lr=1e-3, weight_decay=0)
    opt_unet = torch.optim.AdamW(denoiser.parameters(), lr=lr, weight_decay=1e-2)
    decay = (lambda k: 0.5 * (1 + np.cos(np.pi * min(k, unet_steps) / unet_steps))) if lr_schedule == "cosine" \
        else (lambda k: 1.0)
    swa = torch.optim.swa_utils
    averaged = swa.AveragedModel(denoiser, multi_avg_fn=swa.get_ema_multi_avg_fn(ema)) if ema else None
    state_path, log_path = out / ".pretrain-state.pt", out / "pretrain_log.jsonl"
    step = 0
    if state_path.is_file():
        st = torch.load(state_path, weights_only=True)
        vae.load_state_dict(st["vae"]), denoiser.load_state_dict(st["denoiser"])
        opt_vae.load_state_dict(st["opt_vae"]), opt_unet.load_state_dict(st["opt_unet"])
        if averaged is not None:
            averaged.load_state_dict(st["ema"])
        vae.register_to_config(scaling_factor=st["scaling"])
        step = st["step"]
    log = open(log_path, "a")
    start = time.time()

    def checkpoint(now: int) -> None:
        torch.save({"vae": vae.state_dict(), "denoiser": denoiser.state_dict(), "opt_vae": opt_vae.state_dict(),
                    "opt_unet": opt_unet.state_dict(), "ema": averaged.state_dict() if averaged else None,
                    "scaling": vae.config.scaling_factor, "step": now}, state_path)

    for i in tqdm(range(step, vae_steps + unet_steps), desc="pretrain", initial=step, total=vae_steps + unet_steps):
        rng = np.random.default_rng([seed, i])
        x, captions = batch(rng, batch_size, size)
        if i < vae_steps:  # --- phase 1: autoencoder ---------------------------------------
            post = vae.encode(x).latent_dist
            rec = vae.decode(post.sample()).sample
            loss = F.mse_loss(rec, x) + 1e-6 * post.kl().mean()
            opt_vae.zero_grad(), loss.backward(), opt_vae.step()
            if i == vae_steps - 1:
                with torch.no_grad():
                    z = torch.cat([vae.encode(batch(np.random.default_rng([seed, 10**6, j]), batch_size, size)[0])
                                   .latent_dist.mode() for j in range(4)])
                vae.register_to_config(scaling_factor=float(1 / z.std()))
        else:  # --- phase 2: UNet + text encoder on captions -------------------------------
            captions = ["" if rng.random() < 0.1 else c for c in captions]
            ids = tok(captions, padding="max_length", max_length=tok.model_max_length, truncation=True,
                      return_tensors="pt").input_ids
            with torch.no_grad():
                z = vae.encode(x).latent_dist.sample() * vae.config.scaling_factor
            noise = torch.randn_like(z)
            t = torch.randint(0, sched.config.num_train_timesteps, (len(z),))
            loss = F.mse_loss(unet(sched.add_noise(z, noise, t), t, te(ids)[0]).sample, noise)
            for group in opt_unet.param_groups:
                group["lr"] = lr * decay(i - vae_steps)
            opt_unet.zero_grad(), loss.backward()
            torch.nn.utils.clip_grad_norm_(denoiser.parameters(), 1.0)
            opt_unet.step()
            if averaged is not None:
                averaged.update_parameters(denoiser)
        log.write(json.dumps({"step": i + 1, "phase": "vae" if i < vae_steps else "unet",
                              "loss": round(loss.item(), 5), "seconds": round(time.time() - start, 1)}) + "\n")
        if (i + 1) % 100 == 0:
            log.flush()
            checkpoint(i + 1)
    log.close()
    if averaged is not None:
        denoiser.load_state_dict(averaged.module.state_dict())
    # fp16 UNet and VAE (diffusers upcasts them on load); the text encoder stays fp32 because
    # transformers keeps a checkpoint's dtype, and a stock from_pretrained would then mix dtypes
    pipe.unet.to(torch.float16), pipe.vae.to(torch.float16)
    pipe.save_pretrained(out, safe_serialization=True)
    state_path.unlink(missing_ok=True)  # complete: the resume state is not part of the model
    return out


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m diffmix_utils.models.pretrain`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python -m diffmix_utils.models.pretrain",
                                 description="Pretrain bundled:tiny-sd on kit-rendered generic birds.")
    ap.add_argument("out", nargs="?", default=str(tiny_sd.BUNDLED_DIR),
                    help="output folder (default: the bundled model's)")
    ap.add_argument("--vae-steps", type=int, default=600)
    ap.add_argument("--unet-steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (fixed, so a rebuild repeats bit for bit)")
    ap.add_argument("--init-from", type=Path, default=None, help="warm-start from this saved tiny-sd folder")
    ap.add_argument("--lr", type=float, default=5e-4, help="UNet + text encoder learning rate")
    ap.add_argument("--lr-schedule", choices=("constant", "cosine"), default="constant")
    ap.add_argument("--ema", type=float, default=0.0, help="EMA decay of the saved weights (0: off)")
    return ap


def main(argv=None) -> None:
    ap = parser()
    a = ap.parse_args(argv)
    if not 0 <= a.ema < 1:
        ap.error(f"--ema = {a.ema} is out of range; valid: 0 (off) or 0 < ema < 1")
    if a.init_from is None and a.vae_steps == 0:
        ap.error("--vae-steps 0 needs --init-from (a model whose VAE is kept)")
    with torch_threads(a.threads):  # fixed: the count changes the weights' last bits, hence every key after them
        print(pretrain(Path(a.out), a.vae_steps, a.unet_steps, a.batch, seed=a.seed, init_from=a.init_from,
                       lr=a.lr, lr_schedule=a.lr_schedule, ema=a.ema))


if __name__ == "__main__":
    main()
