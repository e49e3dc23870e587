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
# the result prose that must quote the published files: (page, the heading it starts at, or the whole page)
PROSE = [("README.md", None), ("docs/toy-reproduction.md", "## Two regimes: results")]
NOT_RESULTS = {"3.11": "a Python version"}

def test_the_reference_runs_of_readme_and_docs_are_published():
    assert {"demo", "toy_regimes"} <= set(NAMES)


def test_generated_tables_equal_the_published_files():
    r = subprocess.run([sys.executable, "tools/result_tables.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("page, heading", PROSE)
def test_figures_quoted_beside_the_tables_are_the_tables_figures(page, heading):
    text = (ROOT / page).read_text()
    if heading:  # that section only: the plan before it quotes the figures it was planned from
        text = text[text.index(heading):]
        text = text[:text.index("\n## ", 1)] if "\n## " in text[1:] else text
    generated = r"<!-- generated: [\w/.-]+ -->\n(.*?)<!-- end generated -->"
    blocks = re.findall(generated, text, re.S)
    assert blocks, f"{page} has no generated table"
    known = {n.replace("−", "-").lstrip("+") for b in blocks for n in NUMBER.findall(b)}
    quoted = {n.replace("−", "-").lstrip("+") for n in NUMBER.findall(re.sub(generated, "", text, flags=re.S))}
    stray = quoted - known - set(NOT_RESULTS)
    assert not stray, f"{page} quotes figures no published table holds: {sorted(stray)}"


@pytest.mark.parametrize("name", NAMES)
def test_the_published_tables_recompute_from_the_per_member_rows(name, tmp_path):
    files = published.load(name)
    meta = files["meta"]
    p = params.load(ROOT / meta["params_file"], params.parse_overrides([f"workdir={tmp_path}"]))
    assert len(files["runs"]) == meta["members"] == len(params.expand_sweep(p))
    for table, frame in published.recomputed(p, files["runs"]).items():
        pd.testing.assert_frame_equal(_through_csv(frame), files[table], check_dtype=False)
