"""An ipywidgets explorer of translations (``notebooks/explore.ipynb``).

Pick a real image, a target class, a strength and a strategy; the explorer runs that one
translation with the same pipeline, prompt and per-image seeding as the synthesis stage and shows
it beside the source. Pipelines are loaded once per kind (fine-tuned, tokens only, base) and kept.
"""
from __future__ import annotations

import io

from PIL import Image

from . import artifacts
from .data import ensure_split, open_image
from .models.base import pick_device
from .strategies import STRATEGIES, get_strategy
from .synthesize import load_strategy_pipeline, render_batch


class Explorer:
    def __init__(self, p: dict):
        self.p = p
        self.split = ensure_split(artifacts.split_path(p), p["data"], artifacts.store(p) / "datasets")
        self.device = pick_device(p["device"])
        self._pipes: dict[tuple, tuple] = {}

    def _pipe(self, strategy):
        key = (strategy.lora, strategy.tokens, strategy.img2img)
        if key not in self._pipes:
            self._pipes[key] = load_strategy_pipeline(self.p, strategy, self.device)
        return self._pipes[key]

    def translate(self, source_index: int, target: int, strength: float, strategy: str = "diff-mix",
                  seed: int = 0) -> tuple[Image.Image, Image.Image]:
        """(source image, result) for one task; aug strategies ignore ``target`` (target = source)."""
        strat = get_strategy(strategy)
        source = open_image(self.split, source_index)
        label = self.split["items"][source_index]["label"]
        task = {"target_class": target if strat.inter_class else label, "strength": strength, "seed": seed,
                "source_index": source_index if strat.img2img else -1}
        pipe, with_tokens = self._pipe(strat)
        out = render_batch(self.p, self.split, pipe, strat, with_tokens, [task])[0]
        return source, out.resize(source.size, resample=3)

    def widget(self):
        import ipywidgets as W
        items, classes = self.split["items"], self.split["classes"]
        pool = self.split["test"][:200] + self.split["train"][:200]
        source = W.Dropdown(options=[(f"{i}: {classes[items[i]['label']]} ({items[i]['split']})", i) for i in pool],
                            description="source")
        target = W.Dropdown(options=[(f"{c}: {n}", c) for c, n in enumerate(classes)], description="target")
        strength = W.FloatSlider(value=self.p["synthesize"]["strength"], min=0.05, max=1.0, step=0.05,
                                 description="strength")
        strategy = W.Dropdown(options=list(STRATEGIES), value="diff-mix", description="strategy")
        seed = W.IntText(value=0, description="seed")
        button, status = W.Button(description="translate"), W.Label()
        left, right = W.Image(format="png", width=256), W.Image(format="png", width=256)

        def png(im: Image.Image) -> bytes:
            buf = io.BytesIO()
            im.resize((256, 256), resample=Image.NEAREST).save(buf, format="PNG")
            return buf.getvalue()

        def run(_=None):
            status.value = "running..."
            src, out = self.translate(source.value, target.value, strength.value, strategy.value, seed.value)
            left.value, right.value = png(src), png(out)
            status.value = f"{strategy.value}: {classes[items[source.value]['label']]} -> " \
                           f"{classes[target.value]} at s = {strength.value:.2f}"
        button.on_click(run)
        box = W.VBox([W.HBox([source, target]), W.HBox([strength, strategy, seed, button]), status,
                      W.HBox([left, right])])
        box.run = run  # for scripted use and tests
        return box


def explorer(p: dict):
    """The explorer widget for parameter set ``p`` (its fine-tune must be complete for diff-* / ti-*)."""
    return Explorer(p).widget()
