"""The docs do what they say: every command in README, docs/, the notebooks' markdown and the file
headers parses with the real parser of what it calls and its parameters validate; every cache path a
page exports is where ``fetch --to`` writes; every measured time or speed a page quotes links to a
dated entry of docs/benchmarks.md; the CLI reference equals the parsers; and a few cheap commands the
pages show are run."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import docs_commands as dc  # noqa: E402
from in_process import run_cli  # noqa: E402

ROOT = dc.ROOT
FOUND = [(name, command) for name, kind, text in dc.sources() for command in dc.commands(kind, text)]
# commands a page shows *because* they fail: each must fail, naming what the page says it names
SHOWN_FAILING = {"papermill notebooks/02_synthesize.ipynb out.ipynb -p bogus_key 1": "bogus_key"}


@pytest.fixture(autouse=True)
def _at_the_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # pages give paths from the kit's root


def test_the_pages_show_many_commands():
    kinds = {c.split()[0] for _, c in FOUND}
    assert len(FOUND) > 150 and {"python", "papermill", "accelerate", "torchrun", "sbatch", "make"} <= kinds


@pytest.mark.parametrize("name", sorted({n for n, _ in FOUND}))
def test_every_command_parses_and_its_parameters_validate(name):
    bad = [f"{c!r}: {problem}" for n, c in FOUND if n == name and c not in SHOWN_FAILING
           for problem in [dc.check(c)] if problem]
    assert not bad, f"{name}:\n" + "\n".join(bad)


@pytest.mark.parametrize("command,names", SHOWN_FAILING.items())
def test_a_command_shown_failing_fails_as_the_page_says(command, names):
    assert command in {c for _, c in FOUND}, "no page shows it any more: drop it here"
    assert names in dc.check(command)


@pytest.mark.parametrize("command,problem", [
    ("python -m diffmix_utils.run params/demo.yaml --nope", "unrecognized arguments: --nope"),
    ("python -m diffmix_utils.run params/demo.yaml --set seed=3", "sweeps sweep.seed"),
    ("python -m diffmix_utils.run params/demo.yaml --set trian.epochs=3", "trian"),
    ("python -m diffmix_utils.nothing params/demo.yaml", "no such module"),
    ("python benchmarks/loading.py --repeets 5", "unrecognized arguments"),
    ("papermill notebooks/03_train.ipynb out.ipynb -p train '{epochs: 3}'", "section"),
    ("papermill notebooks/03_train.ipynb out.ipynb -q", "No such option"),
    ("papermill notebooks/99_none.ipynb out.ipynb", "no notebook"),
    ("accelerate launch --num_processes 4 -m diffmix_utils.train params/demo.yaml --only", "unrecognized"),
    ("torchrun --nproc-per-node 2 -m diffmix_utils.synthesize params/nope.yaml --shard 1", "--shard"),
    ("sbatch --gpus-per-nod=4 tools/run_paper.sbatch params/paper/fewshot_cub.yaml", "unknown option"),
    ("sbatch tools/run_paper.sbatch params/paper/nothing.yaml", "no parameter file"),
    ("make tests", "no target"),
])
def test_the_checks_catch_what_they_look_for(command, problem):
    assert problem in dc.check(command)


def test_synopses_placeholders_and_braces_are_read_as_a_reader_would():
    assert dc.check("python -m diffmix_utils.run params/paper/<file>.yaml --num-processes N") == ""
    assert dc.check("python benchmarks/finetune_speed.py [params/benchmark.yaml] [--steps 60] [--set KEY=VALUE]") == ""
    assert [w[2] for w in dc.words_of("python -m diffmix_utils.{finetune,train} params.yaml")] == [
        "diffmix_utils.finetune", "diffmix_utils.train"]
    assert dc.words_of("python -m diffmix_utils.run f.yaml --set 'sweep.seed=[5,6,7]'  # a comment")[0][-1] == \
        "sweep.seed=[5,6,7]"
    page = "text `make demo` and\n```bash\n$ python -m diffmix_utils.run \\\n  x.yaml\n```\n"
    assert sorted(dc.commands("md", page)) == ["make demo", "python -m diffmix_utils.run x.yaml"]


# --- cache paths: what a page exports is where fetch --to writes -------------------------------------

EXPORT = re.compile(r"\b(HF_HUB_CACHE|TORCH_HOME)=(\S+)")


def _exports() -> list[tuple[str, str, dict[str, str]]]:
    out = []
    shell = ("tools/run_paper.sbatch", "comments", (ROOT / "tools" / "run_paper.sbatch").read_text())
    for name, _, text in [*dc.sources(), shell]:
        for line in text.splitlines():
            found = dict(EXPORT.findall(line))
            if found:
                out.append((name, line.strip(), found))
    return out


def test_every_exported_cache_path_is_where_fetch_writes():
    exports = _exports()
    assert {n for n, _, _ in exports} >= {"docs/paper.md", "tools/run_paper.sbatch"}
    bad = [f"{name}: {line}" for name, line, found in exports if not _as_fetch_writes(found)]
    assert not bad, "exports that fetch --to does not write:\n" + "\n".join(bad)


def _as_fetch_writes(found: dict[str, str]) -> bool:
    """Whether the variables of one export line all point where ``fetch --to FOLDER`` writes, for one FOLDER."""
    from diffmix_utils.fetch import cache_variables
    key, value = next(iter(found.items()))
    suffix = cache_variables("")[key]
    if not value.endswith(suffix):
        return False
    folder = value[: -len(suffix)]
    return all(cache_variables(folder).get(k) == v for k, v in found.items())


def test_the_export_check_catches_the_old_mistake():
    assert _as_fetch_writes({"HF_HUB_CACHE": "$WORK/c/huggingface/hub", "TORCH_HOME": "$WORK/c/torch"})
    assert not _as_fetch_writes({"HF_HUB_CACHE": "$WORK/diffmix-cache/hub"})
    assert not _as_fetch_writes({"HF_HUB_CACHE": "$WORK/a/huggingface/hub", "TORCH_HOME": "$WORK/b/torch"})


# --- quoted figures: each names its dated entry in docs/benchmarks.md -------------------------------

FIGURE = re.compile(
    r"(?<![\w.=/-])(?:≈\s?)?\d+(?:\.\d+)?(?:\s?[–-]\s?\d+(?:\.\d+)?)?\s?"
    r"(?:min\b|minutes\b|seconds\b|hours?\b|(?<=\s)h\b|(?<=\s)s\b(?! =)|steps/s\b|img/s\b|images/s\b|it/s\b|"
    r"% (?:faster|slower)\b|×(?= faster| slower| speed| as fast))")
SKIP_PAGES = {"benchmarks.md", "parameters.md", "cli.md"}  # the entries themselves; two generated pages
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
DATE = re.compile(r"20\d\d-\d\d-\d\d")


def _dated_entries() -> set[str]:
    """The ``<a id>`` anchors of docs/benchmarks.md whose row (or paragraph) holds a date."""
    out = set()
    for unit in _units(BENCHMARKS.read_text()):
        if DATE.search(unit):
            out |= set(re.findall(r'<a id="([\w-]+)"></a>', unit))
    return out


def _units(text: str) -> list[str]:
    """A page's paragraphs, list items, table rows and code lines: the places a figure is read in."""
    out, code = [], False
    for block in re.split(r"\n\s*\n", text):
        for piece in re.split(r"\n(?=\||- |\d+\. |```)", block):
            if piece.startswith("```"):
                lines = piece.splitlines()
                code = not code if len(lines) == 1 or not lines[-1].startswith("```") else code
                out += lines[1:]
            elif code:
                out += piece.splitlines()
            else:
                out.append(piece)
    return out


