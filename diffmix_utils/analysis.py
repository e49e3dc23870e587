"""Analysis stage: gather every sweep member's result, aggregate over seeds, put the kit's numbers
beside the reference numbers (with their provenance) and write tables and figures.

The headline accuracy is ``test_acc_at_best_val`` (epoch chosen on the validation split). The
paper protocol (best test accuracy over epochs) is reported beside it, labelled as such.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import artifacts, params, reference
from .data import load_split
from .strategies import get_strategy

METRICS = ["val_acc", "test_acc_at_best_val", "test_acc_final", "test_acc_best"]
# reported where the data allow (Waterbirds-style groups, long-tail shot buckets), at the val-chosen epoch
EXTRA_METRICS = {"test_worst_group_acc_at_best_val": "worst_group_acc", "test_many_acc_at_best_val": "many_acc",
                 "test_medium_acc_at_best_val": "medium_acc", "test_few_acc_at_best_val": "few_acc"}


def _extras(r: dict) -> dict:
    """Worst-group, per-group (``group <name>``) and many/medium/few accuracies of one result."""
    out = {name: r[key] for key, name in EXTRA_METRICS.items() if r.get(key) is not None}
    out.update({f"group {g}": v for g, v in (r.get("test_group_acc_at_best_val") or {}).items()})
    return out


def collect_results(p: dict) -> pd.DataFrame:
    """One row per sweep member with a finished training run (missing ones are listed, not hidden)."""
    rows, missing = [], []
    for m in params.expand_sweep(p):
        folder = artifacts.train_dir(m)
        if not artifacts.is_done(folder):
            missing.append(m["member"])
            continue
        r = artifacts.read_json(folder / "result.json")
        swept = {k: params._get(m, k) for k in p["sweep"] if "." in k and k not in reference.COLUMN_OF}
        rows.append({"member": m["member"], "variant": m.get("variant"), "dataset": m["data"]["dataset"],
                     "shots": m["data"]["shots"], "imbalance": m["data"]["imbalance"],
                     "backbone": f"{m['train']['backbone']}@{m['train']['image_size']}",
                     "strategy": m["synthesize"]["strategy"],
                     "strength": None if m["synthesize"]["strategy"] == "none" else m["synthesize"]["strength"],
                     "gamma": m["train"]["gamma"], "p": m["train"]["p"], "seed": m["seed"],
                     **{k: r[k] for k in METRICS}, **_extras(r), **swept, "train_dir": str(folder)})
    if missing:
        print(f"not yet trained (run the train stage): {', '.join(missing)}")
    if not rows:
        raise FileNotFoundError("no finished training run in this parameter set: run the train stage first")
    return pd.DataFrame(rows)


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and std (over seeds) per (strategy, strength, gamma, p), accuracies in %; worst-group,
    per-group and many/medium/few columns appear when the runs report them."""
    keys = ["variant", "dataset", "shots", "imbalance", "backbone", "strategy", "strength", "gamma", "p"]
    df = results.copy()
    keys += [c for c in df.columns if "." in c and c not in keys]  # swept keys (ablations)
    for k in keys:
        if k not in df:
            df[k] = None
    extra = [c for c in df.columns if c in EXTRA_METRICS.values() or c.startswith("group ")]
    metrics = METRICS + extra
    for k in metrics:
        df[k] = df[k].astype(float) * 100
    g = df.groupby(keys, dropna=False)
    out = g[metrics].mean().round(2)
    out = out.join(g["test_acc_at_best_val"].std(ddof=0).round(2).rename("test_acc_at_best_val_std"))
    out = out.join(g["seed"].count().rename("seeds")).reset_index()
    out = out.sort_values(["variant", "strategy", "strength"], na_position="first").reset_index(drop=True)
    return out if out["variant"].notna().any() else out.drop(columns=["variant"])


