"""Write the kit's notebooks (four stages, explorer): title, `parameters` cell (schema defaults), calls.

    python tools/sync_notebooks.py          # rewrite notebooks/*.ipynb (no outputs)
    python tools/sync_notebooks.py --check  # exit 1 if a committed notebook differs

The parameters cell holds plain literals only; everything derived comes after papermill's
injected cell, in the package.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from diffmix_utils import params

ROOT = Path(__file__).resolve().parent.parent
VALIDATE = ("from diffmix_utils import params\n"
            "P = params.from_notebook(globals())  # validates every key, papermill's injected ones too\n"
            "params.summary(P, {stage!r})  # what differs from the defaults; the full file: runs/<name>/params.yaml")
PARAMS_NOTE = ("\n\n**Which run**: the cell below reads `params_file` (default `params/demo.yaml`, the run "
               "`make demo` made, so its finished artifacts are reused, not recomputed). To look at another "
               "run, set `params_file = 'params/<file>.yaml'`; edit a value in that cell to override one key. "
               "Headless: `python -m diffmix_utils.run params/<file>.yaml` runs all four notebooks.")
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
         MD + "**The written files load with the stock diffusers loaders**, exactly as README shows "
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
              "the tables and the figures; one line says what it wrote and where.",
         "from diffmix_utils import analyze\nfiles = analyze.run_stage(P)",
         MD + "**The tables, then the figures.** `results`: one row per method, test accuracy (%) at the epoch "
              "chosen on validation, mean ± sample std over seeds; `diff_vs_baseline` is the paired "
              "difference from the baseline of the same seeds with its 95 % interval, and the verdict says "
              "\"no difference detected\" when the interval holds zero. Columns without a value in this run "
              "are named under the table (the CSV keeps them). With `analyze.claims: true`, one `claim_*` "
              "table per claim. `environment`: the versions and devices the classifiers were trained with.",
         "analyze.show(files)"]),
    "explore.ipynb": (
        "# Explore: translations one at a time\n"
        "Pick a real image, a target class, a strength and a strategy, and see the translation "
        "beside the source (the synthesis stage's pipeline, prompt and seeding, through "
        "`diffmix_utils.models.translate`). Run `01_finetune` first for the diff-* and ti-* strategies.",
        ["from diffmix_utils import widgets\nwidgets.explorer(P)"]),
}


def parameters_source() -> str:
    lines = ["# The parameter file this notebook runs: the demo's, so after `make demo` it shows (and reuses) that run.",
             "# Point it at another file, or set None to use only the values below; values below that differ from",
             "# the defaults override the file. The runner (python -m diffmix_utils.run FILE) injects every value.",
             "params_file = 'params/demo.yaml'",
             "# Plain defaults (the smoke test's, the schema's): edit one to override the file's value."]
    for key, value in params.defaults().items():
        lines.append(f"{key} = {value!r}")
    return "\n".join(lines)


def build(title: str, calls: list[str], stage: str | None = None) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    cells = [nbformat.v4.new_markdown_cell(title + PARAMS_NOTE),
             nbformat.v4.new_code_cell(parameters_source(), metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell(VALIDATE.format(stage=stage))]
    cells += [nbformat.v4.new_markdown_cell(c[len(MD):]) if c.startswith(MD) else nbformat.v4.new_code_cell(c)
              for c in calls]
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i}"
    nb.cells = cells
    return nb


def main(check: bool) -> int:
    stale = []
    for name, (title, calls) in NOTEBOOKS.items():
        path = ROOT / "notebooks" / name
        stage = {"01": "finetune", "02": "synthesize", "03": "train", "04": "analyze"}.get(name[:2])
        text = nbformat.writes(build(title, calls, stage)) + "\n"
        if check:
            if not path.is_file() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"notebooks out of date with the schema: {', '.join(stale)}; run python tools/sync_notebooks.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv))
