"""The class names that prompts use: the dataset's own, or made-up ones the base model has never read.

``data.class_names: opaque`` prompts the name-prompted strategies (real-gen, real-aug, real-mix, and
the ``lora_only`` fine-tune) with invented species names ("a photo of a Quorbel bird") instead of
the dataset's ("a photo of a Red White-headed Forktail bird"). It is the paper's regime: Stable
Diffusion cannot draw a CUB species from its name, so the class has to be learned from the few
training images. ``bundled:tiny-sd`` was pretrained on captions that spell out every toybirds
attribute in words, so with the dataset's names it draws the class for free; the opaque names share
no token with those captions (tested), so to the base model they say nothing.

Only the prompt text changes: images, splits, labels, figures and tables keep the dataset's names,
and artifacts whose prompts use learned ``<class_i>`` tokens (diff-mix, diff-aug, diff-gen, ti-*)
are the same in both regimes (their keys leave the setting out).
"""
from __future__ import annotations

import itertools

import numpy as np

CHOICES = ("dataset", "opaque")
# syllables that spell no English word together and end in no caption word (checked against the
# pretraining captions' tokens by tests/test_regimes.py)
_FIRST = ("quor", "zib", "mav", "tholl", "yurn", "prax", "drev", "kesh", "vulm", "jorr", "nix", "sklo",
          "wemb", "gaff", "ublo", "rizz")
_SECOND = ("bel", "mosk", "tiv", "ugo", "arn", "ezzo", "ilph", "uvex")


def opaque_names(n: int) -> list[str]:
    """``n`` distinct invented names (deterministic: the same on every machine), e.g. 'Quorbel'."""
    pool = [a.capitalize() + b for a, b in itertools.product(_FIRST, _SECOND)]
    if n > len(pool):
        pool += [f"{name}{k}" for k in range(2, 2 + (n - 1) // len(pool)) for name in pool]
    order = np.random.default_rng(20240329).permutation(len(_FIRST) * len(_SECOND))
    chosen = [pool[i] for i in order] + pool[len(order):]
    return chosen[:n]


def prompt_classes(data: dict, classes: list[str]) -> list[str]:
    """The names that prompts use for ``classes`` under ``data.class_names``."""
    mode = data.get("class_names", "dataset")
    if mode == "dataset":
        return list(classes)
    if mode == "opaque":
        return opaque_names(len(classes))
    raise ValueError(f"data.class_names = {mode!r} is unknown; valid: {', '.join(CHOICES)}")
