"""The class names that prompts use: the dataset's own, or names that carry part, none or the wrong
part of the class (the toy reproduction's name dial, docs/toy-reproduction.md "Two dials").

``data.class_names`` prompts the name-prompted strategies (real-gen, real-aug, real-mix, and the
``lora_only`` fine-tune) with:

- ``dataset``: the dataset's names ("a photo of a Red White-headed Forktail bird");
- ``partial``: the first word of the dataset's name (toybirds: the body colour) and an uninformative
  invented word ("Red Quorbel"): half of a toybirds class, as many CUB names carry a colour word;
- ``uninformative``: invented words chosen (``measure.name_check``) so that the class the base model
  draws does not depend on the name; the list is committed in ``uninformative_names.json``;
- ``misleading`` (called ``opaque`` until 2026-12-07, still accepted): invented names that share no
  token with the pretraining captions, which the check found steer the base model toward *other*
  classes (the prompted class is drawn far below chance).

``partial`` and ``uninformative`` are toybirds settings: their claim is checked by the toybirds
oracle before a pool prompted with them is made (``measure.name_check``).

Only the prompt text changes: images, splits, labels, figures and tables keep the dataset's names,
and artifacts whose prompts use learned ``<class_i>`` tokens (diff-mix, diff-aug, diff-gen, ti-*)
are the same in every setting (their keys leave the setting out).
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np

CHOICES = ("dataset", "partial", "uninformative", "misleading", "opaque")
RENAMED = {"opaque": "misleading"}  # the old spelling: the same names, the same keys
CHECKED = ("partial", "uninformative")  # settings whose claim the oracle checks before a pool uses them
UNINFORMATIVE_FILE = Path(__file__).with_name("uninformative_names.json")
# syllables that spell no English word together and end in no caption word (checked against the
# pretraining captions' tokens by tests/test_regimes.py)
_FIRST = ("quor", "zib", "mav", "tholl", "yurn", "prax", "drev", "kesh", "vulm", "jorr", "nix", "sklo",
          "wemb", "gaff", "ublo", "rizz")
_SECOND = ("bel", "mosk", "tiv", "ugo", "arn", "ezzo", "ilph", "uvex")


def _invented() -> list[str]:
    """Every invented name, in a fixed shuffled order (the same on every machine)."""
    pool = [a.capitalize() + b for a, b in itertools.product(_FIRST, _SECOND)]
    order = np.random.default_rng(20240329).permutation(len(pool))
    return [pool[i] for i in order]


def opaque_names(n: int) -> list[str]:
    """The ``misleading`` setting's ``n`` distinct invented names, e.g. 'Quorbel' (the first of ``_invented``)."""
    pool = _invented()
    if n > len(pool):
        pool += [f"{name}{k}" for k in range(2, 2 + (n - 1) // len(pool)) for name in pool]
    return pool[:n]


def candidate_names(count: int, skip: int) -> list[str]:
    """``count`` invented names that the ``misleading`` setting's first ``skip`` do not include: the
    candidates the uninformative names are chosen from."""
    pool = _invented()
    if skip + count > len(pool):
        raise ValueError(f"{count} candidates after the first {skip} names: only {len(pool)} invented names exist")
    return pool[skip:skip + count]


def uninformative_words() -> list[str]:
    """The committed uninformative names, in order (chosen by ``measure.name_check.select_uninformative``)."""
    if not UNINFORMATIVE_FILE.is_file():
        raise FileNotFoundError(f"{UNINFORMATIVE_FILE} is missing: make it with "
                                "python -m diffmix_utils.measure.name_check --select PARAMS")
    return json.loads(UNINFORMATIVE_FILE.read_text())["names"]


def uninformative_names(n: int) -> list[str]:
    """The first ``n`` uninformative names, one per class."""
    names = uninformative_words()
    if n > len(names):
        raise ValueError(f"data.class_names = 'uninformative' has {len(names)} chosen names, and this dataset "
                         f"has {n} classes; choose more with python -m diffmix_utils.measure.name_check --select")
    return names[:n]


def setting(data: dict) -> str:
    """``data.class_names`` with the old spelling read as today's (opaque is misleading)."""
    mode = data.get("class_names", "dataset")
    if mode not in CHOICES:
        raise ValueError(f"data.class_names = {mode!r} is unknown; valid: {', '.join(CHOICES[:-1])}")
    return RENAMED.get(mode, mode)


def names_for(mode: str, classes: list[str]) -> list[str]:
    """The names that prompts use for ``classes`` under the setting ``mode``."""
    mode = setting({"class_names": mode})
    if mode == "dataset":
        return list(classes)
    if mode == "misleading":
        return opaque_names(len(classes))
    words = uninformative_names(len(classes))
    if mode == "uninformative":
        return words
    return [f"{c.split()[0]} {w}" for c, w in zip(classes, words)]


def prompt_classes(data: dict, classes: list[str]) -> list[str]:
    """The names that prompts use for ``classes`` under ``data.class_names``."""
    return names_for(setting(data), classes)
