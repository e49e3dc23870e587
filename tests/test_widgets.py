"""The translation explorer: one translation per click, the same path as the synthesis stage."""
from __future__ import annotations

import pytest

from diffmix_utils import params
from diffmix_utils.widgets import Explorer, explorer


@pytest.fixture(scope="module")
def member(finetuned):
    return params.expand_sweep(finetuned[0])[0]


def test_translate_every_kind_of_strategy(member):
    e = Explorer(member)
    i = e.split["test"][0]
    for strategy in ("diff-mix", "diff-aug", "real-gen"):
        src, out = e.translate(i, 1, 0.5, strategy)
        assert out.size == src.size
    assert len(e._pipes) == 2  # one pipeline per kind (diff-mix and diff-aug share one), reused
    a = e.translate(i, 1, 0.5, "diff-mix", seed=3)[1]
    assert list(a.getdata()) == list(e.translate(i, 1, 0.5, "diff-mix", seed=3)[1].getdata())


def test_widget_click_fills_both_images(member):
    box = explorer(member)
    box.run()
    left, right = box.children[-1].children
    assert left.value[:4] == b"\x89PNG" and right.value[:4] == b"\x89PNG"
