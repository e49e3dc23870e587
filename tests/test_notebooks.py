"""The notebooks: committed clean, parameters cell first and in sync, and they really run."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from diffmix_utils import params
from in_process import run_cli

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
ALL_NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_four_numbered_notebooks():
    assert [n.name for n in NOTEBOOKS] == ["01_finetune.ipynb", "02_synthesize.ipynb",
                                           "03_train.ipynb", "04_analyze.ipynb"]


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs_and_parameters_first(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert all(not c.outputs and c.execution_count is None for c in code), \
        f"{path.name} holds outputs; commit notebooks without them: python tools/sync_notebooks.py --clear-outputs"


def test_parameters_cells_match_the_schema(monkeypatch, capsys):
    code, printed = run_cli(["python", "tools/sync_notebooks.py", "--check"], monkeypatch, capsys)
    assert code == 0, printed


def _sync_tool():
    import importlib.util
    spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "tools" / "sync_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_users_edits_pass_the_check_and_what_the_kit_relies_on_is_checked():
    tool = _sync_tool()
    nb = nbformat.read(ROOT / "notebooks" / "02_synthesize.ipynb", as_version=4)
    nb.cells[0].source += "\n\nMy own note."  # what a person does in JupyterLab ...
    nb.cells.append(nbformat.v4.new_code_cell("x = 1 + 1  # my own cell"))
    nb.cells[1].source = "params_file = 'params/smoke.yaml'\noverrides = {'train.epochs': 2}"
    nb.cells[4].source = "# my narration\n" + nb.cells[4].source
    assert tool.problems("02_synthesize.ipynb", nb) == []  # ... passes
    bad = nbformat.from_dict(nb)
    bad.cells[1].source = "params_file = 'params/smoke.yaml'\noverrides = {'synthesize.strenght': 0.5}"
    assert "did you mean synthesize.strength" in tool.problems("02_synthesize.ipynb", bad)[0]
    bad.cells[1].source = "params_file = 'params/smoke.yaml'\noverrides = {}\nname = 'x'"
    assert "only params_file and overrides" in tool.problems("02_synthesize.ipynb", bad)[0]
    renamed = nbformat.from_dict(nb)
    renamed.cells.append(nbformat.v4.new_code_cell("report.translation_grid(P)\n"
                                                   "from diffmix_utils.synthesize import no_such_name"))
    found = tool.problems("02_synthesize.ipynb", renamed)
    assert found == ["diffmix_utils.synthesize.no_such_name does not exist",
                     "diffmix_utils.synthesize.report.translation_grid does not exist"]


def _run(args, cwd):
    return subprocess.run([sys.executable, "-m", "diffmix_utils.run", *args], cwd=cwd,
                          capture_output=True, text=True)


def test_smoke_run_executes_all_four_notebooks_then_skips(tmp_path):
    sets = ["--set", f"workdir={tmp_path / 'runs'}", "--set", f"analyze.figures_dir={tmp_path / 'figures'}"]
    r = _run([str(ROOT / "params" / "smoke.yaml"), *sets], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    run = tmp_path / "runs" / "smoke"
    assert sorted(p.name for p in (run / "notebooks").glob("*.ipynb")) == [n.name for n in NOTEBOOKS]
    for n in NOTEBOOKS:  # each executed notebook also as a self-contained HTML report
        report = (run / "notebooks" / n.name).with_suffix(".html").read_text()
        title = nbformat.read(n, as_version=4).cells[0].source.splitlines()[0].lstrip("# ")
        assert report.startswith("<!DOCTYPE html>") and title in report
    assert (run / "params.yaml").is_file()
    figs = tmp_path / "figures" / "smoke"
    for name in ("accuracy_vs_strength.png", "accuracy_vs_strength.pdf", "translations.png",
                 "tables/results.csv", "tables/results.md"):
        assert (figs / name).stat().st_size > 0, name
    table = (figs / "tables" / "results.csv").read_text().splitlines()
    assert len(table) == 1 + 3  # baseline + diff-mix at two strengths
    store = tmp_path / "runs" / "store"
    stage_folders = [f for stage in ("finetune", "synthesize", "train") for f in (store / stage).iterdir()
                     if not f.name.startswith(".")] + [figs]
    for folder in stage_folders:  # every artifact folder records where it came from
        record = json.loads((folder / "provenance.json").read_text())
        assert record["torch"] and record["python"] and record["devices"], folder
    assert record["base_model"] == "bundled:tiny-sd" and record["resolved_revision"].startswith("sha256:")
    assert record["split_checksum"] and (figs / "tables" / "environment.md").is_file()
    again = _run([str(ROOT / "params" / "smoke.yaml"), *sets], cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.count("complete, skipped") == 4


def _papermill(notebook: Path, out: Path, *args: str) -> dict:
    """papermill's own command line as its user types it, up to the parameters it injects (--prepare-only),
    then the notebook's code cells in this process: what a kernel would run, without a kernel's start."""
    from click.testing import CliRunner
    from papermill.cli import papermill
    r = CliRunner().invoke(papermill, [str(notebook), str(out), "--prepare-only", *args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    namespace: dict = {}
    for cell in nbformat.read(out, as_version=4).cells:
        if cell.cell_type == "code":
            exec(compile(cell.source, str(out), "exec"), namespace)
    return namespace


@pytest.mark.parametrize("how", [["-f", "params/smoke.yaml"], ["-p", "params_file", "params/smoke.yaml"],
                                 ["-y", "overrides: {name: smoke, train.epochs: 3}"]], ids=["-f", "-p", "-y"])
def test_papermill_runs_the_file_its_user_names(tmp_path, monkeypatch, how):
    nb = nbformat.read(ROOT / "notebooks" / "04_analyze.ipynb", as_version=4)
    nb.cells = nb.cells[:3]  # the title, the parameters cell and the cell that loads the parameter file
    nbformat.write(nb, tmp_path / "head.ipynb")
    monkeypatch.chdir(ROOT)
    P = _papermill(tmp_path / "head.ipynb", tmp_path / "out.ipynb", *how)["P"]
    epochs = 3 if how[0] == "-y" else params.load(ROOT / "params" / "smoke.yaml")["train"]["epochs"]
    assert (P["name"], P["train"]["epochs"]) == ("smoke", epochs)


def test_papermill_alone_rejects_an_unknown_parameter(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(params.ParamsError, match="unknown key 'bogus_key'"):
        _papermill(ROOT / "notebooks" / "04_analyze.ipynb", tmp_path / "out.ipynb",
                   "-p", "bogus_key", "1", "-p", "workdir", str(tmp_path))


