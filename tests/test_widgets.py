"""The translation explorer: one translation per click, the same path as the synthesis stage."""
from __future__ import annotations

import pytest

from diffmix_utils import params
from diffmix_utils.data import open_image
from diffmix_utils.widgets import Explorer, explorer, png


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
    left, right = box.children[-1].children
    source, target = box.controls["source"], box.controls["target"]
    items = Explorer(member).split["items"]
    shown_first = left.value
    assert shown_first == png(open_image(Explorer(member).split, source.value))  # the source at once, no click
    assert target.value != items[source.value]["label"]  # the target starts on another class
    box.run()
    assert left.value[:4] == b"\x89PNG" and right.value[:4] == b"\x89PNG" and right.value != shown_first
    same_class = [i for _, i in source.options if items[i]["label"] == target.value][0]
    source.value = same_class  # a source of the target's class: the target moves on, the source shows
    assert target.value != items[same_class]["label"]
    assert left.value == png(open_image(Explorer(member).split, same_class))


def test_errors_show_in_the_widget_and_strategies_say_what_they_need(tmp_path):
    from conftest import tiny_params
    p = params.expand_sweep(tiny_params(tmp_path))[0]  # a fresh store: no fine-tune
    box = explorer(p)
    status, strategy = box.controls["status"], box.controls["strategy"]
    left, right = box.children[-1].children
    assert left.value[:4] == b"\x89PNG" and right.value[:4] == b"\x89PNG"  # placeholders, not broken images
    assert "needs the fine-tuned model" in status.value and "01_finetune" in status.value  # before the click
    before = right.value
    box.run()
    assert "b00020" in status.value and "failed: FileNotFoundError" in status.value and "01_finetune" in status.value
    assert right.value == before
    strategy.value = "real-aug"  # works without a fine-tune
    assert "ready" in status.value
    box.run()
    assert right.value != before and "b00020" not in status.value
