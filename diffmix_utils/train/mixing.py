"""Batch-level Mixup and per-sample CutMix baselines, through timm's ``Mixup``, on soft targets.

The reference's baselines (docs/method.md §C.1): Mixup with probability 0.3 per batch and CutMix with
probability 0.1 per sample, both with lambda ~ Beta(1, 1); CutMix labels by the pasted area. timm
draws lambda and the box and mixes the images in place (pairing sample i with sample B-1-i); its
own label helper only takes integer labels, so the kit mixes the soft targets (which may already
be Diff-Mix soft labels) with the same lambda and pairing.

``MinorityCutMix`` is CMO (Park et al., CVPR 2022) as the reference's long-tail code runs it: a
second loader over the same training set samples items with weight 1/n_c (minority classes
first); for epochs 3 < e < E - 3, each batch with probability ``prob`` gets a random box pasted
from the minority batch, and the label is mixed by the pasted area.
"""
from __future__ import annotations

import numpy as np
import torch
from timm.data import Mixup
from timm.data.mixup import cutmix_bbox_and_lam
from torch.utils.data import DataLoader, WeightedRandomSampler


class BatchMixer:
    """``mixer(x, y) -> (x, y)``; a no-op when both probabilities are 0."""

    def __init__(self, mixup_prob: float, cutmix_prob: float, num_classes: int, alpha: float = 1.0):
        self.stages = []
        if mixup_prob > 0:
            self.stages.append(Mixup(mixup_alpha=alpha, cutmix_alpha=0.0, prob=mixup_prob, mode="batch",
                                     label_smoothing=0.0, num_classes=num_classes))
        if cutmix_prob > 0:
            self.stages.append(Mixup(mixup_alpha=0.0, cutmix_alpha=alpha, prob=cutmix_prob, mode="elem",
                                     correct_lam=True, label_smoothing=0.0, num_classes=num_classes))

    def __bool__(self) -> bool:
        return bool(self.stages)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for stage in self.stages:
            # timm's private mixers: they draw lambda (and the box), mix x in place, return lambda
            lam = stage._mix_elem(x) if stage.mode == "elem" else stage._mix_batch(x)
            lam = torch.as_tensor(lam, dtype=y.dtype, device=y.device).reshape(-1, 1)
            y = lam * y + (1 - lam) * y.flip(0)
        return x, y


class MinorityCutMix:
    def __init__(self, dataset, counts: list[int], prob: float, batch_size: int, epochs: int, seed: int,
                 start: int = 3, end: int = 3):
        labels = [dataset.split["items"][i]["label"] for i in dataset.indices]
        self.weights = torch.tensor([1.0 / max(counts[c], 1) for c in labels], dtype=torch.float64)
        self.dataset, self.prob, self.batch_size, self.seed = dataset, prob, batch_size, seed
        self.first, self.last = start + 1, epochs - end - 1

    def batches(self, epoch: int):
        """An iterator of minority-weighted batches for this epoch, or None outside CMO's epochs."""
        if not self.first <= epoch <= self.last:
            return None
        gen = torch.Generator().manual_seed(self.seed * 100003 + epoch + 7)
        sampler = WeightedRandomSampler(self.weights, len(self.weights), replacement=True, generator=gen)
        return iter(DataLoader(self.dataset, batch_size=self.batch_size, sampler=sampler))

    def mix(self, x: torch.Tensor, y: torch.Tensor, batch) -> tuple[torch.Tensor, torch.Tensor]:
        if np.random.rand() >= self.prob:
            return x, y
        x2, y2 = batch[0].to(x.device)[:len(x)], batch[1].to(y.device)[:len(y)]
        (yl, yh, xl, xh), lam = cutmix_bbox_and_lam(x.shape, np.random.beta(1.0, 1.0), correct_lam=True)
        x = x.clone()
        x[:len(x2), :, yl:yh, xl:xh] = x2[:, :, yl:yh, xl:xh]
        mixed = y.clone()
        mixed[:len(y2)] = lam * y[:len(y2)] + (1 - lam) * y2
        return x, mixed
