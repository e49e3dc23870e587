"""An ipywidgets explorer of translations (``notebooks/explore.ipynb``).

Pick a real image, a target class, a strength and a strategy; the explorer runs that one
translation with the same pipeline, prompt and per-image seeding as the synthesis stage
(``models.translate.Translator``) and shows it beside the source. A view, not a stage: it reads
the fine-tune folder and the split file.
"""
from __future__ import annotations

import io

from PIL import Image

from .models.translate import Translator
from .strategies import STRATEGIES


class Explorer(Translator):
    """The ipywidgets view of a ``Translator`` (``models.translate``)."""

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
