"""Stage 3 of Diff-Mix: train a timm classifier on real + synthetic images.

- ``data``        real images, each replaced with probability p by a synthetic one with the soft label
  (1 - s^γ)·onehot(source) + s^γ·onehot(target);
- ``losses``      label smoothing, Balanced Softmax, LDAM, class re-weighting (DRW / CB);
- ``mixing``      Mixup / CutMix through timm, CMO;
- ``evaluation``  accuracy per split, group and shot bucket; model selection on the val split;
- ``stage``       ``run_stage`` / ``run_training``: resumable epochs, ``metrics.jsonl``, ``result.json``;
- ``report``      how training went, for ``03_train``: learning curves, the member table, per-class accuracy.
Reads the split file, the pool's ``manifest.csv`` and a filter's ``scores.csv``; writes
``<workdir>/store/train/<key>/``.
"""
from .evaluation import summarize  # noqa: F401
from .stage import run_stage, run_training, synthetic_rows, warmup_cosine  # noqa: F401
