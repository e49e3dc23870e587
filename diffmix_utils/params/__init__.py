"""Parameters: one YAML file per experiment, validated before any work starts.

- ``schema``   every key of every section: default, type, range or choices, a one-line doc;
- ``validate`` load a file (``load``), apply ``--set`` overrides, fill defaults, and refuse a bad
  value with ``ParamsError`` naming the key, the value and what is valid;
- ``sweep``    expand ``sweep`` lists and ``variants`` into member runs; each member's baseline;
- ``variants`` check named bundles of overrides;
- ``notebook`` a notebook's parameters: its ``params_file`` with the cell's edited values on top.

Shared ground: every stage and the runner read parameters from here; it imports no stage.
"""
from .schema import (BUNDLED_MODELS, DATASETS, FINETUNE_MODES, SCHEMA, SECTIONS, STAGES, STRATEGIES,  # noqa: F401
                     Field, defaults)
from .sweep import (SYNTHETIC_ONLY_TRAIN_KEYS, baseline_of, expand_sweep, get,  # noqa: F401
                    reset_to_baseline, summary)
from .validate import (ParamsError, all_keys, check_value, dump, field, load, parse_overrides,  # noqa: F401
                       read_file, resolve)
from .notebook import from_notebook  # noqa: F401
