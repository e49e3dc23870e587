"""What the synthesis stage made, as tables and figures for ``02_synthesize``: the plan (images per
strategy and strength, planned and written, and images per second), the source x target balance
of the pools, and the translation grid (real sources beside their translations at each strength).
Each function reads the plan (computed from the parameters, so it shows before synthesis) and the
stage's artifacts (the images, ``manifest.csv``, ``done.json``) and returns a table (pandas) or a
figure shown inline (``inline.Inline``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import artifacts, jobs
from ..inline import Inline
from .plan import plan_tasks


def _pools(p: dict) -> list[tuple[dict, object]]:
    """(member, folder) of each synthesis job of ``p``, in the runner's order."""
    return [(m, artifacts.synthesis_dir(m)) for m in jobs.stage_jobs(p, "synthesize")]


def plan_table(p: dict) -> pd.DataFrame:
    """One row per pool: strategy, strength(s), multiplier, images planned and written, images per
    second of the run that made it (model loading and worker start-up included), and its folder."""
    rows, split = [], artifacts.open_split(p)
    for m, folder in _pools(p):
        sy = m["synthesize"]
        planned = plan_tasks(m, split)  # a pure function of the parameters: known before synthesis
        written = sum((folder / r["path"]).is_file() for r in planned)
        done = artifacts.read_json(folder / "done.json") if artifacts.is_done(folder) else {}
        strengths = sorted({float(r["strength"]) for r in planned}) or [sy["strength"]]
        rows.append({"strategy": sy["strategy"], "strength": ", ".join(f"{s:g}" for s in strengths),
                     "multiplier": sy["multiplier"], "planned": len(planned),
                     "written": written, "images/s": done.get("images_per_second_this_run"),
                     "device": done.get("device"), "folder": folder.name})
    if not rows:
        return pd.DataFrame({"note": ["this run synthesizes nothing (every strategy is 'none')"]})
    return pd.DataFrame(rows)


def balance(p: dict):
    """Heatmap of how many synthetic images go from each source class (rows) to each target class
    (columns), summed over the run's pools (Diff-Mix draws both uniformly and independently)."""
    split = artifacts.open_split(p)
    n = len(split["classes"])
    counts, strategies = np.zeros((n, n), dtype=int), set()
    for m, _ in _pools(p):
        for r in plan_tasks(m, split):
            counts[int(r["source_class"]), int(r["target_class"])] += 1
            strategies.add(m["synthesize"]["strategy"])
    import seaborn as sns
    fig = Figure(figsize=(1.2 + 0.42 * n, 0.9 + 0.38 * n))
    ax = fig.subplots()
    sns.heatmap(counts, annot=n <= 12, fmt="d", cmap="Blues", cbar=n > 12, ax=ax,
                xticklabels=split["classes"] if n <= 20 else False,
                yticklabels=split["classes"] if n <= 20 else False, annot_kws={"fontsize": 6})
    ax.set_xlabel("target class j", fontsize=8)
    ax.set_ylabel("source class i", fontsize=8)
    ax.tick_params(labelsize=6)
    ax.set_title(f"planned images, source → target ({', '.join(sorted(strategies)) or 'no pool'}; "
                 f"{counts.sum()} in all)", fontsize=8)
    fig.tight_layout()
    return Inline(fig)


def translations(p: dict, columns: int = 6):
    """The translation grid: real source images (row 0), a real image of each target class (row 1) and, per
    finished pool, the same tasks translated (one row per strategy and strength), with the toybirds
    oracle's reading of each when the store has the oracle."""
    from ..pool_figures import translation_grid
    finished = [(m, f) for m, f in _pools(p) if artifacts.is_done(f)]
    if not finished:
        return "no finished pool yet: run the synthesis step above"
    split = artifacts.open_split(p)
    oracle = None
    if p["data"]["dataset"] == "toybirds":  # its reading of each translation, when the store has the oracle
        from ..measure.oracles import cached_oracle
        oracle = cached_oracle(artifacts.store(p) / "oracles", len(split["classes"]), p["data"]["image_size"])
    return translation_grid(split, [f for _, f in finished], None, [], 110, columns, oracle=oracle)
