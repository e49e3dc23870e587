"""Parameters inside a notebook: ``from_notebook`` validates what the ``parameters`` cell holds after
papermill's injection, starting from the ``params_file`` it names (default ``params/demo.yaml``, so
a notebook opened after ``make demo`` shows that run) with the cell's edited values on top.
"""
from __future__ import annotations

from pathlib import Path

from .schema import defaults
from .validate import ParamsError, read_file, resolve

_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open", "P", "folders", "files", "f"}
_PLAIN = (type(None), bool, int, float, str, list, tuple, dict)


def from_notebook(namespace: dict) -> dict:
    """Validate the parameters a notebook holds after papermill injected its own.

    Every public global of the notebook holding plain data (what a parameters cell or papermill can
    set: None, bool, number, str, list, tuple, dict) is a parameter: names papermill injected that the
    schema does not know are reported, not silently ignored. Objects later cells made (a path, a
    pipeline, a module) are not parameters, so the cell can be run again after them. ``params_file``
    (a path, relative to the kit root, or None) names a parameter file to start from; the notebook's
    values that differ from the schema defaults override it (the runner injects ``params_file=None``
    and every resolved value).
    """
    import os
    if not Path("params").is_dir() and Path("../params").is_dir():
        os.chdir("..")  # JupyterLab starts kernels in notebooks/; paths are relative to the kit root
    raw = {k: v for k, v in namespace.items()
           if not k.startswith("_") and k not in _IPYTHON_NAMES
           and isinstance(v, _PLAIN)}
    params_file = raw.pop("params_file", None)
    if params_file is None:
        return resolve(raw)
    from_file, changes = read_file(_kit_path(params_file)), _changed(raw)
    if "name" in changes and from_file.get("name") not in (None, changes["name"]):
        raise ParamsError(f"name = {changes['name']!r} in the notebook, but params_file = {str(params_file)!r} "
                          f"is the run {from_file['name']!r}: the two would mix. To run another file, inject "
                          "it as params_file (papermill -p params_file FILE), or inject a whole file with "
                          "params_file None (papermill -f FILE -p params_file None)")
    return resolve(_overlay(from_file, changes))


def _kit_path(path) -> Path:
    """``path`` as given, or relative to the kit root when it is not found from here."""
    if not isinstance(path, (str, Path)):
        raise ParamsError(f"params_file = {path!r} must be a path to a YAML file (e.g. 'params/demo.yaml') or None")
    here, kit = Path(path), Path(__file__).resolve().parents[2] / path
    return here if here.exists() or here.is_absolute() or not kit.exists() else kit


def _changed(raw: dict) -> dict:
    """The values (per section key) of ``raw`` that differ from the schema defaults; unknown names kept."""
    base, out = defaults(), {}
    for key, value in raw.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict) and key not in ("sweep",):
            sub = {k: v for k, v in value.items() if k not in base[key] or v != base[key][k]}
            if sub:
                out[key] = sub
        elif key not in base or value != base[key]:
            out[key] = value
    return out


def _overlay(raw: dict, changes: dict) -> dict:
    out = dict(raw)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "sweep":
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out
