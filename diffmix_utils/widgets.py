"""An ipywidgets explorer of translations (``notebooks/explore.ipynb``).

Pick a real image, a target class, a strength and a strategy; the explorer runs that one
translation with the same pipeline, prompt and per-image seeding as the synthesis stage
(``models.translate.Translator``) and shows it beside the source. A view, not a stage: it reads
the fine-tune folder and the split file. Errors show in the widget (red: what failed and what to
do), since an exception in a widget callback reaches only JupyterLab's log console; a strategy that
needs a fine-tune which is not there says so before the click.
"""
from __future__ import annotations

import html
import io

from PIL import Image

from . import artifacts
from .data import open_image
from .models.translate import Translator
from .strategies import STRATEGIES, get_strategy


class Explorer(Translator):
    """The ipywidgets view of a ``Translator`` (``models.translate``)."""

    def finetune_missing(self, strategy: str) -> str | None:
        """What to do before ``strategy`` can run here (its fine-tune is not complete), or None."""
        if strategy == "none" or not get_strategy(strategy).needs_finetune:
            return None
        if artifacts.is_done(artifacts.finetune_dir(self.p)):
            return None
        return (f"{strategy} needs the fine-tuned model, which is not complete for this parameter set: run "
                "01_finetune.ipynb first, or pick real-mix, real-aug or real-gen (base model only)")

    def widget(self):
        import ipywidgets as W
        items, classes = self.split["items"], self.split["classes"]
        pool = self.split["test"][:200] + self.split["train"][:200]
        source = W.Dropdown(options=[(f"{i}: {classes[items[i]['label']]} ({items[i]['split']})", i) for i in pool],
                            description="source")
        target = W.Dropdown(options=[(f"{c}: {n}", c) for c, n in enumerate(classes)], description="target",
                            value=other_class(items[source.value]["label"], len(classes)))
        strength = W.FloatSlider(value=self.p["synthesize"]["strength"], min=0.05, max=1.0, step=0.05,
                                 description="strength")
        strategy = W.Dropdown(options=list(STRATEGIES), value="diff-mix", description="strategy")
        seed = W.IntText(value=0, description="seed")
        button, status = W.Button(description="translate"), W.HTML()
        left = W.Image(value=png(open_image(self.split, source.value)), format="png", width=256)
        right = W.Image(value=placeholder("click translate"), format="png", width=256)

        def show(text: str, color: str = "#333") -> None:
            status.value = f'<span style="color:{color}">{html.escape(text)}</span>'

        def hint(_=None) -> None:
            missing = self.finetune_missing(strategy.value)
            show(missing, "#b36b00") if missing else show(f"{strategy.value}: ready")

        def run(_=None):
            show("running...")
            try:
                src, out = self.translate(source.value, target.value, strength.value, strategy.value, seed.value)
            except Exception as exc:  # shown in the widget: a callback's exception goes only to the log console
                todo = self.finetune_missing(strategy.value) or "check the parameter set and the message above"
                show(f"{strategy.value} failed: {type(exc).__name__}: {exc} -- what to do: {todo}", "#b00020")
                return
            left.value, right.value = png(src), png(out)
            show(f"{strategy.value}: {classes[items[source.value]['label']]} -> "
                 f"{classes[target.value]} at s = {strength.value:.2f}")
        def new_source(_=None) -> None:  # the source shows at once; an inter-class target stays another class
            left.value, right.value = png(open_image(self.split, source.value)), placeholder("click translate")
            label = items[source.value]["label"]
            if target.value == label:
                target.value = other_class(label, len(classes))
        button.on_click(run)
        source.observe(new_source, names="value")
        strategy.observe(hint, names="value")
        hint()
        box = W.VBox([W.HBox([source, target]), W.HBox([strength, strategy, seed, button]), status,
                      W.HBox([left, right])])
        box.run = run  # for scripted use and tests
        box.controls = {"source": source, "target": target, "strength": strength, "strategy": strategy,
                        "seed": seed, "status": status}
        return box


def other_class(label: int, num_classes: int) -> int:
    """The explorer's default target: the next class after the source's (a translation, not a copy)."""
    return (label + 1) % num_classes if num_classes > 1 else label


def png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.resize((256, 256), resample=Image.NEAREST).save(buf, format="PNG")
    return buf.getvalue()


def placeholder(text: str) -> bytes:
    """A grey 256 px tile with a word on it: what the image areas show before the first translation."""
    from PIL import ImageDraw
    tile = Image.new("RGB", (256, 256), (225, 225, 225))
    ImageDraw.Draw(tile).text((128, 128), text, fill=(90, 90, 90), anchor="mm")
    return png(tile)


def explorer(p: dict):
    """The explorer widget for parameter set ``p`` (its fine-tune must be complete for diff-* / ti-*)."""
    return Explorer(p).widget()
