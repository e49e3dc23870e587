"""diffmix-kit: the Diff-Mix method (CVPR 2024, arXiv 2403.19600) as four stages and the ground below them.

The four stages of the paper, one package each, run in this order by ``python -m diffmix_utils.run``
(one notebook each, ``notebooks/01_finetune`` ... ``04_analyze``):

    finetune/    1. class tokens (textual inversion) + DreamBooth-LoRA on the base model
    synthesize/  2. inter-class translation: a real image of class i toward class j at strength s
    filtering/      (optional, inside 03_train) score a pool, mark what training may use
    train/       3. a timm classifier on real + synthetic images with soft labels
    analyze/     4. tables and figures beside the reference numbers

Stages never import each other: they meet only through the artifacts ``artifacts`` names (the
split file, the fine-tune folder, the pool, the filter's scores, each run's result). The shared
ground below them: ``params/`` (the schema and validator), ``artifacts`` (keys and folders),
``atomic`` (files written whole), ``distributed`` (multi-GPU through accelerate), ``strategies``
(the eight synthesis strategies), ``costs`` (``--plan``'s estimate), ``run`` (the runner),
``data/`` (dataset layouts and the split), ``models/`` (base model, classifiers, the translation
pipeline). Beside them: ``widgets`` (the explorer) and ``measure/`` (the toybirds fidelity kit).
"""
import importlib


def __getattr__(name: str):
    if name == "analysis":  # the analysis stage's earlier name: ``from diffmix_utils import analysis``
        return importlib.import_module(".analyze", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
