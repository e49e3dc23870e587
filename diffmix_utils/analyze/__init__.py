"""Stage 4 of Diff-Mix: the tables and figures of a run, beside the reference numbers.

- ``tables``            one row per finished run, mean ± std over seeds, reference numbers with provenance;
- ``figures``           accuracy vs strength, the pools' translation grid, the filter's grids, a
  progressive translation;
- ``ablation_figures``  accuracy vs each ablated key, the 1 - s^γ curves, the class histogram, throughput;
- ``model_figures``     made on demand with the run's models: cross-attention maps, the fine-tuning
  comparison, a t-SNE of classifier features;
- ``reference``         the authors' development numbers and the paper's table layout (``*.csv``);
- ``stage``             ``run_stage`` / ``run_analysis``; ``show`` puts the written tables and figures
  into the notebook.
Reads every member's ``result.json`` (and the pools, filters and models for the figures); writes
``figures/<name>/``.
"""
from .stage import outputs, run_analysis, run_stage, show  # noqa: F401
from .tables import add_reference, collect_results, summarize, to_markdown, write_table  # noqa: F401
