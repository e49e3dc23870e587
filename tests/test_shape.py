"""The package keeps its shape: four stages (and the filter step) that never import each other, shared
ground that imports no stage, papermill only in the runner, and modules short enough to read in one
sitting. Imports are read with ``ast`` from every module, function-local ones included."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "diffmix_utils"
STAGES = ("finetune", "synthesize", "filtering", "train", "analyze")
RUNNER = "run"
MAX_LINES = 300


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(root: Path, dotted: str) -> bool:
    rel = Path(*dotted.split(".")[1:]) if "." in dotted else Path()
    return (root / rel).with_suffix(".py").is_file() or (root / rel / "__init__.py").is_file()


def imports_of(root: Path, path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``, at any depth; ``from X import name``
    counts as importing ``X.name`` when that is a module of the package."""
    me = _module_name(root, path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            for a in node.names:
                sub = f"{module}.{a.name}"
                found.append((node.lineno, sub if module.startswith(root.name) and _is_module(root, sub) else module))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            target = node.args[0].value
            found.append((node.lineno, f"{package}{target}" if target.startswith(".") else target))
    return sorted(set(found))


def part_of(root: Path, module: str) -> str | None:
    """The first component below the package ("train", "params", ...), None outside the package."""
    parts = module.split(".")
    return parts[1] if parts[0] == root.name and len(parts) > 1 else (None if parts[0] != root.name else "")


def shape_problems(root: Path) -> list[str]:
    problems = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent)
        me = part_of(root, _module_name(root, path))
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES:
            problems.append(f"{rel}: {lines} lines (at most {MAX_LINES}: split it by purpose)")
        for line, module in imports_of(root, path):
            other = part_of(root, module)
            where = f"{rel}:{line} imports {module}"
            if module.split(".")[0] == "papermill" and me != RUNNER:
                problems.append(f"{where}: only the runner ({RUNNER}.py) may import papermill")
            if other not in STAGES or other == me or me == "":
                continue  # the package's front door (__init__) may name the stages lazily
            if me in STAGES:
                problems.append(f"{where}: a stage imports another stage (they meet only through artifacts)")
            else:
                problems.append(f"{where}: the shared ground imports a stage")
    return problems


def test_the_package_keeps_its_shape():
    assert shape_problems(PACKAGE) == []


def test_every_stage_is_a_package_with_run_stage():
    import importlib
    for stage in STAGES:
        assert (PACKAGE / stage / "__init__.py").is_file(), stage
        assert callable(importlib.import_module(f"diffmix_utils.{stage}").run_stage), stage
    from diffmix_utils import analysis, analyze, finetune, params, synthesize, train, widgets  # noqa: F401
    assert analysis is analyze  # the earlier public name keeps working


@pytest.mark.parametrize("source, expected", [
    ("from ..synthesize import run_synthesis\n", "a stage imports another stage"),
    ("def f():\n    from ..synthesize.stage import prepare\n", "a stage imports another stage"),
    ("import pkg.analyze.tables\n", "a stage imports another stage"),
    ("import papermill\n", "only the runner"),
])
def test_the_shape_check_catches_each_kind_of_mistake(tmp_path, source, expected):
    root = tmp_path / "pkg"
    for folder in ("train", "synthesize", "analyze"):
        (root / folder).mkdir(parents=True)
        (root / folder / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "synthesize" / "stage.py").write_text("")
    (root / "analyze" / "tables.py").write_text("")
    (root / "train" / "stage.py").write_text(source)
    (root / "artifacts.py").write_text("from .train import stage\n")
    (root / "long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    problems = shape_problems(root)
    assert any(expected in p and "train/stage.py" in p for p in problems), problems
    assert any("artifacts.py" in p and "shared ground imports a stage" in p for p in problems)
    assert any("long.py" in p and f"{MAX_LINES + 1} lines" in p for p in problems)
