"""Figures of a synthetic pool, shared by the synthesis report (``02_synthesize`` / ``03_train``) and
the analysis (``figures/<name>/``): the translation grid and the filter's lowest- and highest-scored
images, and ``save`` (files, or an inline figure for a notebook). Shared ground: it reads artifacts
(``manifest.csv``, ``scores.csv``) and imports no stage.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from . import artifacts  # noqa: E402
from .data import open_image, read_image  # noqa: E402
from .inline import Inline  # noqa: E402


def save(fig, base: Path | None, formats: list[str], dpi: int):
    """Write ``fig`` as ``base.<fmt>`` per format (atomically); returns the paths. With ``base`` None
    nothing is written and the figure comes back as ``inline.Inline`` (for a stage's notebook)."""
    if base is None:
        plt.close(fig)  # off pyplot's list, so a notebook shows it once, from the Inline
        return Inline(fig, dpi)
    paths = []
    for fmt in formats:
        path = Path(f"{base}.{fmt}")
        artifacts.atomic_write(path, lambda t, fmt=fmt: fig.savefig(t, format=fmt, dpi=dpi, bbox_inches="tight"))
        paths.append(path)
    plt.close(fig)
    return paths


def translation_grid(split: dict, pools: list[Path], base: Path, formats: list[str], dpi: int,
                     columns: int = 6, oracle=None, labels: dict | None = None) -> list[Path]:
    """Row 0: real source images; row 1 (img2img pools): a real training image of each target class; then one
    row per synthetic pool (e.g. per strength): the same tasks. With ``oracle`` (``measure.oracles``), each
    translation is titled with the class the oracle reads in it (green: the target). ``labels``: a row's
    name by pool folder (e.g. the class-names setting of a real-mix pool), else its strategy and strength."""
    rows = [artifacts.read_manifest(f) for f in pools]
    labels = labels or {}
    rows = sorted(zip(rows, pools), key=lambda rp: (rp[0][0]["strength"], labels.get(rp[1], "")))
    img2img = [r for r in rows[0][0] if r["source_index"] >= 0][:columns]
    head = 2 if img2img else 0
    tasks = img2img or rows[0][0][:columns]
    fig, axes = plt.subplots(len(rows) + head, len(tasks), figsize=(1.3 * len(tasks), 1.45 * (len(rows) + head)),
                             squeeze=False)
    for c, task in enumerate(tasks):
        if img2img:
            axes[0, c].imshow(open_image(split, task["source_index"]))
            axes[0, c].set_title(f"{task['source_class']}→{task['target_class']}", fontsize=7)
            axes[1, c].imshow(open_image(split, _example(split, task["target_class"])))
        for r, (manifest, folder) in enumerate(rows):
            match = next((m for m in manifest if m["task"] == task["task"]), None)
            if match is not None:
                image = read_image(folder / match["path"])
                axes[head + r, c].imshow(image)
                if oracle is not None:
                    seen = int(oracle.predict([image])[0][0])
                    axes[head + r, c].set_title(f"reads {seen}", fontsize=6,
                                                color="tab:green" if seen == match["target_class"] else "tab:red")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if img2img:
        axes[0, 0].set_ylabel("source", fontsize=7)
        axes[1, 0].set_ylabel("target class\n(a real image)", fontsize=7)
    for r, (manifest, folder) in enumerate(rows):
        axes[head + r, 0].set_ylabel(labels.get(folder, f"{manifest[0]['strategy']}\ns={manifest[0]['strength']:g}"),
                                     fontsize=7)
    reading = "; 'reads k': the class the toybirds oracle sees (green: the target)" if oracle is not None else ""
    fig.suptitle(f"source class → target class{reading}", fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    return save(fig, base, formats, dpi)


def _example(split: dict, label: int) -> int:
    """The first training image of class ``label`` (what the target class looks like)."""
    return next(i for i in split["train"] if split["items"][i]["label"] == label)


def filter_grid(folder: Path, scores: Path, base: Path, formats: list[str], dpi: int, count: int = 8) -> list[Path]:
    """The filter's lowest-scored (row 1) and highest-scored (row 2) images of the pool ``folder``,
    with their scores from the filter folder ``scores``."""
    marks = artifacts.read_scores(scores)
    rows = [{**r, **marks[r["task"]]} for r in artifacts.read_manifest(folder)]
    if not rows:
        return []
    ranked = sorted(rows, key=lambda r: (r["score"], r["task"]))
    count = min(count, len(ranked) // 2)
    fig, axes = plt.subplots(2, count, figsize=(1.3 * count, 3.0), squeeze=False)
    for r, (label, picked) in enumerate((("lowest (dropped)", ranked[:count]), ("highest", ranked[::-1][:count]))):
        for c, row in enumerate(picked):
            ax = axes[r, c]
            ax.imshow(read_image(folder / row["path"]))
            ax.set_title(f"{row['source_class']}→{row['target_class']} {row['score']:.2f}"
                         + ("" if row["kept"] else " ✗"), fontsize=6)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, fontsize=7)
    first = rows[0]
    fig.suptitle(f"filter scores of the {first['strategy']} pool (s={first['strength']:g}); ✗ = not kept", fontsize=8)
    return save(fig, base, formats, dpi)
