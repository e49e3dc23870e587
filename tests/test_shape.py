"""The package keeps its shape: four stages (and the filter step) that never import each other, shared
ground that imports no stage (only the entry points above the stages, as the notebooks do, and nothing
imports them), no import cycle anywhere (the shared ground included), ``params`` that
imports no ``models``, papermill only in the runner, and modules short enough to read in one sitting.
Imports are read with ``ast`` from every module, function-local ones included."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from diffmix_utils.stages import PACKAGES

PACKAGE = Path(__file__).resolve().parent.parent / "diffmix_utils"
STAGES = PACKAGES  # diffmix_utils/stages.py: the one table of stages
RUNNER = "run"
# entry points above the stages, like the notebooks: they may call a stage; no module imports them
ENTRY_POINTS = ("verify",)
MAX_LINES = 300
# (importer, imported): a part of the package that must not import another, with the reason
FORBIDDEN = {("params", "models"): "the parameter checks sit below the model code (use diffmix_utils.backbones "
                                   "or diffmix_utils.bundled)"}


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
            if (me, other) in FORBIDDEN:
                problems.append(f"{where}: {me} must not import {other}: {FORBIDDEN[me, other]}")
            if other in ENTRY_POINTS and other != me:
                problems.append(f"{where}: {other} is an entry point above the stages; nothing imports it")
            if other not in STAGES or other == me or me == "" or me in ENTRY_POINTS:
                continue  # the package's front door (__init__) may name the stages lazily
            if me in STAGES:
                problems.append(f"{where}: a stage imports another stage (they meet only through artifacts)")
            else:
                problems.append(f"{where}: the shared ground imports a stage")
    return problems + [f"import cycle: {' -> '.join(c)}" for c in import_cycles(root)]


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, at any depth. Importing ``a.b.c`` runs the packages
    ``a.b`` on the way, so those count too; a module's own parent packages do not (Python has
    already started them)."""
    modules = {_module_name(root, path): path for path in root.rglob("*.py")}

    def owner(name: str) -> str | None:  # the module a dotted name lives in (``pkg.mod.func`` -> ``pkg.mod``)
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None
    graph = {}
    for me, path in modules.items():
        targets = set()
        for _, name in imports_of(root, path):
            target = owner(name)
            while target and target != root.name:
                if target != me and not me.startswith(target + "."):
                    targets.add(target)
                target = target.rpartition(".")[0]
        graph[me] = targets
    return graph


def import_cycles(root: Path) -> list[list[str]]:
    """Every import cycle, as a path ``a -> b -> ... -> a`` through one strongly connected group."""
    graph = import_graph(root)
    order, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        order[v] = low[v] = len(order)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in order:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], order[w])
        if low[v] == order[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)
    for v in sorted(graph):
        if v not in order:
            visit(v)
    return [_cycle_through(graph, group) for group in groups]


def _cycle_through(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """One concrete cycle inside a strongly connected group (shortest back to its first module)."""
    start = min(group)
    paths, seen = [[start]], {start}
    while paths:
        path = paths.pop(0)
        for w in sorted(graph[path[-1]] & group):
            if w == start:
                return path + [start]
            if w not in seen:
                seen.add(w)
                paths.append(path + [w])
    return sorted(group)


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


@pytest.mark.parametrize("files, expected", [
    # two shared-ground modules that import each other, one of them inside a function
    ({"artifacts.py": "from . import models\n", "models.py": "def f():\n    from .artifacts import key\n"},
     "import cycle: pkg.artifacts -> pkg.models -> pkg.artifacts"),
    # through a package's __init__, which importing one of its modules runs
    ({"params/__init__.py": "from .validate import check\n", "params/validate.py": "from ..keys import k\n",
      "keys.py": "from .params.sweep import expand\n", "params/sweep.py": ""},
     "import cycle: pkg.keys -> pkg.params -> pkg.params.validate -> pkg.keys"),
    ({"params/__init__.py": "", "params/checks.py": "from ..models.classifiers import create\n",
      "models/__init__.py": "", "models/classifiers.py": ""}, "params must not import models"),
])
def test_the_shape_check_catches_cycles_and_forbidden_imports(tmp_path, files, expected):
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    problems = shape_problems(root)
    assert any(expected in p for p in problems), problems


def test_the_package_has_no_import_cycle_even_between_its_lowest_modules():
    graph = import_graph(PACKAGE)
    assert "diffmix_utils.artifacts.keys" in graph["diffmix_utils.jobs"]  # the graph sees the package
    assert import_cycles(PACKAGE) == []
