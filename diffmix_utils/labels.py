"""The Diff-Mix soft label of a synthetic image, in one place for every user (training, the figures).

An image translated from class i toward class j at strength s is labelled
``kappa * [(1 - s**gamma) * e_i + s**gamma * e_j]`` (``kappa * e_i`` when i = j): Diff-Mix (Wang et
al., CVPR 2024), eq. 3, with the reference code's later scale ``kappa``. ``toward="source"`` is the
kit's control that puts s^gamma on the source instead (the labels point the wrong way).
"""
from __future__ import annotations

import torch

TOWARD = ("target", "source")


def soft_label(source: int, target: int, strength: float, num_classes: int, gamma: float,
               kappa: float = 1.0, toward: str = "target") -> torch.Tensor:
    """The soft label of one synthetic image as a ``num_classes`` vector (``train.gamma``,
    ``train.kappa`` and ``train.label_toward`` are the parameters that set it)."""
    if toward not in TOWARD:
        raise ValueError(f"train.label_toward = {toward!r} is not valid; valid: {', '.join(TOWARD)}")
    y = torch.zeros(num_classes)
    w = strength ** gamma if source != target else 1.0
    heavy, light = (target, source) if toward == "target" else (source, target)
    y[heavy] += kappa * w
    y[light] += kappa * (1.0 - w)
    return y


def soft_label_of(train: dict, source: int, target: int, strength: float, num_classes: int) -> torch.Tensor:
    """``soft_label`` with the settings of a run's ``train`` section."""
    return soft_label(source, target, strength, num_classes, train["gamma"], train["kappa"], train["label_toward"])
