"""Pretrain ``bundled:toy-regnet``: the offline stand-in for an ImageNet-pretrained classifier.

    python -m diffmix_utils.models.pretrain_classifier OUT_DIR [--steps 1000] [--images 20000]
        [--batch 64] [--size 64] [--arch regnetx_002] [--seed 0]

The paper fine-tunes ImageNet-pretrained ResNet-50s on its fine-grained sets; nothing can be
downloaded here, so the kit pretrains a small timm RegNet (regnetx_002, 2.3 M parameters) on kit-rendered *generic* birds (the
fine-tune model's pretraining renderer: its palette, either tail, five backgrounds) labelled with a
generic task, body colour × head colour × tail (24 classes, the background a nuisance), drawn only
from colours toybirds' classes do not use (six body colours, red and yellow heads). It learns where
a bird's distinguishing parts are and that colour and tail matter, but never sees a toybirds class:
as ImageNet knows birds but not CUB's species.

Images are rendered once (a pure function of the seed) into memory; training is SGD with a one-cycle
schedule, random flips and padded crops, and the train stage's ImageNet normalisation (the defaults
made the shipped weights, whose ``config.json`` records them). The weights are saved as
``model.safetensors`` (fp16, the head included; the train stage replaces it) with ``config.json``
(architecture, input size, the task, the held-out accuracy). ``train.weights: bundled:toy-regnet``
with ``train.backbone`` the same architecture loads it (``classifiers.load_bundled_weights``).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..devices import torch_threads

BACKGROUNDS = ("grass", "sand", "forest", "sea", "lake")


def generic_attributes() -> tuple[list[str], list[str]]:
    """Body and head colours of the pretraining birds: the fine-tune model's palette without the
    colours toybirds' classes use, so no toybirds class is ever seen."""
    from ..data import toybirds
    from .pretrain import HEADS, PALETTE
    bodies = [c for c in PALETTE if c.capitalize() not in toybirds.BODY]
    heads = [c for c in HEADS if c.capitalize() not in toybirds.HEAD]
    return bodies, heads


def render_task(n: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` generic birds (uint8 NCHW) labelled body colour × head colour × tail, on any background."""
    from PIL import Image, ImageDraw, ImageFilter

    from ..data import toybirds
    from .pretrain import HEADS, PALETTE
    rng = np.random.default_rng(seed)
    bodies, heads = generic_attributes()
    images, labels = np.empty((n, size, size, 3), np.uint8), np.empty(n, np.int64)
    for i in tqdm(range(n), desc="render", leave=False):
        body, head, tail = int(rng.integers(len(bodies))), int(rng.integers(len(heads))), int(rng.integers(2))
        big = size * 4
        img = toybirds.render_background(rng, BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))], big)
        toybirds.draw_bird(ImageDraw.Draw(img), PALETTE[bodies[body]], HEADS[heads[head]], toybirds.TAIL[tail],
                           big * rng.uniform(0.3, 0.7), big * rng.uniform(0.4, 0.6), big * rng.uniform(0.12, 0.22),
                           int(rng.choice([-1, 1])))
        images[i] = np.asarray(img.filter(ImageFilter.GaussianBlur(1.2)).resize((size, size), Image.LANCZOS))
        labels[i] = (body * len(heads) + head) * 2 + tail
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels)


def _normalise(x: torch.Tensor) -> torch.Tensor:
    from .classifiers import IMAGENET_MEAN, IMAGENET_STD
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x.float() / 255 - mean) / std


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random horizontal flip and a random crop after 4-pixel reflection padding (uint8 in, float out)."""
    flip = torch.rand(len(x), generator=gen) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
    pad = torch.nn.functional.pad(x.float(), (4, 4, 4, 4), mode="reflect")
    dx, dy = torch.randint(0, 9, (2,), generator=gen).tolist()
    return pad[:, :, dy:dy + x.shape[2], dx:dx + x.shape[3]]


def pretrain(out: Path, steps: int, images: int, batch: int, size: int, arch: str, seed: int) -> Path:
    import timm
    from safetensors.torch import save_file

    from ..atomic import atomic_dir
    torch.manual_seed(seed)
    bodies, heads = generic_attributes()
    classes = len(bodies) * len(heads) * 2
    x, y = render_task(images, size, seed)
    x_test, y_test = render_task(2000, size, seed + 1)
    model = timm.create_model(arch, num_classes=classes)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=steps, pct_start=0.1)
    gen, start, log = torch.Generator().manual_seed(seed), time.time(), []
    model.train()
    for step in tqdm(range(steps), desc="pretrain classifier"):
        idx = torch.randint(0, images, (batch,), generator=gen)
        loss = torch.nn.functional.cross_entropy(model(_normalise(_augment(x[idx], gen))), y[idx], label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0 or step == steps - 1:
            log.append({"step": step, "loss": round(loss.item(), 4), "seconds": round(time.time() - start, 1)})
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(_normalise(x_test[i:i + 256])).argmax(1) for i in range(0, len(x_test), 256)])
    accuracy = float((pred == y_test).float().mean())
    config = {"architecture": arch, "image_size": size, "num_classes": classes,
              "task": f"body colour ({len(bodies)}) x head colour ({len(heads)}) x tail (2) of kit-rendered "
                      "generic birds on any background, no colour of toybirds' classes",
              "train_images": images, "steps": steps, "batch_size": batch, "seed": seed,
              "held_out_accuracy": round(accuracy, 4), "seconds": round(time.time() - start, 1)}
    weights = {k: v.detach().to(torch.float16 if v.is_floating_point() else v.dtype).contiguous()
               for k, v in model.state_dict().items()}
    with atomic_dir(Path(out)) as tmp:
        save_file(weights, str(tmp / "model.safetensors"))
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        (tmp / "pretrain_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    print(f"held-out accuracy {accuracy:.3f} on the pretraining task; saved to {out}")
    return Path(out)


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m diffmix_utils.models.pretrain_classifier`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python -m diffmix_utils.models.pretrain_classifier",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("out", help="output folder")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--images", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--arch", default="regnetx_002")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (fixed, so a rebuild repeats bit for bit)")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    a = ap.parse_args(argv)
    with torch_threads(a.threads):  # fixed: the count changes the weights' last bits, hence every key after them
        pretrain(Path(a.out), a.steps, a.images, a.batch, a.size, a.arch, a.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
