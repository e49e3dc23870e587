"""The one table of the kit's stages: name, package, notebook and store folder of each.

The parameter schema (``--only`` choices), the job graph, the runner, the artifact keys' folders, the
notebook sync tool and the shape test all read it, so adding a stage is one row here (plus its
package and, if it has one, its notebook). It imports nothing of the kit.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    name: str                 # as the user writes it: --only NAME, the job name's prefix
    package: str              # diffmix_utils.<package>: its run_stage(p), and the job module (python -m)
    notebook: str | None      # the notebook the runner executes for it (None: a step inside another's)
    folder: str | None        # <workdir>/store/<folder>/<key>/ of its artifacts (None: makes no artifact)


TABLE = (
    Stage("finetune", "finetune", "01_finetune.ipynb", "finetune"),
    Stage("synthesize", "synthesize", "02_synthesize.ipynb", "synthesize"),
    Stage("filter", "filtering", None, "filter"),  # a step of 03_train: between the baselines and the rest
    Stage("train", "train", "03_train.ipynb", "train"),
    Stage("analyze", "analyze", "04_analyze.ipynb", None),
)
BY_NAME = {s.name: s for s in TABLE}
NOTEBOOK_STAGES = tuple(s.name for s in TABLE if s.notebook)  # what the runner runs, in order
JOB_STAGES = tuple(s.name for s in TABLE if s.folder)  # what makes artifacts: the job graph's stages
PACKAGES = tuple(s.package for s in TABLE)  # the stage packages, which never import each other


def folder(name: str) -> str:
    """The store folder of stage ``name``'s artifacts."""
    return BY_NAME[name].folder


def job_module(name: str) -> str:
    """``diffmix_utils.<package>``: what ``python -m`` runs for one job of stage ``name``."""
    return f"diffmix_utils.{BY_NAME[name].package}"


def notebook_of(name: str) -> str | None:
    return BY_NAME[name].notebook
