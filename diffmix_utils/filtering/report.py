"""What the filter step did, for ``03_train``: per filtered pool, the images it scored lowest (the
ones it marks not kept first) beside the ones it scored highest, with their scores.
"""
from __future__ import annotations

from .. import artifacts, jobs
from ..pool_figures import filter_grid


def filter_extremes(p: dict, count: int = 8):
    """Per filtered pool (first seed): the filter's lowest-scored images (the ones it drops first) and
    highest-scored ones, with their scores; shown after the filter step of ``03_train``."""
    done = [m for m in jobs.stage_jobs(p, "filter") if artifacts.is_done(artifacts.filter_dir(m))]
    first_seed = [m for m in done if m["seed"] == done[0]["seed"]][:3]
    shown = [filter_grid(artifacts.synthesis_dir(m), artifacts.filter_dir(m), None, [], 110, count) for m in first_seed]
    if not shown:
        return "no filter ran (filter.scorer: none, or no pool)"
    from IPython.display import display
    for figure in shown[:-1]:
        display(figure)
    return shown[-1]
