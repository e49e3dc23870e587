"""Write the kit's notebooks (four stages, explorer) and check the parts the kit owns.

    python tools/sync_notebooks.py                  # write notebooks/*.ipynb anew (no outputs; a developer's step)
    python tools/sync_notebooks.py --check          # exit 1 if a notebook breaks what the kit relies on
    python tools/sync_notebooks.py --clear-outputs  # strip outputs in place, keeping every edit

``--check`` (run by the tests) is what must stay in sync, not a byte comparison, so a person's edits
in JupyterLab (narration, extra cells, another ``params_file`` or ``overrides``) do not fail it. It
checks: the title cell starts with the notebook's heading; the first code cell is tagged
``parameters`` and assigns only ``params_file`` and ``overrides``, whose values load and validate;
the next cell validates them (``params.from_notebook``); and every ``diffmix_utils`` name a cell
imports or calls exists, so a renamed function fails here rather than in a user's notebook.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from diffmix_utils import params, stages  # noqa: E402
from diffmix_utils.params.notebook import DEFAULT_PARAMS_FILE  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VALIDATE = ("from diffmix_utils import params\n"
            "P = params.from_notebook(globals())  # validates every key, papermill's injected ones too\n"
            "params.summary(P, {stage!r})  # what differs from the defaults; the full file: runs/<name>/params.yaml")
PARAMETERS = ("# Which run this notebook shows: a parameter file (relative to the kit root) and dotted overrides on\n"
              "# top of it, e.g. {'synthesize.strength': 0.5, 'train.epochs': 3, 'sweep.seed': [0, 1]}.\n"
              f"params_file = {DEFAULT_PARAMS_FILE!r}\n"
              "overrides = {}")
PARAMS_NOTE = ("\n\n**Which run**: the cell below names a parameter file (default `params/demo.yaml`: the run "
               "`make demo` made, so its finished artifacts are reused, not recomputed) and `overrides`, dotted "
               "keys set on top of it (every key: `docs/parameters.md`). Headless: "
               "`python -m diffmix_utils.run params/<file>.yaml` runs all four notebooks; "
               "`papermill NB OUT -p params_file FILE` or `-f FILE` runs one.")
MD = "md:"  # a step's explanation: a markdown cell before its call
NOTEBOOKS = {
    "01_finetune.ipynb": (
        "# 01 · Fine-tune: class tokens + DreamBooth-LoRA\n"
        "Stage 1 (`diffmix_utils.finetune`). Teaches the base text-to-image model one token "
        "`<class_i>` per class (textual inversion) and LoRA on the UNet attention. Reads the split "
        "file; writes `pytorch_lora_weights.safetensors`, `learned_embeds.safetensors`, `tokens.json` "
        "to `<workdir>/store/finetune/<key>/`.",
        [MD + "**The training images**, one row per class, with the token `<class_i>` each class learns.",
         "from diffmix_utils.finetune import report\nreport.training_images(P)",
         MD + "**Fine-tune** (skipped when its folder is complete: a rerun shows what is there).",
         "from diffmix_utils import finetune\nfolders = finetune.run_stage(P)",
         MD + "**The loss curve**: ε-prediction MSE per step and its moving average.",
         "report.loss_curve(P)",
         MD + "**What it learned**: per class, real training images beside text-to-image generations "
              "from the learned token (the diff-gen prompt \"a photo of a `<class_i>` bird\").",
         "report.real_vs_generated(P)",
         MD + "**The written files load with the stock diffusers loaders**, exactly as docs/real-models.md shows "
              "(a LoRA that attached no layer would be an error, not a silent no-op). Two notices from the stock "
              "loaders are expected here: diffusers finds no text-encoder LoRA in the file (the kit trains LoRA "
              "on the UNet only), and transformers says how new token rows are initialized (the loaded vectors "
              "replace them). The kit's own loading (`models.base.apply_finetune`) loads the same weights "
              "without them.",
         "from glob import glob\n"
         "from diffusers import StableDiffusionImg2ImgPipeline\n"
         "from diffmix_utils import artifacts\n"
         "from diffmix_utils.models.base import resolve_base\n"
         "ft = artifacts.finetune_dir(P)\n"
         "pipe = StableDiffusionImg2ImgPipeline.from_pretrained(resolve_base(P['model']['base'], artifacts.store(P)))\n"
         "pipe.load_lora_weights(ft)\n"
         "pipe.load_textual_inversion(sorted(glob(f'{ft}/embeddings/*.safetensors')))\n"
         "print(f'{len(pipe.tokenizer) - 49408} class tokens and LoRA loaded from {ft}')"]),
    "02_synthesize.ipynb": (
        "# 02 · Synthesize: inter-class translation\n"
        "Stage 2 (`diffmix_utils.synthesize`). Translates real images of class *i* toward the prompt "
        "of class *j* at strength *s* (or another strategy). Reads the fine-tune folder and the split "
        "file; writes `images/`, `plan.csv` and `manifest.csv` to `<workdir>/store/synthesize/<key>/`.",
        [MD + "**The plan**: one row per pool (strategy, strength, multiplier), images planned and written, "
              "and the images per second of the run that made it (model loading included). Before the "
              "synthesis step runs, *written* shows what is already on disk.",
         "from diffmix_utils.synthesize import report\nreport.plan_table(P)",
         MD + "**Which classes meet**: planned images from each source class (rows) to each target class "
              "(columns), over the run's pools. Diff-Mix draws source and target classes uniformly and "
              "independently (the reference's draw, the diagonal included), so rows and columns even out "
              "as the pool grows; `synthesize.target_sampling: tail` weights rare targets. The *-aug "
              "strategies stay on the diagonal.",
         "report.balance(P)",
         MD + "**Synthesize** (skipped when a pool is complete; a rerun continues an interrupted pool).",
         "from diffmix_utils import synthesize\nfolders = synthesize.run_stage(P)",
         MD + "**The translation grid**: real source images (top row, *source class → target class*) and the "
              "same tasks in each pool, one row per strategy and strength. Small *s* keeps the source; "
              "large *s* takes on the target class's look while the background stays.",
         "report.translations(P)",
         MD + "The filter that marks the least convincing synthetic images runs in `03_train` (the "
              "`classifier` filter needs the run's baseline classifier); its lowest- and highest-scored "
              "images are shown there."]),
    "03_train.ipynb": (
        "# 03 · Train: classifier on real + synthetic data\n"
        "Stage 3 (`diffmix_utils.train`, with the filter step `diffmix_utils.filtering`). Trains a "
        "timm classifier; each real sample is replaced with probability *p* by a synthetic one "
        "labelled `(1 - s^γ)·onehot(i) + s^γ·onehot(j)`. Reads the split file, the pools' "
        "`manifest.csv` and a filter's `scores.csv`; writes `metrics.jsonl`, `result.json`, "
        "`last.safetensors` to `<workdir>/store/train/<key>/`.",
        [MD + "**Step 1: the classifiers that read no filtered pool.** The baselines (real data only) "
              "come first: with `filter.scorer: classifier` the filter scores each pool with the "
              "run's baseline. Without a filter this step trains every member.",
         "from diffmix_utils import train\nfolders = train.run_stage(P, before_filter=True)",
         MD + "**Step 2: the filter** (`filter.scorer`: `clip` or `classifier`; nothing to do for "
              "`none`). Scores every image of a pool and marks the lowest `filter.fraction` not kept, in "
              "`<workdir>/store/filter/<key>/scores.csv`; the pool itself is never rewritten.",
         "from diffmix_utils import filtering\nfolders = filtering.run_stage(P)",
         MD + "**What the filter drops**: per pool, its lowest-scored images (top row, ✗ = not kept) and "
              "its highest-scored ones, with the score.",
         "from diffmix_utils.filtering import report as filter_report\nfilter_report.filter_extremes(P)",
         MD + "**Step 3: the members that read a filtered pool** (only the kept images).",
         "folders = train.run_stage(P)",
         MD + "**Learning curves**: training loss and validation accuracy per epoch, one line per member "
              "(colour: strategy and strength; line style: seed). The dot is the epoch chosen on "
              "validation, where the test accuracy below is read.",
         "from diffmix_utils.train import report\nreport.learning_curves(P)",
         MD + "**The members**: the test accuracy at the epoch chosen on validation is the honest figure; "
              "*best on test* is the paper protocol (selected on test, optimistic).",
         "report.member_table(P)",
         MD + "**Per class**: test accuracy of every class and member at its chosen epoch.",
         "report.per_class_accuracy(P)"]),
    "04_analyze.ipynb": (
        "# 04 · Analyze: tables and figures\n"
        "Stage 4 (`diffmix_utils.analyze`). Gathers every run's `result.json`, puts the kit's numbers "
        "beside the reference numbers with their provenance, and writes tables (CSV + Markdown) and "
        "figures (PNG + PDF) to `figures/<name>/`.",
        [MD + "**Gather and write**: every member's result (a member not yet trained is named, not hidden), "
              "the tables and the figures; one line says what it wrote and where. The steps below show "
              "them one topic at a time.",
         "from diffmix_utils import analyze\nfiles = analyze.run_stage(P)",
         MD + "**The results table**: one row per method, test accuracy (%) at the epoch chosen on validation, "
              "mean ± sample std over seeds. `diff_vs_baseline` is the paired difference from the baseline of "
              "the same seeds with its 95 % interval; the verdict says \"no difference detected\" when the "
              "interval holds zero. The paper protocol (best epoch on test, optimistic) and the reference "
              "numbers, with their source, stand beside the kit's. Columns without a value in this run are "
              "named under the table (the CSV keeps them).",
         "analyze.show(files, 'results')",
         MD + "**The claims** (with `analyze.claims: true`, the toy reproduction's files): one table and one "
              "figure per claim, each arm's paired difference from its baseline with its interval and its "
              "minimal detectable difference (the *MDD* columns: the smallest true difference these seeds would detect "
              "with power 0.8; an interval that holds zero says only \"smaller than about the MDD\"). Diff-Mix "
              "is also compared with real-mix on the same seeds. Two claims with the same arms (the toy "
              "reproduction's named and opaque regimes) are drawn side by side in `claims_compared`.",
         "analyze.show(files, 'claim_', 'claims_compared')",
         MD + "**The two dials** (with `analyze.dials: true`: `params/toy_dials.yaml`). The *name dial* asks "
              "how much real-mix's gain owes to the base model reading the class names: real-mix prompted with "
              "names that carry all, part, none or the wrong part of a class (ordered by what the name check "
              "measured), and Diff-Mix against real-mix with names that say nothing. The *fidelity dial* asks "
              "how good translations must be for Diff-Mix to pay: pools with a share q of the oracle's perfect "
              "translations, placed by their measured fidelity (the rate at which the oracle reads the target "
              "class), beside the authors' fine-tune-steps ablation. Read them together: if the gain rises "
              "with fidelity and Diff-Mix sits at the low end, the toy's null result is the fine-tune's, not "
              "the method's.",
         "analyze.show(files, 'dial_')",
         MD + "**Accuracy against the translation strength** *s* (and against every other swept key), and the "
              "soft label's weight on the target class, `s^γ`, for the γ values the paper compares. Large *s* "
              "makes a more convincing target but keeps less of the source.",
         "analyze.show(files, 'accuracy_vs_', 'soft_label_gamma_curves', 'throughput_vs_strength')",
         MD + "**What the pools hold**: real sources, a real image of each target class, and their translations "
              "per pool (*source class → target class*; on toybirds, with the class the oracle reads in each "
              "when the store has the oracle), one source translated at six strengths, and, where a filter "
              "ran, what it dropped.",
         "analyze.show(files, 'translations', 'progressive_translation', 'filter_')",
         MD + "**Inside the models**: where the UNet's cross-attention looks for the class token, base against "
              "fine-tuned generations per class, and a t-SNE of the baseline classifier's features with the "
              "synthetic images placed by their soft label.",
         "analyze.show(files, 'cross_attention', 'finetune_comparison', 'tsne_features')",
         MD + "**The data and the environment**: training images per class (the long-tail files' imbalance "
              "shows here) and the versions and devices the classifiers were trained with.",
         "analyze.show(files, 'class_histogram', 'environment')"]),
    "explore.ipynb": (
        "# Explore: translations one at a time\n"
        "Pick a real image, a target class, a strength and a strategy, and see the translation "
        "beside the source (the synthesis stage's pipeline, prompt and seeding, through "
        "`diffmix_utils.models.translate`). Run `01_finetune` first for the diff-* and ti-* strategies.",
        [MD + "**How to use it**: the *source* list holds test images first, then training images; the source "
              "shows at once. The *target* starts on another class than the source's (a translation, not a "
              "copy). *strength* is how far the image is noised before it is denoised toward the target "
              "prompt: 0.1 keeps the source, 0.9 keeps little but its layout. *strategy*: `diff-mix` uses the "
              "fine-tuned model and the target's learned token; `diff-aug` translates toward the source's own "
              "class; `real-mix` uses the base model and the class name; `diff-gen` / `real-gen` draw from "
              "noise. The same seed gives the same image, as in the synthesis stage. The line under the "
              "controls says whether a strategy needs a fine-tune that is not there.",
         "from diffmix_utils import widgets\nwidgets.explorer(P)"]),
}


def build(title: str, calls: list[str], stage: str | None = None) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    cells = [nbformat.v4.new_markdown_cell(title + PARAMS_NOTE),
             nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell(VALIDATE.format(stage=stage))]
    cells += [nbformat.v4.new_markdown_cell(c[len(MD):]) if c.startswith(MD) else nbformat.v4.new_code_cell(c)
              for c in calls]
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i}"
    nb.cells = cells
    return nb


def stage_of(name: str) -> str | None:
    """The stage whose notebook is ``name`` (diffmix_utils/stages.py); None for the explorer."""
    return next((s.name for s in stages.TABLE if s.notebook == name), None)


def problems(name: str, nb: nbformat.NotebookNode) -> list[str]:
    """What in notebook ``name`` breaks what the kit relies on (empty when it is fine)."""
    title = NOTEBOOKS[name][0].splitlines()[0]
    cells, out = nb.cells, []
    if not cells or cells[0].cell_type != "markdown" or not cells[0].source.startswith(title):
        out.append(f"the first cell must be the markdown title starting {title!r}")
    code = [c for c in cells if c.cell_type == "code"]
    if not code or "parameters" not in code[0].metadata.get("tags", []):
        return out + ["the first code cell must be tagged 'parameters' (papermill injects after it)"]
    out += _parameters_problems(code[0].source)
    if len(code) < 2 or "params.from_notebook(globals())" not in code[1].source:
        out.append("the cell after the parameters must validate them: P = params.from_notebook(globals())")
    bound: dict = {}  # names bound by earlier cells' imports, as in a kernel run top to bottom
    for cell in code[1:]:
        out += _missing_names(cell.source, bound)
    return out


def _parameters_problems(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [f"the parameters cell is not valid Python: {exc}"]
    values = {}
    for node in tree.body:
        names = [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
        if not isinstance(node, ast.Assign) or names not in (["params_file"], ["overrides"]):
            return [f"the parameters cell may assign only params_file and overrides (line {node.lineno})"]
        try:
            values[names[0]] = ast.literal_eval(node.value)
        except ValueError:
            return [f"{names[0]} in the parameters cell must be a plain value (line {node.lineno})"]
    if set(values) != {"params_file", "overrides"}:
        return ["the parameters cell must assign params_file and overrides"]
    try:
        path = values["params_file"]
        if path is None:
            params.resolve(params.apply_overrides({}, values["overrides"]))
        else:
            params.load(ROOT / path, values["overrides"])
    except params.ParamsError as exc:
        return [f"the parameters cell does not validate: {exc}"]
    return []


def _missing_names(source: str, bound: dict) -> list[str]:
    """The diffmix_utils names ``source`` imports, or reaches through a module imported here or in an
    earlier cell (``bound``, updated), that do not exist."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # a user's cell in progress is theirs
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("diffmix_utils"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                obj = getattr(module, alias.name, None)
                if obj is None:
                    try:
                        obj = importlib.import_module(f"{node.module}.{alias.name}")
                    except ImportError:
                        out.append(f"{node.module}.{alias.name} does not exist")
                        continue
                bound[alias.asname or alias.name] = obj
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound:
            owner = bound[node.value.id]
            if type(owner).__name__ == "module" and not hasattr(owner, node.attr):
                out.append(f"{owner.__name__}.{node.attr} does not exist")
    return out


def parser() -> argparse.ArgumentParser:
    """The command line of ``python tools/sync_notebooks.py`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python tools/sync_notebooks.py",
                                 description="Write the kit's notebooks anew (no outputs), or check them.")
    what = ap.add_mutually_exclusive_group()
    what.add_argument("--check", action="store_true", help="exit 1 if a notebook breaks what the kit relies on")
    what.add_argument("--clear-outputs", action="store_true", help="strip outputs in place, keeping every edit")
    return ap


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.check:
        bad = []
        for name in NOTEBOOKS:
            path = ROOT / "notebooks" / name
            found = problems(name, nbformat.read(path, as_version=4)) if path.is_file() else ["missing"]
            bad += [f"{name}: {what}" for what in found]
        if bad:
            print("\n".join(bad) + "\nto start a notebook afresh: python tools/sync_notebooks.py")
        return 1 if bad else 0
    for name, (title, calls) in NOTEBOOKS.items():
        path = ROOT / "notebooks" / name
        if args.clear_outputs:
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
            nbformat.write(nb, path)
        else:
            path.write_text(nbformat.writes(build(title, calls, stage_of(name))) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
