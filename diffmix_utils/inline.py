"""Figures that show inline in a notebook, whatever matplotlib backend the kernel has.

Stage reports build figures with matplotlib's object-oriented ``Figure`` (no pyplot: no global
state, no second copy auto-displayed at the end of a cell) and return ``Inline(figure)``, which a
notebook renders from its PNG (``_repr_png_``), papermill stores as ``image/png`` and the HTML
report embeds. The figure stays available as ``.figure`` (e.g. to ``savefig`` a PDF).
"""
from __future__ import annotations

import io


class Inline:
    def __init__(self, figure, dpi: int = 110):
        self.figure, self.dpi = figure, dpi

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=self.dpi, bbox_inches="tight")
        return buf.getvalue()

    def savefig(self, *args, **kwargs):
        return self.figure.savefig(*args, **kwargs)
