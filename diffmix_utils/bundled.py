"""The models the kit ships in ``diffmix_utils/models/bundled/``: their names, folders and contents.

``bundled:tiny-sd`` (the offline base model) and ``bundled:toy-regnet`` (the offline pretrained
classifier) are named in parameter files. The validator (``params``), the artifact keys and the model
loaders (``models``) all need to know where these live; this module tells them and imports nothing
of the kit, so none of them has to import another for it.
"""
from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

BUNDLED = "bundled:"
BUNDLED_DIR = Path(__file__).resolve().parent / "models" / "bundled"
# classifiers the kit pretrains and ships (python -m diffmix_utils.models.pretrain_classifier)
BUNDLED_CLASSIFIERS = ("toy-regnet",)


def bundled_folder(weights: str) -> Path:
    """The folder of a bundled model (``bundled:toy-regnet``): ``model.safetensors``, ``config.json``."""
    return BUNDLED_DIR / weights[len(BUNDLED):]


def bundled_config(weights: str) -> dict:
    """``config.json`` of a bundled classifier: architecture, input size, task."""
    return json.loads((bundled_folder(weights) / "config.json").read_text())


@functools.lru_cache(maxsize=None)
def bundled_digest(weights: str) -> str:
    """Content hash of a bundled classifier's weights file (so retraining it makes a different run)."""
    path = bundled_folder(weights) / "model.safetensors"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "missing"
