"""Parameters inside a notebook: ``from_notebook`` turns the ``parameters`` cell (after papermill's
injection) into one validated parameter dict.

The cell holds two names: ``params_file`` (default ``params/demo.yaml``, so a notebook opened after
``make demo`` shows that run) and ``overrides``, a small dict of dotted keys set on top of the file
(``{'synthesize.strength': 0.5, 'sweep.seed': [0, 1]}``), applied exactly as the runner's ``--set``.

papermill users pass parameters two ways, and both mean what they say:

- ``papermill NB OUT -p params_file params/x.yaml`` reads that file;
- ``papermill NB OUT -f params/x.yaml`` injects the file's sections (``name``, ``data``, ...) as
  variables. Injected sections that include ``name`` are a whole parameter file: they are the run,
  and ``params_file`` is not read. Injected sections without a ``name`` (``-y "train: {epochs: 3}"``, or ``-f``
  with a partial file) are set on top of ``params_file``, key by key.

The runner injects ``params_file`` (the run's resolved ``runs/<name>/params.yaml``) and ``overrides = {}``.
A whole injected file beside a ``params_file`` other than the default is refused (the two would mix).
"""
from __future__ import annotations

from pathlib import Path

from .loading import apply_overrides, read_file
from .schema import SCHEMA
from .validate import ParamsError, closest_keys, resolve

DEFAULT_PARAMS_FILE = "params/demo.yaml"
# Names a notebook's later cells assign, and IPython's own: not parameters, so a re-run cell is fine.
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open", "P", "folders", "files", "f"}
_PLAIN = (type(None), bool, int, float, str, list, tuple, dict)


def from_notebook(namespace: dict) -> dict:
    """The validated parameters of a notebook whose globals are ``namespace``.

    Every public global holding plain data (None, bool, number, str, list, tuple, dict) is read: the
    schema's sections (injected by papermill ``-f`` or the runner), ``params_file`` and ``overrides``.
    Any other plain name is reported with the closest valid keys, never silently ignored; objects later
    cells made (a path, a pipeline, a module) are not parameters.
    """
    import os
    if not Path("params").is_dir() and Path("../params").is_dir():
        os.chdir("..")  # JupyterLab starts kernels in notebooks/; paths are relative to the kit root
    plain = {k: v for k, v in namespace.items()
             if not k.startswith("_") and k not in _IPYTHON_NAMES and isinstance(v, _PLAIN)}
    params_file = plain.pop("params_file", DEFAULT_PARAMS_FILE)
    overrides = plain.pop("overrides", None)
    unknown = [k for k in plain if k not in SCHEMA]
    if unknown:
        raise ParamsError(f"unknown key '{unknown[0]}' in the notebook's parameters; the cell holds params_file "
                          f"and overrides (dotted keys such as {{'train.epochs': 3}}); "
                          f"{closest_keys(unknown[0], list(SCHEMA) + ['params_file', 'overrides'])}")
    if "name" in plain:  # a whole file injected: papermill -f FILE, or the runner
        if params_file not in (None, DEFAULT_PARAMS_FILE):
            raise ParamsError(f"params_file = {str(params_file)!r} and an injected parameter file (name = "
                              f"{plain['name']!r}) are both given and would mix; pass one: papermill -p "
                              "params_file FILE, or papermill -f FILE")
        raw, where = plain, "the injected parameters"
    elif params_file is None:
        raw, where = {}, "the schema defaults"
    else:
        path = _kit_path(params_file)
        raw, where = read_file(path), str(path)
        raw = apply_overrides(raw, _dotted(plain), where)  # injected sections without a name: key by key
    return resolve(apply_overrides(raw, overrides, where))


def _dotted(sections: dict) -> dict:
    """``{'train': {'epochs': 3}, 'seed': 1}`` as ``{'train.epochs': 3, 'seed': 1}`` (sweep axes too)."""
    out = {}
    for key, value in sections.items():
        if isinstance(SCHEMA.get(key), dict) and isinstance(value, dict):
            out.update({f"{key}.{sub}": v for sub, v in value.items()})
        else:
            out[key] = value
    return out


def _kit_path(path) -> Path:
    """``path`` as given, or relative to the kit root when it is not found from here."""
    if not isinstance(path, (str, Path)):
        raise ParamsError(f"params_file = {path!r} must be a path to a YAML file (e.g. 'params/demo.yaml') or None")
    here, kit = Path(path), Path(__file__).resolve().parents[2] / path
    return here if here.exists() or here.is_absolute() or not kit.exists() else kit