def figures_without_entry(text: str, dated: set[str]) -> list[str]:
    """The figures of ``text`` whose paragraph links no dated benchmarks entry (``benchmarks.md#id``)."""
    bad = []
    for unit in _units(text):
        figures = FIGURE.findall(unit)
        links = set(re.findall(r"benchmarks\.md#([\w-]+)", unit))
        if figures and not links & dated:
            bad.append(f"{', '.join(f.strip() for f in figures)} in: {unit.strip()[:120]}")
    return bad


@pytest.mark.parametrize("page", [p for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
                                  if p.name not in SKIP_PAGES], ids=lambda p: p.name)
def test_every_quoted_time_or_speed_links_its_dated_benchmark_entry(page):
    bad = figures_without_entry(page.read_text(), _dated_entries())
    assert not bad, f"{page.name}: figures without a dated docs/benchmarks.md entry linked beside them:\n" + \
        "\n".join(bad)


def test_the_figure_check_catches_what_it_looks_for():
    dated = {"make-demo"}
    assert figures_without_entry("`make demo` takes 21 minutes.", dated)
    assert figures_without_entry("Stops within 1.5 s ([benchmarks](benchmarks.md#nowhere)).", dated)
    assert not figures_without_entry("`make demo` takes 21 minutes ([measured](benchmarks.md#make-demo)).", dated)
    assert not figures_without_entry("at s = 0.7 and 6 strengths, 5 seeds, 1.5× chance", dated)
    assert figures_without_entry("```bash\nmake demo   # 21 min\n```", dated)
    assert "make-demo" in _dated_entries() and len(_dated_entries()) >= 20


# --- the CLI reference, and commands actually run --------------------------------------------------

def test_cli_reference_equals_the_parsers(monkeypatch, capsys):
    code, printed = run_cli(["python", "tools/cli_reference.py", "--check"], monkeypatch, capsys)
    assert code == 0, printed


CHEAP = ["python -m diffmix_utils.run params/demo.yaml --plan",
         "python -m diffmix_utils.run params/paper/fewshot_cub.yaml --plan",
         "python -m diffmix_utils.run params/paper/first_gpu_hour.yaml --plan",
         "python -m diffmix_utils.fetch params/paper/fewshot_cub.yaml --plan",
         "python tools/result_tables.py --check"]


@pytest.mark.parametrize("command", CHEAP)
def test_cheap_commands_the_pages_show_run(command, monkeypatch, capsys):
    shown = {re.sub(r"\s+#.*", "", c).strip() for _, c in FOUND}
    assert command in shown, "no page shows this command any more"
    code, printed = run_cli(command.split(), monkeypatch, capsys)
    assert code == 0, printed


def test_the_smoke_file_plans_with_the_flags_the_pages_show(tmp_path, monkeypatch, capsys):
    """``--plan`` with ``--set`` and the executor flags on params/smoke.yaml, through the real runner."""
    code, printed = run_cli(["python", "-m", "diffmix_utils.run", "params/smoke.yaml", "--plan", "--set",
                                     f"workdir={tmp_path}", "--set", "train.epochs=3", "--executor", "local",
                                     "--workers", "2"], monkeypatch, capsys)
    assert code == 0 and "finetune" in printed, printed
    assert not any(tmp_path.iterdir()), "--plan must write nothing"
