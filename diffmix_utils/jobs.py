"""The job list: which artifact folders a parameter file needs, per stage, and which are complete.

The runner decides what to run from here, and each stage asks it for its own jobs: one per distinct
artifact folder (the sweep members that share a fine-tune or a pool share one job). This sits beside
the runner in the shared ground; it imports no stage.
"""
from __future__ import annotations

from .artifacts.files import is_done, read_json
from .artifacts.keys import filter_key, filter_scorer, oracle_partner, run_dir, stage_folders, train_key
from .params import expand_sweep


def stage_jobs(p: dict, stage: str) -> list[dict]:
    """The members that need work in ``stage``, one per distinct artifact folder. For ``train`` the
    classifiers the ``classifier`` filter scores with come too, and everything whose data needs no
    filter result comes before what reads a filtered pool (the order ``03_train`` runs them in)."""
    members = expand_sweep(p)
    if stage == "synthesize":  # the oracle pools that train.oracle_fraction takes rows from
        members = members + [o for o in map(oracle_partner, members) if o is not None]
    if stage == "train":
        scorers = [s for s in map(filter_scorer, members) if s is not None]
        members = [m for m in scorers + members if filter_key(m) is None] + \
                  [m for m in members if filter_key(m) is not None]
    jobs, seen = [], set()
    for m in members:
        folder = stage_folders(m, stage)[0]
        if folder is not None and folder not in seen:
            seen.add(folder)
            jobs.append(m)
    return jobs


def stage_complete(p: dict, stage: str) -> bool:
    """True when every artifact folder the stage must write is complete (analyze: for these runs)."""
    if stage == "analyze":
        marker = run_dir(p) / "analyze-done.json"
        return marker.is_file() and read_json(marker) == analyze_marker(p)
    return all(is_done(stage_folders(m, stage)[0]) for m in stage_jobs(p, stage))


def analyze_marker(p: dict) -> dict:
    """What an analysis was made from (``runs/<name>/analyze-done.json``): the classifiers' keys and the
    ``analyze`` settings, so a new classifier or a changed setting (formats, dpi, claims) runs it again."""
    return {"train_keys": sorted(train_key(m) for m in expand_sweep(p)), "analyze": p["analyze"]}
