"""Find the commands the kit's pages and file headers show, and check each with the real parser of
what it calls (the kit's ``parser()``, papermill's click command, accelerate's and torchrun's parsers).

Used by ``tests/test_docs_commands.py``. A command is a line of a fenced block (``$ `` and ``\\``
continuations allowed) or a backtick span that starts with ``python -m``, ``python tools|benchmarks/``,
``papermill``, ``accelerate launch``, ``torchrun``, ``sbatch`` or ``make``. Written as a synopsis, it may
hold placeholders (``FILE``, ``<key>``, ``$PARAMS``), optional parts in ``[...]`` and ``...``; those are
parsed as words, and the parameter checks run only when the parameter file named exists.
"""
from __future__ import annotations

import ast
import contextlib
import functools
import importlib.util
import io
import json
import re
import shlex
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND = re.compile(r"(?:python3? -m [\w.{},<>]+|python3? (?:tools|benchmarks)/[\w/]+\.py|papermill|"
                     r"accelerate launch|torchrun|sbatch|make)(?=\s|$)")
SPAN = re.compile(r"``([^`\n]+)``|`([^`\n]+)`")
FENCE = re.compile(r"^\s*```")
STAGE_MODULES = ("finetune", "synthesize", "filtering", "train")
PLACEHOLDER = re.compile(r"""["']?(?:\$\{?\w+\}?|[A-Z][A-Z0-9_]*(?:\.\w+)?|.*<[\w -]+>.*)["']?""")
# sbatch's options the pages may use (sbatch(1)); the kit's sbatch file takes one argument, the params file
SBATCH_OPTIONS = {"--gpus-per-node", "--gpus", "--gres", "--cpus-per-task", "--mem", "--time", "--partition",
                  "--job-name", "--output", "--error", "--nodes", "--ntasks-per-node", "--account", "--requeue",
                  "--signal", "--array", "--qos", "--constraint"}


def sources() -> list[tuple[str, str, str]]:
    """(name, kind, text) of every place a user reads commands: pages, notebooks' markdown, the headers
    and comments of params/, tools/, benchmarks/ and the package."""
    out = [(str(p.relative_to(ROOT)), "md", p.read_text())
           for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))] if p.name != "cli.md"]
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        out.append((str(nb.relative_to(ROOT)), "md",
                    "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")))
    for f in [*sorted((ROOT / "params").rglob("*.yaml")), ROOT / "tools" / "run_paper.sbatch"]:
        out.append((str(f.relative_to(ROOT)), "comments",
                    "\n".join(line.split("#", 1)[1] for line in f.read_text().splitlines() if "#" in line)))
    for f in [*sorted((ROOT / "tools").glob("*.py")), *sorted((ROOT / "benchmarks").glob("*.py")),
              *sorted((ROOT / "diffmix_utils").rglob("*.py"))]:
        out.append((str(f.relative_to(ROOT)), "comments", _python_prose(f.read_text())))
    return out


def _python_prose(source: str) -> str:
    """A Python file's docstrings and comments: where its commands are written for people."""
    tree = ast.parse(source)
    parts = [ast.get_docstring(n, clean=True) or "" for n in ast.walk(tree)
             if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))]
    parts += [t.string.lstrip("#") for t in tokenize.generate_tokens(io.StringIO(source).readline)
              if t.type == tokenize.COMMENT]
    return "\n\n".join(parts)


def commands(kind: str, text: str) -> list[str]:
    """The commands in ``text``: fenced lines (markdown), lines and spans (both kinds)."""
    found, fenced, lines = [], False, text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if kind == "md" and FENCE.match(line):
            fenced = not fenced
            i += 1
            continue
        stripped = re.sub(r"^\s*(?:\$ )?", "", line)
        example = fenced or (kind == "comments" and re.match(r"\s{2,}|\s*\$ ", line))  # an indented example
        if example and COMMAND.match(stripped):
            while stripped.rstrip().endswith("\\") and i + 1 < len(lines):  # a continued shell line
                i += 1
                stripped = stripped.rstrip()[:-1] + " " + lines[i].strip()
            found.append(" ".join(stripped.split()))
        elif not fenced:
            found += [s for a, b in SPAN.findall(line) for s in [a or b] if COMMAND.match(s)]
        i += 1
    return found


def words_of(command: str) -> list[list[str]]:
    """The command as shell words, one list per module a brace or ``<stage>`` stands for; a synopsis's
    ``[``, ``]``, ``...`` and ``|`` dropped, comments removed."""
    words = shlex.split(command, comments=True)
    words = [_unbracket(w) for w in words if w not in ("...", "…", "|", "\\")]
    words = [w for w in words if w]
    out = []
    for i, w in enumerate(words):
        if i and words[i - 1] == "-m" and ("{" in w or "<" in w):
            stem = w.split("{")[0].split("<")[0] or "diffmix_utils."
            names = w[w.index("{") + 1:w.index("}")].split(",") if "{" in w else STAGE_MODULES
            return [words[:i] + [stem + n] + words[i + 1:] for n in names]
    return out or [words]


def _unbracket(word: str) -> str:
    """A synopsis's optional part ``[--steps 60]`` as its words; ``sweep.seed=[0,1]`` stays as it is."""
    if word.startswith("["):
        word = word[1:]
    return word[:-1] if word.endswith("]") and "[" not in word else word


def _argparse(parser, args: list[str]) -> tuple[object | None, str]:
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            return parser.parse_args(args), ""
    except SystemExit:
        return None, err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else "parse error"


