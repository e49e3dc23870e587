"""The kit's published results (``results/<name>/``) are what README and docs quote: every generated
table equals what ``tools/result_tables.py`` writes from them, every two-decimal figure quoted in the
prose beside them is one of the generated tables' figures, and each run's summary and claim tables
recompute from its per-member rows alone."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from diffmix_utils import params
from diffmix_utils.analyze import published
from diffmix_utils.verify import _through_csv

ROOT = Path(__file__).resolve().parent.parent
NAMES = sorted(p.name for p in published.RESULTS_DIR.iterdir() if (p / "runs.csv").is_file())
NUMBER = re.compile(r"(?<![\w.])[+−-]?\d+\.\d\d(?![\d])")
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GENERATED = r"<!-- generated: ([\w/.-]+) -->\n(.*?)<!-- end generated -->"
NOT_RESULTS = {"3.11": "a Python version", "0.02": "the toy classifier's learning rate"}


def test_the_demo_that_make_verify_checks_is_published():
    assert "demo" in NAMES and "<!-- generated: demo/summary -->" in (ROOT / "README.md").read_text()


def test_generated_tables_equal_the_published_files():
    r = subprocess.run([sys.executable, "tools/result_tables.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def _sections_with_tables(page: Path) -> list[str]:
    """The page's sections (split at "## " headings) that hold a generated table."""
    return [s for s in re.split(r"\n(?=## )", page.read_text()) if re.search(GENERATED, s, re.S)]


@pytest.mark.parametrize("page", [p for p in PAGES if _sections_with_tables(p)], ids=lambda p: p.name)
def test_figures_quoted_beside_a_generated_table_are_its_figures(page):
    for section in _sections_with_tables(page):
        known = {n.replace("−", "-").lstrip("+") for _, b in re.findall(GENERATED, section, re.S)
                 for n in NUMBER.findall(b)}
        prose = re.sub(GENERATED, "", section, flags=re.S)
        quoted = {n.replace("−", "-").lstrip("+") for n in NUMBER.findall(prose)}
        stray = quoted - known - set(NOT_RESULTS)
        heading = section.strip().splitlines()[0]
        assert not stray, f"{page.name}, {heading!r}: figures no published table holds: {sorted(stray)}"


@pytest.mark.parametrize("name", NAMES)
def test_the_published_tables_recompute_from_the_per_member_rows(name, tmp_path):
    files = published.load(name)
    meta = files["meta"]
    p = params.load(ROOT / meta["params_file"], params.parse_overrides([f"workdir={tmp_path}"]))
    assert len(files["runs"]) == meta["members"] == len(params.expand_sweep(p))
    for table, frame in published.recomputed(p, files["runs"]).items():
        pd.testing.assert_frame_equal(_through_csv(frame), files[table], check_dtype=False)


def _published_with_made_up_rows(name: str, seeds: list[int], tmp_path, monkeypatch, seed: int):
    """Publish ``params/<name>.yaml`` over ``seeds`` from made-up classifier results (every metric of a
    member the same accuracy), into a temporary ``results/``; returns tools/result_tables.py as a module."""
    import importlib.util

    from diffmix_utils import artifacts
    p = params.load(ROOT / "params" / f"{name}.yaml",
                    params.parse_overrides([f"workdir={tmp_path / 'runs'}", f"sweep.seed={seeds}"]))
    rng = np.random.default_rng(seed)
    for m in params.expand_sweep(p):
        folder = artifacts.train_dir(m)
        if not artifacts.is_done(folder):
            folder.mkdir(parents=True, exist_ok=True)
            acc = round(0.5 + 0.2 * rng.random(), 4)
            artifacts.write_json(folder / "result.json", {k: acc for k in (
                "val_acc", "test_acc_at_best_val", "test_acc_final", "test_acc_best", "test_worst_group_acc_at_best_val")})
            artifacts.mark_done(folder)
    monkeypatch.setattr(published, "RESULTS_DIR", tmp_path / "results")
    published.publish(p, f"params/{name}.yaml", [f"params/{name}.yaml"])
    spec = importlib.util.spec_from_file_location("result_tables", ROOT / "tools" / "result_tables.py")
    tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tables)
    return tables


def test_the_toy_reproductions_tables_render_from_published_rows(tmp_path, monkeypatch):
    """The README and docs tables of ``toy_regimes`` from a published run (made-up accuracies, 4 draws),
    the 3-draw history table recomputed from the first draws' rows."""
    tables = _published_with_made_up_rows("toy_regimes", [0, 1, 2, 3], tmp_path, monkeypatch, 1)
    summary, claims, first = tables.regimes_summary(), tables.regimes_claims(), tables.regimes_claims(3)
    assert summary.count("\n") == 6 and "| Diff-Mix − real-mix |" in summary
    named = published.load("toy_regimes")["claim_named"].set_index("arm")
    assert tables.interval(named.loc["diff-mix"], "acc vs baseline") in summary
    assert claims.count("\n") == 2 + 3 + 3 + 4 and "| 4 |" in claims and "vs labels toward target: " in claims
    assert "| 3 |" in first and "| 4 |" not in first


def test_the_toy_paper_table_renders_from_published_rows(tmp_path, monkeypatch):
    """docs' Run 1 table from a published ``toy_paper`` (made-up accuracies, 3 seeds): every claim in
    the paper's order, the shift claim in worst-group accuracy, the controls against their partners."""
    tables = _published_with_made_up_rows("toy_paper", [0, 1, 2], tmp_path, monkeypatch, 2)
    text = tables.TABLES["toy_paper/claims"]()
    firsts = [line.split("|")[1].strip() for line in text.splitlines()[2:] if line.split("|")[1].strip()]
    assert firsts == ["few-shot", "shift (worst group)", "strength", "controls"]
    assert text.count("\n") == 2 + 6 + 3 + 6 + 6 and "| 3 |" in text
    assert "vs labels toward target: " in text and "vs diff-mix: " in text
