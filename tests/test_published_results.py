"""The kit's published results (``results/<name>/``) are what README and docs quote: every generated
table equals what ``tools/result_tables.py`` writes from them, every two-decimal figure quoted in the
prose beside them is one of the generated tables' figures, and each run's summary and claim tables
recompute from its per-member rows alone."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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
NOT_RESULTS = {"3.11": "a Python version"}


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