def add_reference(summary: pd.DataFrame) -> pd.DataFrame:
    """Beside each kit row: the matching reference number (a filled paper value first, else the
    authors' development number), its kind and source, and the paper cell's status."""
    ref = reference.load()
    out = summary.copy()
    accs, kinds, sources, paper = [], [], [], []
    for _, r in out.iterrows():
        hits = reference.matches(ref, r.to_dict())
        papers = hits[hits.kind == "paper"]
        filled = papers.dropna(subset=["value"])
        devs = hits[hits.kind == "dev-notebook"]
        best = filled.iloc[0] if len(filled) else devs.iloc[0] if len(devs) else None
        accs.append(None if best is None else float(best.value))
        kinds.append(None if best is None else best.kind)
        more = f" (+{len(devs) - 1} more in reference/dev_notebook.csv)" if best is not None and len(devs) > 1 \
            and best.kind == "dev-notebook" else ""
        sources.append(best.source + more if best is not None else "no reference number for this setting" + (
            " (toybirds is kit-made; the paper has no such number)" if r.dataset == "toybirds" else ""))
        paper.append("paper value" if len(filled) else
                     "not available: fill reference/paper.csv from the PDF" if len(papers) else "")
    out["reference_acc"], out["reference_kind"], out["reference_source"] = accs, kinds, sources
    out["paper_cell"] = paper
    return out


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (no extra dependency)."""
    def cell(v) -> str:
        return "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_table(df: pd.DataFrame, folder: Path, name: str) -> list[Path]:
    folder = Path(folder) / "tables"
    csv_path = artifacts.atomic_write(folder / f"{name}.csv", lambda t: df.to_csv(t, index=False))
    md_path = artifacts.write_text(folder / f"{name}.md", to_markdown(df))
    return [csv_path, md_path]


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.@" else "_" for c in str(name))


def _result_figures(table: pd.DataFrame, out: Path, fmt: list[str], dpi: int) -> list[Path]:
    """Accuracy vs s (one figure per variant when there are several) and vs every ablated key."""
    from . import figures, figures_ablation
    written = []
    groups = [(None, table)] if "variant" not in table or table.variant.nunique() <= 1 else \
        [(v, g) for v, g in table.groupby("variant")] + ([(None, table[table.variant.isna()])]
                                                        if table.variant.isna().any() else [])
    for variant, g in groups:
        if len(g) and g[g.strategy != "none"].strength.nunique() >= 1:
            name = "accuracy_vs_strength" + (f"_{_slug(variant)}" if variant else "")
            written += figures.accuracy_vs_strength(g, out / name, fmt, dpi)
    for key in figures_ablation.swept_keys(table):
        written += figures_ablation.accuracy_vs_key(table, key, out / f"accuracy_vs_{_slug(key)}", fmt, dpi)
    written += figures_ablation.gamma_curves(out / "soft_label_gamma_curves", fmt, dpi)
    return written


def _data_figures(p: dict, split: dict, out: Path, fmt: list[str], dpi: int) -> list[Path]:
    from .data.splits import class_counts
    from .figures_ablation import class_histogram
    imbalance = p["data"]["imbalance"]
    title = (f"{p['data']['dataset']}: long-tail training split, IF = {imbalance:g}" if imbalance
             else f"{p['data']['dataset']}: training images per class")
    return class_histogram(class_counts(split), split["classes"], out / "class_histogram", fmt, dpi, title)


def _throughput_figure(pools: list[Path], out: Path, fmt: list[str], dpi: int, model: str) -> list[Path]:
    """Images/hour against s from the pools' done.json (made in one process, uninterrupted)."""
    from .figures_ablation import throughput_vs_strength
    rows, devices = [], set()
    for folder in pools:
        done = artifacts.read_json(folder / "done.json")
        rate = done.get("images_per_second_this_run")
        strengths = {r["strength"] for r in artifacts.read_manifest(folder)}
        if rate and len(strengths) == 1:  # a pool drawn from several strengths has no single s
            rows.append({"strategy": done["strategy"], "strength": strengths.pop(), "images_per_second": rate})
            devices.add(str(done.get("device")))
    if len({r["strength"] for r in rows}) < 2:
        return []
    ref = reference.load()
    ref = ref[(ref.experiment == "throughput")]
    return throughput_vs_strength(rows, ref, out / "throughput_vs_strength", fmt, dpi,
                                  f"{model}, {'/'.join(sorted(devices))}")


def _model_figures(p: dict, img2img: list[dict], out: Path, fmt: list[str], dpi: int) -> list[Path]:
    """Cross-attention maps, the fine-tuning comparison and the t-SNE, where their models exist."""
    from . import figures_model
    written = []
    tuned = [m for m in img2img if get_strategy(m["synthesize"]["strategy"]).needs_finetune]
    if img2img:
        written += figures_model.cross_attention_maps(img2img[0], out / "cross_attention", fmt, dpi)
    if tuned:
        written += figures_model.finetune_comparison(tuned[0], out / "finetune_comparison", fmt, dpi)
        if artifacts.is_done(artifacts.train_dir(params.baseline_of(tuned[0]))):
            written += figures_model.tsne_features(tuned[0], out / "tsne_features", fmt, dpi)
    return written


def run_analysis(p: dict) -> list[Path]:
    """Write the results table and the figures of a run into figures/<name>/; returns the files."""
    from . import figures  # matplotlib only when figures are made
    out = artifacts.figures_dir(p)
    results = collect_results(p)
    table = add_reference(summarize(results))
    written = write_table(results.drop(columns=["train_dir"]), out, "runs")
    written += write_table(table, out, "results")
    fmt, dpi = p["analyze"]["formats"], p["analyze"]["dpi"]
    written += _result_figures(table, out, fmt, dpi)
    split = load_split(artifacts.split_path(p))
    written += _data_figures(p, split, out, fmt, dpi)
    pools = {artifacts.synthesis_dir(m) for m in params.expand_sweep(p)} - {None}
    done = sorted(f for f in pools if artifacts.is_done(f))
    if done:
        written += figures.translation_grid(split, done, out / "translations", fmt, dpi)
        written += _throughput_figure(done, out, fmt, dpi, f"{p['model']['base']}, {p['model']['resolution']} px")
        for folder in done:  # pools the filter scored
            written += figures.filter_grid(folder, out / f"filter_{folder.name}", fmt, dpi)
    img2img = [m for m in params.expand_sweep(p) if m["synthesize"]["strategy"] != "none"
               and get_strategy(m["synthesize"]["strategy"]).img2img
               and (not get_strategy(m["synthesize"]["strategy"]).needs_finetune
                    or artifacts.is_done(artifacts.finetune_dir(m)))]
    if img2img:  # made on demand with the run's model: 6 strengths x 4 sources
        written += figures.progressive_translation(img2img[0], out / "progressive_translation", fmt, dpi)
    written += _model_figures(p, img2img, out, fmt, dpi)
    artifacts.write_json(artifacts.run_dir(p) / "analyze-done.json", {"train_keys": artifacts.analyzed_keys(p)})
    for f in written:
        print(f)
    return written
