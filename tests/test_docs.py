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


# phrases that were wrong once (#34): stale cross-references after the split into docs/, the project's
# own history in user pages, a caption its own image contradicts
RETIRED = ["(next section)", "the Datasets table", "the whole test suite", "by mistake", "a slow day",
           "first CI run", "the background stays", "Python 3.10", "torch, CPU build", "Spec C.1",
           "checkpoints every epoch", "toy reproduction uses 5 seeds", "defaults are `params/smoke.yaml`",
           "shared ground", "Spec D.3", "spec C.1"]
USER_TEXT = [*PAGES[:1], *[p for p in PAGES[2:]], *sorted((ROOT / "params").rglob("*.yaml"))]


@pytest.mark.parametrize("page", USER_TEXT, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_retired_phrase_comes_back(page):
    found = [phrase for phrase in RETIRED if phrase in page.read_text()]
    assert not found, f"{page.name}: {found}"


def test_the_python_the_pages_ask_for_is_pyprojects():
    import tomllib
    need = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    version = re.fullmatch(r">=(3\.\d+)", need).group(1)
    for page in (ROOT / "README.md", ROOT / "docs" / "install.md"):
        said = set(re.findall(r"Python (3\.\d+) or newer", page.read_text()))
        assert said == {version}, f"{page.name} says Python {said or '(nothing)'} or newer; pyproject: {need}"
    assert f"python={version}" in (ROOT / "environment.yml").read_text()


def test_environment_yml_lists_every_dependency_of_pyproject():
    import tomllib
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.match(r"[A-Za-z0-9_.-]+", d).group(0).lower() for d in deps}
    listed = set(re.findall(r"^\s*-\s+([A-Za-z0-9_.-]+)", (ROOT / "environment.yml").read_text(), re.M))
    assert names <= {n.lower() for n in listed}, sorted(names - {n.lower() for n in listed})


SECTION_REF = re.compile(r"\((README|docs/[\w-]+\.md), \"([^\"\n]+)")  # (docs/paper.md, "On an offline GPU ...


def _commented_files() -> list[Path]:
    return sorted([*(ROOT / "params").rglob("*.yaml"), *(ROOT / "tools").iterdir(), *(ROOT / "benchmarks").glob("*.py")])


def test_a_section_that_a_file_header_names_exists_on_that_page():
    """Headers in params/, tools/ and benchmarks/ point at "(PAGE, "Section")": the page must have a heading
    holding that text (README's sections moved to docs/ once, and the comments kept the old names)."""
    refs, bad = 0, []
    for path in _commented_files():
        if not path.is_file() or path.suffix in (".png", ".json"):
            continue
        for page, section in SECTION_REF.findall(path.read_text()):
            refs += 1
            target = ROOT / ("README.md" if page == "README" else page)
            headings = re.findall(r"^#+ (.*)$", target.read_text(), re.M) if target.is_file() else []
            if not any(section.strip().lower() in h.lower() for h in headings):
                bad.append(f"{path.relative_to(ROOT)}: ({page}, \"{section}\")")
    assert refs >= 3 and not bad, bad


def test_benchmarks_ci_row_names_every_make_target_ci_runs():
    ci = re.findall(r"^make ([\w-]+)", (ROOT / ".ci" / "run").read_text(), re.M)
    row = next(line for line in (ROOT / "docs" / "benchmarks.md").read_text().splitlines() if 'id="ci-fresh-clone"' in line)
    missing = [t for t in ci if f"`make {t}`" not in row]
    assert ci and not missing, f"docs/benchmarks.md's .ci/run row does not name: {missing}"
