"""The contract between stages: keyed artifact folders and the files in them.

- ``keys``  where each stage's artifacts live, keyed by a hash of everything upstream that shapes
  them (``finetune_dir(p)``, ``synthesis_dir(p)``, ``train_dir(p)``, ...);
- ``files`` what a folder holds and how it is checked (``done.json``, the manifest, the filter's
  scores, whole safetensors files), every file written atomically;
- ``identity`` a folder named in a parameter file (a dataset, a local model) by its content, for keys.

Both are re-exported here, so ``artifacts.finetune_dir(P)`` and ``artifacts.read_manifest(folder)``
work as before. Which folders a run needs, per stage, is ``diffmix_utils.jobs`` (the runner's side).
"""
from ..atomic import ArtifactError, atomic_write  # noqa: F401
from .files import (MANIFEST_COLUMNS, SCORE_COLUMNS, check_safetensors, is_done, mark_done,  # noqa: F401
                    read_json, read_manifest, read_scores, rebuild_hint, write_json, write_manifest,
                    write_scores, write_text)
from .keys import (DEFAULT_CPU_THREADS, dataset_cache, figures_dir, filter_dir, filter_key, filter_scorer, finetune_dir,  # noqa: F401
                   finetune_key, open_split, oracle_partner, run_dir, scores_key, split_key, split_path, stable_hash,
                   stage_folders, store, synthesis_dir, synthesis_key, train_dir, train_key, uses_finetune)
from .identity import data_identity, folder_identity, model_identity  # noqa: F401
