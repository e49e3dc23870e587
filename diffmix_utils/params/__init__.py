"""Parameters: one YAML file per experiment, validated before any work starts.

- ``schema``   every key of every section: default, type, range or choices, a one-line doc;
- ``validate`` fill defaults and refuse a bad value with ``ParamsError`` naming the key, the value and
  what is valid (a mistyped key: the closest valid ones);
- ``loading``  read a file (``load``) and apply dotted overrides (``--set``, a notebook's ``overrides``);
- ``sweep``    expand ``sweep`` lists and ``variants`` into member runs; each member's baseline;
- ``variants`` check named bundles of overrides;
- ``notebook`` a notebook's parameters: its ``params_file`` (or papermill's injected file) and ``overrides``.

Shared ground: every stage and the runner read parameters from here; it imports no stage.
"""
from .schema import (BUNDLED_MODELS, DATASETS, FINETUNE_MODES, SCHEMA, SECTIONS, STAGES, STRATEGIES,  # noqa: F401
                     Field, defaults)
from .sweep import (SYNTHETIC_ONLY_TRAIN_KEYS, baseline_of, expand_sweep, get,  # noqa: F401
                    reset_to_baseline, summary)
from .validate import ParamsError, all_keys, check_value, closest_keys, field, resolve  # noqa: F401
from .loading import apply_overrides, dump, keep_variants, load, parse_overrides, read_file  # noqa: F401
from .notebook import from_notebook  # noqa: F401
