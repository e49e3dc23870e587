"""Stage 2 of Diff-Mix: synthesize a pool by inter-class translation (or an ablation strategy).

- ``plan``   which real image goes to which target class, at which strength, with which seed;
- ``stage``  the fixed batches run (sharded over processes, CPU worker threads), images written
  atomically, ``plan.csv`` / ``manifest.csv`` / ``done.json`` (``run_stage``, ``run_synthesis``);
- ``lanes``  CPU worker threads of fixed torch threads (the same bytes for any number of them);
- ``report`` what a run made, for ``02_synthesize``: the plan, the class balance, the translation
  grid, the filter's lowest- and highest-scored images.
The pipeline itself is loaded and called through ``models.translate`` (shared with the explorer).
Reads the fine-tune folder and the split file; writes ``<workdir>/store/synthesize/<key>/``.
"""
from .plan import make_batches, plan_tasks, task_seed  # noqa: F401
from .stage import process_count, run_shard, run_stage, run_synthesis, worker_threads  # noqa: F401
