"""README and docs/: every relative link and anchor resolves, every command they name exists, the
parameter reference equals the schema, and README fits on a screen and a half (12 KB)."""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
PYTHON_M = re.compile(r"python -m ([\w.]+)")
MAKE = re.compile(r"(?:`|^|\$ )make ([a-z][\w-]*)", re.M)  # a command: in backticks or a code line
SCRIPT = re.compile(r"python ((?:tools|benchmarks)/[\w/]+\.py)")
PARAM_FILE = re.compile(r"(?<![\w/])(params/[\w/.-]+\.yaml)")


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown page, and its ``<a id="...">`` anchors."""
    text = page.read_text()
    out = set(re.findall(r'<a id="([\w-]+)"></a>', text))
    for line in text.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", heading).replace(" ", "-"))
    return out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page):
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+://", target) or target.startswith("mailto:"):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{page.name}: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_named_exists(page):
    text = page.read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))
    missing = [f"python -m {m}" for m in set(PYTHON_M.findall(text))
               if importlib.util.find_spec(m.rstrip(".")) is None]
    missing += [f"make {t}" for t in set(MAKE.findall(text)) if t not in targets]
    missing += [f for f in set(SCRIPT.findall(text)) | set(PARAM_FILE.findall(text)) if not (ROOT / f).exists()]
    assert not missing, f"{page.name} names what does not exist: {sorted(missing)}"


def test_the_checks_catch_what_they_look_for(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Top\n[ok](#top) [gone](missing.md) [bad](#nowhere)\n")
    found = [t for t in LINK.findall(page.read_text())
             if not ((page.parent / t.partition("#")[0]).exists() if t.partition("#")[0]
                     else t.partition("#")[2] in anchors(page))]
    assert found == ["missing.md", "#nowhere"]
    assert PYTHON_M.findall("run python -m diffmix_utils.nothing here") == ["diffmix_utils.nothing"]
    assert importlib.util.find_spec("diffmix_utils.nothing") is None
    assert MAKE.findall("then `make demo` and\nmake test-ui, to make it so") == ["demo", "test-ui"]


def test_parameter_reference_equals_the_schema():
    r = subprocess.run([sys.executable, "tools/parameter_reference.py", "--check"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_readme_is_a_front_door():
    text = (ROOT / "README.md").read_text()
    assert len(text.encode()) <= 12 * 1024
    for must in ("make demo", "make test", "docs/parameters.md", "CITATION.cff", "LICENSE", "2403.19600"):
        assert must in text, must
    assert (ROOT / "LICENSE").is_file() and (ROOT / "CITATION.cff").is_file()
