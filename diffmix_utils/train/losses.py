"""The classifier losses, all on soft targets (the soft label itself: ``diffmix_utils.labels``).

The reference's loss smooths every target as ``q = eps/(C-1) + (1 - eps) * y`` (not renormalised,
so a one-hot row sums to 1 + eps/(C-1); kept for fidelity, docs/method.md §C.2) and takes the soft-target
cross-entropy ``-sum_k w_k q_k log softmax(z)_k`` (``w`` = class weights, 1 unless re-weighted).

Long-tail variants (docs/method.md §C.3), with ``n_c`` the training count of class c:
- ``balanced_softmax``: the logits get ``+ log(n_c / sum n)`` before the softmax.
- ``ldam``: margins ``m_c ∝ n_c^(-1/4)`` (largest 0.5) and scale 30: ``z' = 30 (z - y * m)``.
  The reference subtracts the margin at the hard label only and breaks on soft targets; here the
  margin is weighted by the (unsmoothed) soft target, which equals the reference on one-hot rows.
- ``class_weights``: the effective-number weights ``(1 - beta) / (1 - beta^n_c)`` normalised to
  sum to C, used by DRW (from a given epoch) and CB re-weighting (from the start).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


LOSSES = ("ce", "balanced_softmax", "ldam")
LDAM_MAX_MARGIN, LDAM_SCALE = 0.5, 30.0


def smooth_targets(y: torch.Tensor, epsilon: float) -> torch.Tensor:
    """The reference's label smoothing: ``eps/(C-1) + (1 - eps) * y`` on every class."""
    return epsilon / (y.shape[-1] - 1) + (1.0 - epsilon) * y


def class_weights(counts: list[int], beta: float = 0.9999) -> torch.Tensor:
    """Effective-number class weights (Cui et al. 2019), normalised to sum to the class count."""
    n = torch.tensor(counts, dtype=torch.float64).clamp(min=1)
    w = (1 - beta) / (1 - beta ** n)
    return (w / w.sum() * len(counts)).float()


def ldam_margins(counts: list[int], max_margin: float = LDAM_MAX_MARGIN) -> torch.Tensor:
    m = torch.tensor(counts, dtype=torch.float64).clamp(min=1) ** -0.25
    return (m * (max_margin / m.max())).float()


class ClassifierLoss(torch.nn.Module):
    """Soft-target cross-entropy with label smoothing, optional long-tail logit adjustment and
    class weights (``set_weights`` switches them on, e.g. at the DRW epoch)."""

    def __init__(self, kind: str = "ce", epsilon: float = 0.0, counts: list[int] | None = None):
        super().__init__()
        if kind not in LOSSES:
            raise ValueError(f"train.loss = {kind!r} is not valid; valid: {', '.join(LOSSES)}")
        if kind != "ce" and counts is None:
            raise ValueError(f"train.loss = {kind!r} needs the training class counts")
        self.kind, self.epsilon = kind, epsilon
        counts = counts or [1]
        self.register_buffer("log_prior", torch.log(torch.tensor(counts, dtype=torch.float32).clamp(min=1)
                                                    / sum(counts)))
        self.register_buffer("margins", ldam_margins(counts))
        self.weights: torch.Tensor | None = None

    def set_weights(self, weights: torch.Tensor | None) -> None:
        self.weights = weights

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.kind == "balanced_softmax":
            logits = logits + self.log_prior
        elif self.kind == "ldam":
            logits = LDAM_SCALE * (logits - y * self.margins)
        q = smooth_targets(y, self.epsilon)
        if self.weights is not None:
            q = q * self.weights.to(q.device)
        return -(q * F.log_softmax(logits, dim=-1)).sum(-1).mean()
