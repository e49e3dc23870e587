"""The filter step: score a finished pool and mark its lowest-scored fraction as not kept.

Runs after the synthesis stage and, for the ``classifier`` scorer, after the run's baseline has
been trained (``artifacts.filter_scorer``): ``03_train`` trains what needs no filter first, then
filters, then trains the members that read a filtered pool. Writes ``scores.csv``
(``task,score,kept``) and ``done.json`` to ``<workdir>/store/filter/<key>/``, keyed by (pool,
scorer, scoring model, fraction), all at once (``atomic_dir``); the pool's images and manifest are
never rewritten, and the training stage reads only the kept rows.
"""
from __future__ import annotations

from pathlib import Path

from .. import artifacts, locks, jobs, progress, provenance
from ..atomic import atomic_dir
from ..devices import job_threads
from .scorers import mark, score


def score_pool(pool: Path, out: Path, scorer: str, model: str, fraction: float, superclass: str = "",
               p: dict | None = None) -> Path:
    """Score every image of the complete pool ``pool`` and publish ``out`` (scores.csv, provenance.json of
    member ``p``, done.json)."""
    pool = Path(pool)
    if not artifacts.is_done(pool):
        raise FileNotFoundError(f"{pool} is not a complete synthesis folder (no done.json): "
                                "run the synthesize stage first")
    rows = artifacts.read_manifest(pool)
    marked = mark(rows, score(pool, rows, scorer, model, superclass), fraction)
    kept = sum(r["kept"] for r in marked)
    with atomic_dir(out) as tmp:
        artifacts.write_scores(tmp / "scores.csv", marked)
        provenance.write(tmp, p, "cpu", "fp32")
        artifacts.mark_done(tmp, {"pool": str(pool), "scorer": scorer, "model": str(model), "fraction": fraction,
                                  "images": len(marked), "kept": kept, "dropped": len(marked) - kept,
                                  "score_threshold": min((r["score"] for r in marked if r["kept"]), default=None)})
    return out


def run_filter(p: dict) -> Path | None:
    """The filter of member ``p`` (``filter.scorer``); None when it has none."""
    out = artifacts.filter_dir(p)
    if out is None or artifacts.is_done(out):
        if out is not None:
            progress.already_complete("filter", out)
        return out
    with job_threads(p):
        return locks.once(out, "filter", lambda: _filter(p, out))


def _filter(p: dict, out: Path) -> Path:
    f = p["filter"]
    scorer = artifacts.filter_scorer(p)
    if scorer is not None:
        model = artifacts.train_dir(scorer)
        if not artifacts.is_done(model):
            raise FileNotFoundError(f"filter.scorer = 'classifier' scores with the run's baseline {model}, "
                                    "which is not trained yet: run train.run_stage(P, before_filter=True) "
                                    "(the first step of 03_train) first")
    else:
        model = f["model"]
    split = artifacts.open_split(p)
    superclass = p["finetune"]["superclass"] or split["superclass"]
    return score_pool(artifacts.synthesis_dir(p), out, f["scorer"], str(model), f["fraction"], superclass, p)


def run_stage(p: dict) -> list:
    """Filter every pool of the parameter set that has a filter (one folder per pool, scorer, fraction)."""
    return [run_filter(m) for m in progress.members(jobs.stage_jobs(p, "filter"), "filter")]
