"""Measurement oracles for toybirds: what class is the bird, and which background is it on?

One small CNN with two heads (foreground class, background kind) is trained once on freshly
rendered toybirds images (their own image stream, disjoint from every dataset split), with random
blur and noise so that it judges diffusion outputs by content rather than by sharpness. It is
cached as safetensors with its held-out accuracies, and scores synthetic images for the fidelity
benchmark: "is the output the target class?" and "was the source background kept?".
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from ..atomic import atomic_dir
from ..devices import torch_threads
from ..data import to_unit_tensor, toybirds

KINDS = list(toybirds.BACKGROUNDS)
ORACLE_VERSION = 2  # 2: trained with a fixed torch thread count (ORACLE_THREADS)
ORACLE_THREADS = 1  # the count changes the weights' last bits, so it is fixed, not the machine's


class TwoHeadCNN(torch.nn.Module):
    def __init__(self, num_classes: int, num_kinds: int = len(KINDS)):
        super().__init__()
        layers, c_in = [], 3
        for c_out in (32, 64, 128, 128):
            layers += [torch.nn.Conv2d(c_in, c_out, 3, padding=1), torch.nn.BatchNorm2d(c_out),
                       torch.nn.ReLU(inplace=True), torch.nn.MaxPool2d(2)]
            c_in = c_out
        self.trunk = torch.nn.Sequential(*layers, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
        self.classes = torch.nn.Linear(c_in, num_classes)
        self.kinds = torch.nn.Linear(c_in, num_kinds)

    def forward(self, x):
        h = self.trunk(x)
        return self.classes(h), self.kinds(h)


def _render(num_classes: int, per_class: int, size: int, split: str, rng: np.random.Generator | None):
    images, classes, kinds = [], [], []
    for c in range(num_classes):
        for i in range(per_class):
            im, kind = toybirds.render_image(c, split, i, size)
            if rng is not None:  # robustness: blur of random radius, as diffusion outputs are soft
                im = im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 1.6))))
            images.append(im)
            classes.append(c)
            kinds.append(KINDS.index(kind))
    return images, torch.tensor(classes), torch.tensor(kinds)


@dataclass
class Oracle:
    model: TwoHeadCNN
    size: int
    info: dict

    @torch.no_grad()
    def predict(self, images: list[Image.Image], batch: int = 256) -> tuple[list[int], list[str]]:
        """(foreground class, background kind) of each image."""
        self.model.eval()
        cls, kind = [], []
        for i in range(0, len(images), batch):
            a, b = self.model(to_unit_tensor(images[i:i + batch], self.size))
            cls += a.argmax(1).tolist()
            kind += [KINDS[k] for k in b.argmax(1).tolist()]
        return cls, kind


def train_oracle(num_classes: int, size: int = 64, per_class: int = 160, epochs: int = 8, seed: int = 0) -> Oracle:
    with torch_threads(ORACLE_THREADS):
        return _train_oracle(num_classes, size, per_class, epochs, seed)


def _train_oracle(num_classes: int, size: int, per_class: int, epochs: int, seed: int) -> Oracle:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    images, y, k = _render(num_classes, per_class, size, "oracle", rng)
    x = to_unit_tensor(images, size)
    model = TwoHeadCNN(num_classes)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=epochs * ((len(x) + 63) // 64))
    for _ in tqdm(range(epochs), desc="oracle", unit="epoch"):
        model.train()
        for idx in torch.randperm(len(x)).split(64):
            xb = x[idx] + 0.05 * torch.randn_like(x[idx])
            xb = torch.where(torch.rand(len(idx), 1, 1, 1) < 0.5, xb, xb.flip(3))
            a, b = model(xb)
            loss = torch.nn.functional.cross_entropy(a, y[idx]) + torch.nn.functional.cross_entropy(b, k[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    oracle = Oracle(model, size, {})
    test_images, ty, tk = _render(num_classes, 20, size, "oracle-test", None)
    pc, pk = oracle.predict(test_images)
    oracle.info = {"foreground_acc": float((torch.tensor(pc) == ty).float().mean()),
                   "background_acc": float(np.mean([p == KINDS[t] for p, t in zip(pk, tk.tolist())])),
                   "num_classes": num_classes, "size": size, "version": ORACLE_VERSION}
    return oracle


def load_or_train_oracle(cache_dir: Path, num_classes: int, size: int = 64, per_class: int = 160,
                         epochs: int = 8) -> Oracle:
    """The cached oracle for these settings, trained and saved on first use."""
    folder = Path(cache_dir) / f"oracle-v{ORACLE_VERSION}-c{num_classes}-s{size}-n{per_class}-e{epochs}"
    if not (folder / "oracle.json").is_file():
        oracle = train_oracle(num_classes, size, per_class, epochs)
        with atomic_dir(folder) as tmp:
            weights = {k: v.contiguous() for k, v in oracle.model.state_dict().items()}
            save_file(weights, str(tmp / "oracle.safetensors"))
            (tmp / "oracle.json").write_text(json.dumps(oracle.info, indent=2))
    model = TwoHeadCNN(num_classes)
    model.load_state_dict(load_file(str(folder / "oracle.safetensors")))
    return Oracle(model, size, json.loads((folder / "oracle.json").read_text()))


def cached_oracle(cache_dir: Path, num_classes: int, size: int = 64) -> Oracle | None:
    """The default oracle if it is already in ``cache_dir`` (no training: for figures that show its reading
    when it is at hand), else None."""
    folder = Path(cache_dir) / f"oracle-v{ORACLE_VERSION}-c{num_classes}-s{size}-n160-e8"
    return load_or_train_oracle(cache_dir, num_classes, size) if (folder / "oracle.json").is_file() else None
