"""Soft labels of synthetic images and the label-smoothed soft-target loss.

Diff-Mix (Wang et al., CVPR 2024) labels an image translated from class i toward class j at
strength s with ``kappa * [(1 - s**gamma) * e_i + s**gamma * e_j]`` (``kappa * e_i`` when i = j).
The reference's loss then smooths every target as ``q = eps/(C-1) + (1 - eps) * y`` (note: not
renormalised, so a one-hot row sums to 1 + eps/(C-1); kept for fidelity, spec C.2) and takes the
soft-target cross-entropy (timm's ``SoftTargetCrossEntropy``).
"""
from __future__ import annotations

import torch
from timm.loss import SoftTargetCrossEntropy


def soft_label(source: int, target: int, strength: float, num_classes: int, gamma: float,
               kappa: float = 1.0) -> torch.Tensor:
    """The Diff-Mix soft label of a synthetic image."""
    y = torch.zeros(num_classes)
    w = strength ** gamma if source != target else 1.0
    y[target] += kappa * w
    y[source] += kappa * (1.0 - w)
    return y


def smooth_targets(y: torch.Tensor, epsilon: float) -> torch.Tensor:
    """The reference's label smoothing: ``eps/(C-1) + (1 - eps) * y`` on every class."""
    return epsilon / (y.shape[-1] - 1) + (1.0 - epsilon) * y


class SmoothedSoftTargetLoss(torch.nn.Module):
    def __init__(self, epsilon: float):
        super().__init__()
        self.epsilon, self.ce = epsilon, SoftTargetCrossEntropy()

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.ce(logits, smooth_targets(y, self.epsilon))
