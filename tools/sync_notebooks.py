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
            "print(params.dump(P))")
NOTEBOOKS = {
    "01_finetune.ipynb": (
        "# 01 · Fine-tune: class tokens + DreamBooth-LoRA\n"
        "Teaches the base text-to-image model one token `<class_i>` per class (textual inversion) "
        "and LoRA on the UNet attention. Reads the split file; writes "
        "`pytorch_lora_weights.safetensors`, `learned_embeds.safetensors`, `tokens.json` to "
        "`<workdir>/store/finetune/<key>/`.",
        ["from diffmix_utils import finetune\nfolders = finetune.run_stage(P)\nfolders"]),
    "02_synthesize.ipynb": (
        "# 02 · Synthesize: inter-class translation\n"
        "Translates real images of class *i* toward the prompt of class *j* at strength *s* "
        "(or another strategy). Reads the fine-tune folder and the split file; writes "
        "`images/` and `manifest.csv` to `<workdir>/store/synthesize/<key>/`.",
        ["from diffmix_utils import synthesize\nfolders = synthesize.run_stage(P)\nfolders"]),
    "03_train.ipynb": (
        "# 03 · Train: classifier on real + synthetic data\n"
        "Trains a timm classifier; each real sample is replaced with probability *p* by a "
        "synthetic one labelled `(1 - s^γ)·onehot(i) + s^γ·onehot(j)`. Reads the split file and "
        "`manifest.csv`; writes `metrics.jsonl`, `result.json`, `last.safetensors` to "
        "`<workdir>/store/train/<key>/`.",
        ["from diffmix_utils import train\nfolders = train.run_stage(P)\nfolders"]),
    "04_analyze.ipynb": (
        "# 04 · Analyze: tables and figures\n"
        "Gathers every run's `result.json`, puts the kit's numbers beside the reference numbers "
        "with their provenance, and writes tables (CSV + Markdown) and figures (PNG + PDF) to "
        "`figures/<name>/`.",
        ["from diffmix_utils import analysis\nfiles = analysis.run_analysis(P)",
         "from IPython.display import Image, Markdown, display\n"
         "for f in files:\n"
         "    if f.suffix == '.png':\n"
         "        display(Image(filename=str(f)))\n"
         "    elif f.name == 'results.md':\n"
         "        display(Markdown(f.read_text()))"]),
    "explore.ipynb": (
        "# Explore: translations one at a time\n"
        "Pick a real image, a target class, a strength and a strategy, and see the translation "
        "beside the source (same pipeline, prompt and seeding as the synthesis stage). Run "
        "`01_finetune` first for the diff-* and ti-* strategies.",
        ["from diffmix_utils import widgets\nwidgets.explorer(P)"]),
}


def parameters_source() -> str:
    lines = ["# Plain defaults (the offline demo's); papermill injects a parameter file's values below."]
    for key, value in params.defaults().items():
        lines.append(f"{key} = {value!r}")
    return "\n".join(lines)


def build(title: str, calls: list[str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    cells = [nbformat.v4.new_markdown_cell(title),
             nbformat.v4.new_code_cell(parameters_source(), metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell(VALIDATE)] + [nbformat.v4.new_code_cell(c) for c in calls]
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i}"
    nb.cells = cells
    return nb


def main(check: bool) -> int:
    stale = []
    for name, (title, calls) in NOTEBOOKS.items():
        path = ROOT / "notebooks" / name
        text = nbformat.writes(build(title, calls)) + "\n"
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