def _is_placeholder(word: str) -> bool:
    return bool(PLACEHOLDER.fullmatch(word))


def _kit_params(module: str, ns) -> str:
    """The parameter check of a kit command whose file exists: '' or the error."""
    from diffmix_utils import params
    file = getattr(ns, "params_file", None)
    if not file or _is_placeholder(str(file)) or not (ROOT / str(file)).is_file():
        return ""
    try:
        if module == "diffmix_utils.run":
            from diffmix_utils.run import params_from_args
            params_from_args(ns)
        else:
            params.load(ROOT / str(file), params.parse_overrides(getattr(ns, "set", None) or []))
    except params.ParamsError as exc:
        return str(exc)
    return ""


@functools.lru_cache(maxsize=1)
def cli_reference():
    """``tools/cli_reference.py`` as a module: its ``parser_for`` finds a command's parser."""
    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "tools" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_python(words: list[str]) -> str:
    """'' when ``python -m M ...`` / ``python script.py ...`` parses (and its parameters validate)."""
    if words[1] == "-m" and not words[2].startswith("diffmix_utils"):  # another package's module (venv, pip)
        return "" if importlib.util.find_spec(words[2]) else f"python -m {words[2]}: no such module"
    try:
        parser, args = cli_reference().parser_for(words)
    except LookupError as exc:
        return str(exc)
    if not args:  # the command named, not run: its parser is enough
        return ""
    ns, error = _argparse(parser, args)
    if ns is None and any(_is_placeholder(a) for a in args):  # a synopsis: N, FILE stand for values
        ns, _ = _argparse(parser, ["1" if _is_placeholder(a) else a for a in args])
    if ns is None:
        return error
    return _kit_params(words[2], ns) if words[1] == "-m" else ""


def check_papermill(words: list[str]) -> str:
    """'' when papermill's own command line accepts ``words`` and the notebook would validate what it
    injects (``params.from_notebook``, as the notebook's second cell does)."""
    import click
    import yaml
    from papermill.cli import _resolve_type
    from papermill.cli import papermill as cli

    from diffmix_utils import params
    try:
        ctx = cli.make_context("papermill", words[1:])
    except click.ClickException as exc:
        return f"papermill: {exc.format_message()}"
    a = ctx.params
    nb = a["notebook_path"]
    if not _is_placeholder(nb) and not (ROOT / nb).is_file():
        return f"papermill: no notebook {nb}"
    injected, semantic = {}, not _is_placeholder(nb)
    for file in a["parameters_file"]:
        if _is_placeholder(file) or not (ROOT / file).is_file():
            semantic = False
            continue
        injected.update(yaml.safe_load((ROOT / file).read_text()))
    for text in a["parameters_yaml"]:
        injected.update(yaml.safe_load(text))
    injected.update({k: _resolve_type(v) for k, v in a["parameters"]})
    injected.update(dict(a["parameters_raw"]))
    if any(_is_placeholder(str(v)) for v in injected.values()):
        semantic = False
    if semantic:
        try:
            params.from_notebook(injected)
        except params.ParamsError as exc:
            return f"the notebook would refuse it: {exc}"
    return ""


def check_launcher(words: list[str]) -> str:
    """``accelerate launch`` / ``torchrun``: the launcher's parser, then the kit module's."""
    if words[0] == "accelerate":
        from accelerate.commands.launch import launch_command_parser
        parser, args = launch_command_parser(), words[2:]
    else:
        from torch.distributed.run import get_args_parser
        parser, args = get_args_parser(), words[1:]
    ns, error = _argparse(parser, args)
    if ns is None:
        return f"{words[0]}: {error}"
    if not ns.module:
        return f"{words[0]}: the kit's stages run as modules (-m diffmix_utils.<stage>)"
    return check_python(["python", "-m", ns.training_script, *ns.training_script_args])


def check_sbatch(words: list[str]) -> str:
    options = [w for w in words[1:] if w.startswith("-")]
    rest = [w for w in words[1:] if not w.startswith("-")]
    unknown = [o for o in options if o.split("=")[0] not in SBATCH_OPTIONS]
    if unknown:
        return f"sbatch: unknown option(s) {unknown}"
    if not rest or not (ROOT / rest[0]).is_file():
        return f"sbatch: no script {rest[0] if rest else '(none)'}"
    for arg in rest[1:]:
        if not _is_placeholder(arg) and not (ROOT / arg).is_file():
            return f"sbatch {rest[0]}: no parameter file {arg}"
    return ""


def check_make(words: list[str]) -> str:
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))
    return "" if len(words) > 1 and words[1] in targets else f"make: no target {words[1:2]}"


def check(command: str) -> str:
    """'' when every reading of ``command`` parses and validates; else what is wrong."""
    try:
        readings = words_of(command)
    except ValueError as exc:
        return f"not shell words: {exc}"
    for words in readings:
        first = words[0]
        if len(words) == len(COMMAND.match(" ".join(words))[0].split()):  # named in prose, not run
            if first.startswith("python"):
                problem = check_python(words)
            else:  # a launcher or make named (make alone: its first target, install)
                continue
            if problem:
                return problem
            continue
        problem = (check_python(words) if first.startswith("python") else
                   check_papermill(words) if first == "papermill" else
                   check_launcher(words) if first in ("accelerate", "torchrun") else
                   check_sbatch(words) if first == "sbatch" else check_make(words))
        if problem:
            return problem
    return ""
