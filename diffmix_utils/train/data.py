"""The training set of the classifier: real items, each replaced with probability p by a
synthetic one carrying its Diff-Mix soft label (docs/method.md §C.2).

Per epoch every real training index is visited once; with probability ``p`` (drawn from a
generator seeded by (seed, epoch, index), so reruns, resumed runs and any number of processes or
workers match) a synthetic image is returned in its place; the random crop and flip are drawn
from the same seed. The synthetic draw is ``uniform`` over the kept manifest rows, or ``tail``:
first a target class c with p(c) ∝ 1/(n_c + 1) (n_c = real training count), then a uniform row of
that target (the reference's "weightedSyn" for long-tail). ``target_classes_per_source`` K keeps,
for every source class, only the rows of its first K target classes in a seeded order (ablation).
A missing or unreadable image stops with an error naming it, unless ``skip_bad_images``: then the
item is replaced by the next readable real one, and the item reports how many images it skipped
(the fourth element), which the training loop counts into ``result.json`` (works with workers).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..data import DatasetError, read_image
from ..data.splits import class_counts
from ..labels import soft_label

SAMPLINGS = ("uniform", "tail")


class RealWithSynthetic(Dataset):
    """Real training items with probability-p synthetic replacement.

    Items are ``(image, y, is_synthetic, skipped)``; ``skipped`` counts unreadable images passed over."""

    def __init__(self, split: dict, indices: list[int], transform, synthetic: list[dict] | None = None,
                 synthetic_root: Path | None = None, p: float = 0.0, gamma: float = 0.5, kappa: float = 1.0,
                 seed: int = 0, sampling: str = "uniform", skip_bad_images: bool = False, toward: str = "target"):
        if sampling not in SAMPLINGS:
            raise ValueError(f"train.synthetic_sampling = {sampling!r} is not valid; valid: {', '.join(SAMPLINGS)}")
        self.split, self.indices, self.transform = split, indices, transform
        self.synthetic, self.root = synthetic or [], synthetic_root
        self.p, self.gamma, self.kappa, self.seed, self.epoch = p, gamma, kappa, seed, 0
        self.num_classes = len(split["classes"])
        self.skip_bad = skip_bad_images
        # per-row paths and soft labels computed once: the synthetic path costs no more than a decode
        self.syn_paths = [str(Path(synthetic_root) / r["path"]) for r in self.synthetic]
        self.syn_labels = [soft_label(r["source_class"], r["target_class"], r["strength"], self.num_classes,
                                      gamma, kappa, toward) for r in self.synthetic]
        self.by_target, self.target_prob = None, None
        if sampling == "tail" and self.synthetic:
            self.by_target = {}
            for r, row in enumerate(self.synthetic):
                self.by_target.setdefault(row["target_class"], []).append(r)
            counts = class_counts(split)
            targets = sorted(self.by_target)
            w = np.array([1.0 / (counts[c] + 1) for c in targets])
            self.targets, self.target_prob = targets, w / w.sum()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.indices)

    def _draw_synthetic(self, rng: np.random.Generator) -> int:
        """Index of a synthetic row: uniform, or tail-weighted by target class."""
        if self.by_target is None:
            return int(rng.integers(len(self.synthetic)))
        rows = self.by_target[self.targets[int(rng.choice(len(self.targets), p=self.target_prob))]]
        return rows[int(rng.integers(len(rows)))]

    def _open(self, path: Path | str) -> Image.Image | None:
        try:
            return read_image(path)
        except DatasetError as exc:
            if not self.skip_bad:
                raise DatasetError(f"{exc}; fix or remove it, or set train.skip_bad_images: true to skip "
                                   "and count it") from None
            return None

    def _transform(self, image: Image.Image, seed: int) -> torch.Tensor:
        """The transform with its random crop / flip drawn from ``seed`` (not the global RNG): the same
        item gets the same augmentation in any process, worker or resumed run."""
        cpu = torch.default_generator  # its own seed/restore: ~2 us, where torch.manual_seed costs ~110 us
        saved = cpu.get_state()
        cpu.manual_seed(seed)
        try:
            return self.transform(image)
        finally:
            cpu.set_state(saved)

    def _real(self, i: int, skipped: int, seed: int):
        for k in range(len(self.indices)):
            idx = self.indices[(i + k) % len(self.indices)]
            image = self._open(Path(self.split["root"]) / self.split["items"][idx]["path"])
            if image is None:
                skipped += 1
                continue
            y = torch.zeros(self.num_classes)
            y[self.split["items"][idx]["label"]] = 1.0
            return self._transform(image, seed), y, 0, skipped
        raise DatasetError(f"none of the {len(self.indices)} images of this split can be read")

    def __getitem__(self, i: int):
        rng = np.random.default_rng([self.seed, self.epoch, i])
        seed, skipped = int(rng.integers(2**62)), 0
        if self.synthetic and rng.random() < self.p:
            r = self._draw_synthetic(rng)
            image = self._open(self.syn_paths[r])
            if image is not None:
                return self._transform(image, seed), self.syn_labels[r].clone(), 1, skipped
            skipped = 1
        return self._real(i, skipped, seed)
