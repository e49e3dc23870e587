"""The filter step between synthesis and training: score a pool, mark what training may use.

- ``scorers``  CLIP (the reference's "with / without a {super}" captions) or the run's own baseline
  classifier (offline); the lowest ``filter.fraction`` is marked not kept;
- ``stage``    ``run_stage`` / ``run_filter``: ``scores.csv`` in its own folder, keyed by (pool,
  scorer, fraction); the pool is never rewritten;
- ``report``   ``filter_extremes``: the lowest- and highest-scored images of each filtered pool.
Its settings are the parameter file's ``filter`` section (``scorer``, ``fraction``, ``model``).
Reads the pool and (classifier scorer) the baseline's train folder; the training stage reads
``scores.csv``.
"""
from .scorers import CAPTIONS, classifier_scores, clip_scores, mark, score  # noqa: F401
from .stage import run_filter, run_stage, score_pool  # noqa: F401
