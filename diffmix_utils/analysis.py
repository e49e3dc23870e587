"""Analysis stage: gather every sweep member's result, aggregate over seeds, put the kit's numbers
beside the reference numbers (with their provenance) and write tables and figures.

The headline accuracy is ``test_acc_at_best_val`` (epoch chosen on the validation split). The
paper protocol (best test accuracy over epochs) is reported beside it, labelled as such.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import artifacts, params
from .data import load_split

REFERENCE_CSV = Path(__file__).parent / "assets" / "reference_results.csv"
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
        rows.append({"member": m["member"], "variant": m.get("variant"), "dataset": m["data"]["dataset"],
                     "shots": m["data"]["shots"],
                     "strategy": m["synthesize"]["strategy"],
                     "strength": None if m["synthesize"]["strategy"] == "none" else m["synthesize"]["strength"],
                     "gamma": m["train"]["gamma"], "p": m["train"]["p"], "seed": m["seed"],
                     **{k: r[k] for k in METRICS}, **_extras(r), "train_dir": str(folder)})
    if missing:
        print(f"not yet trained (run the train stage): {', '.join(missing)}")
    if not rows:
        raise FileNotFoundError("no finished training run in this parameter set: run the train stage first")
    return pd.DataFrame(rows)


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and std (over seeds) per (strategy, strength, gamma, p), accuracies in %; worst-group,
    per-group and many/medium/few columns appear when the runs report them."""
    keys = ["variant", "dataset", "shots", "strategy", "strength", "gamma", "p"]
    df = results.copy()
    if "variant" not in df:
        df["variant"] = None
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
    """Join the reference numbers that exist for the same dataset, shots, strategy and strength."""
    ref = pd.read_csv(REFERENCE_CSV)
    out = summary.copy()
    accs, provs = [], []
    for _, r in out.iterrows():
        hit = ref[(ref.dataset == r.dataset) & (ref.strategy == r.strategy)
                  & (ref.shots.fillna(-1) == (-1 if pd.isna(r.shots) else r.shots))
                  & ((ref.strength.isna() & pd.isna(r.strength)) | (ref.strength == r.strength))]
        if len(hit):
            accs.append(hit.acc.iloc[0])
            provs.append(hit.provenance.iloc[0])
        else:
            accs.append(None)
            provs.append("no reference number for this setting" + (
                " (toybirds is kit-made; the paper has no such number)" if r.dataset == "toybirds" else ""))
    out["reference_acc"], out["reference_provenance"] = accs, provs
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


def run_analysis(p: dict) -> list[Path]:
    """Write the results table and the figures of a run into figures/<name>/; returns the files."""
    from . import figures  # matplotlib only when figures are made
    out = artifacts.figures_dir(p)
    results = collect_results(p)
    table = add_reference(summarize(results))
    written = write_table(results.drop(columns=["train_dir"]), out, "runs")
    written += write_table(table, out, "results")
    fmt, dpi = p["analyze"]["formats"], p["analyze"]["dpi"]
    written += figures.accuracy_vs_strength(table, out / "accuracy_vs_strength", fmt, dpi)
    pools = {artifacts.synthesis_dir(m) for m in params.expand_sweep(p)} - {None}
    done = sorted(f for f in pools if artifacts.is_done(f))
    if done:
        split = load_split(artifacts.split_path(p))
        written += figures.translation_grid(split, done, out / "translations", fmt, dpi)
    from .strategies import get_strategy
    img2img = [m for m in params.expand_sweep(p) if m["synthesize"]["strategy"] != "none"
               and get_strategy(m["synthesize"]["strategy"]).img2img
               and (not get_strategy(m["synthesize"]["strategy"]).needs_finetune
                    or artifacts.is_done(artifacts.finetune_dir(m)))]
    if img2img:  # made on demand with the run's model: 6 strengths x 4 sources
        written += figures.progressive_translation(img2img[0], out / "progressive_translation", fmt, dpi)
    artifacts.write_json(artifacts.run_dir(p) / "analyze-done.json", {"train_keys": artifacts.analyzed_keys(p)})
    for f in written:
        print(f)
    return written
