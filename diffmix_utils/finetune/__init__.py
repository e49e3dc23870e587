"""Stage 1 of Diff-Mix: personalise the text-to-image model on the training set.

- ``stage``        ``run_stage`` / ``run_finetune``: one textual-inversion token ``<class_i>`` per class
  plus LoRA (peft) on every UNet attention projection, on "a photo of a <class_i> {superclass}";
- ``checkpoints``  every K steps, the latest N kept, exact resume after a kill;
- ``convert``      released Diff-Mix fine-tunes (legacy LoRA keys, ``.bin`` embeddings) to the
  stock-loadable files (``python -m diffmix_utils.finetune.convert``).
Reads the split file; writes ``<workdir>/store/finetune/<key>/``.
"""
from .stage import (LORA_TARGETS, TOKEN_TEMPLATE, PromptedImages, add_class_tokens, run_finetune,  # noqa: F401
                    run_stage, save_embeddings)
