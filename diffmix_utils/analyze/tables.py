"""The analysis tables: one row per finished run, mean ± std over seeds, and the reference number
beside each row with its kind and source (``reference``). Accuracies are in %; the headline is
``test_acc_at_best_val`` (epoch chosen on the validation split), the paper protocol beside it.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import artifacts, params, provenance
from ..data.registry import has_group_shift
from ..strategies import strength_label
from . import reference
from .paired import paired_differences

METRICS = ["val_acc", "test_acc_at_best_val", "test_acc_final", "test_acc_best"]
# reported where the data allow (Waterbirds-style groups, long-tail shot buckets), at the val-chosen epoch
EXTRA_METRICS = {"test_worst_group_acc_at_best_val": "worst_group_acc", "test_many_acc_at_best_val": "many_acc",
                 "test_medium_acc_at_best_val": "medium_acc", "test_few_acc_at_best_val": "few_acc"}

MEASURED = ["pool_fidelity"]  # measured by the kit on a run's images (analyze.dials), not by the classifier

# paired differences from the baseline (analyze.paired) and the table columns they go to
PAIRED_COLUMNS = {
    "test_acc_at_best_val": {"diff": "diff_vs_baseline", "ci95_low": "diff_ci95_low", "ci95_high": "diff_ci95_high",
                             "pairs": "paired_seeds", "verdict": "verdict"},
    "worst_group_acc": {"diff": "worst_group_diff", "ci95_low": "worst_group_ci95_low",
                        "ci95_high": "worst_group_ci95_high", "pairs": "worst_group_pairs",
                        "verdict": "worst_group_verdict"},
}


def _extras(r: dict, group_shift: bool = True) -> dict:
    """Many/medium/few accuracies of one result, and where the data have a group shift
    (``data.registry.has_group_shift``) its worst-group and per-group (``group <name>``) accuracies."""
    out = {name: r[key] for key, name in EXTRA_METRICS.items() if r.get(key) is not None}
    if not group_shift:
        out.pop("worst_group_acc", None)
        return out
    out.update({f"group {g}": v for g, v in (r.get("test_group_acc_at_best_val") or {}).items()})
    return out


def used_strengths(m: dict, r: dict | None) -> tuple[float | None, str | None]:
    """(strength, strengths) of a member's row: the one strength its synthetic images were made at, or
    None and a label such as "0.3/0.5/0.7/0.9" when its pool drew from several (``strength_choices``).
    Read from ``result.json``'s ``strengths`` (what the classifier really trained on); results written
    before it existed fall back on the parameters. The baseline has neither."""
    sy = m["synthesize"]
    if sy["strategy"] == "none":
        return None, None
    used = (r or {}).get("strengths") or sy["strength_choices"] or [sy["strength"]]
    return (float(used[0]), None) if len(set(used)) == 1 else (None, strength_label(used))


def _measured(m: dict, dials: bool) -> dict:
    """With ``analyze.dials``: the member's ``pool_fidelity`` (the oracle's target-class rate in the images it
    trained on; NaN without a pool), published and verified beside the accuracies."""
    if not dials:
        return {}
    from ..measure.pool_fidelity import pool_fidelity
    measured = pool_fidelity(m) if m["synthesize"]["strategy"] != "none" else None
    return {MEASURED[0]: float("nan") if measured is None else measured["target_rate"]}


def collect_results(p: dict) -> pd.DataFrame:
    """One row per sweep member with a finished training run (missing ones are listed, not hidden)."""
    rows, missing = [], []
    for m in params.expand_sweep(p):
        folder = artifacts.train_dir(m)
        if not artifacts.is_done(folder):
            missing.append(m["member"])
            continue
        r = artifacts.read_json(folder / "result.json")
        swept = {k: params.get(m, k) for k in p["sweep"] if "." in k and k not in reference.COLUMN_OF}
        strength, strengths = used_strengths(m, r)
        rows.append({"member": m["member"], "variant": m.get("variant"), "dataset": m["data"]["dataset"],
                     "shots": m["data"]["shots"], "imbalance": m["data"]["imbalance"],
                     "backbone": f"{m['train']['backbone']}@{m['train']['image_size']}",
                     "strategy": m["synthesize"]["strategy"],
                     "strength": strength, **({"strengths": strengths} if strengths else {}),
                     "gamma": m["train"]["gamma"], "p": m["train"]["p"], "seed": m["seed"],
                     **{k: r[k] for k in METRICS}, **_extras(r, has_group_shift(m["data"])), **swept,
                     **_measured(m, p["analyze"]["dials"]),
                     "train_dir": str(folder),
                     "baseline_dir": str(artifacts.train_dir(params.baseline_of(m)))})
    if missing:
        print(f"not yet trained (run the train stage): {', '.join(missing)}")
    if not rows:
        raise FileNotFoundError("no finished training run in this parameter set: run the train stage first")
    return pd.DataFrame(rows)


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and std (over seeds) per (strategy, strength, gamma, p), accuracies in %; worst-group,
    per-group and many/medium/few columns appear when the runs report them. Each method row also has
    its paired difference from its baseline (same seeds) with a 95 % interval and a verdict
    (``paired``; ``diff_*`` columns, ``worst_group_diff_*`` where groups exist)."""
    keys = ["variant", "dataset", "shots", "imbalance", "backbone", "strategy", "strength", "gamma", "p"]
    df = results.copy()
    if "strengths" in df:  # a pool drawn from several strengths (strength_choices) is labelled by them
        keys.insert(keys.index("strength") + 1, "strengths")
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
    out = out.join(g["test_acc_at_best_val"].std(ddof=1).round(2).rename("test_acc_at_best_val_std"))
    out = out.join(g["seed"].count().rename("seeds")).reset_index()
    for metric, names in PAIRED_COLUMNS.items():
        if metric in results and "baseline_dir" in results:  # each method against its own baseline, seed by seed
            pairs = paired_differences(df.assign(**{metric: results[metric]}), keys, metric)
            if len(pairs):
                out = out.merge(pairs.rename(columns=names), on=keys, how="left")
    for names in PAIRED_COLUMNS.values():  # seed counts: whole numbers, empty on the baseline rows
        if names["pairs"] in out:
            out[names["pairs"]] = out[names["pairs"]].astype("Int64")
    out = (out.assign(_method=out["strategy"] != "none")  # per variant: the baseline, then the methods
           .sort_values(["variant", "_method", "strategy", "strength"], na_position="first")
           .drop(columns="_method").reset_index(drop=True))
    # the headline first: the val-chosen accuracy, its spread, and its paired difference from the baseline
    first = keys + ["seeds", "val_acc", "test_acc_at_best_val", "test_acc_at_best_val_std",
                    *PAIRED_COLUMNS["test_acc_at_best_val"].values()]
    out = out[[c for c in first if c in out] + [c for c in out if c not in first]]
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


def _cell(v) -> str:
    return "" if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)) else str(v)


def to_markdown(df: pd.DataFrame, drop_empty: bool = False) -> str:
    """A GitHub-flavoured Markdown table (no extra dependency). ``drop_empty``: leave out the columns
    without a value in any row, and name them under the table."""
    empty = [c for c in df.columns if drop_empty and not any(_cell(v) for v in df[c])]
    shown = df.drop(columns=empty)
    lines = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    if empty:
        lines += ["", f"Columns without a value in this run (kept in the CSV): {', '.join(empty)}."]
    return "\n".join(lines) + "\n"


def _signed(v) -> str:
    return "" if pd.isna(v) else f"{v:+.2f}"


def reader_view(summary: pd.DataFrame) -> pd.DataFrame:
    """The results table as a reader meets it (``results.md``, 04_analyze): the method, its accuracy
    (mean ± std), its paired difference from the baseline with the 95 % interval, and the verdict
    first; the settings and the other metrics after. ``results.csv`` keeps the columns as they are."""
    df = summary.copy()
    std = df["test_acc_at_best_val_std"].map(lambda v: "" if pd.isna(v) else f" ± {v:.2f}")
    df["test accuracy (%)"] = df["test_acc_at_best_val"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}") + std
    if "diff_vs_baseline" in df:
        df["Δ vs baseline [95 %]"] = [f"{_signed(d)} [{_signed(lo)}, {_signed(hi)}]" if not pd.isna(d) else ""
                                      for d, lo, hi in zip(df.diff_vs_baseline, df.diff_ci95_low, df.diff_ci95_high)]
    used = {"test_acc_at_best_val", "test_acc_at_best_val_std", "diff_vs_baseline", "diff_ci95_low", "diff_ci95_high"}
    lead = [c for c in ("variant", "strategy", "strength", "strengths", "seeds", "test accuracy (%)",
                        "Δ vs baseline [95 %]", "verdict") if c in df]
    return df[lead + [c for c in df.columns if c not in lead and c not in used]]


def write_table(df: pd.DataFrame, folder: Path, name: str, shown: pd.DataFrame | None = None) -> list[Path]:
    """``tables/<name>.csv`` (every column, for scripts) and ``tables/<name>.md`` (the columns with values;
    ``shown``, a reader's view of the same rows, instead of ``df`` where given)."""
    folder = Path(folder) / "tables"
    csv_path = artifacts.atomic_write(folder / f"{name}.csv", lambda t: df.to_csv(t, index=False))
    md_path = artifacts.write_text(folder / f"{name}.md", to_markdown(df if shown is None else shown, drop_empty=True))
    return [csv_path, md_path]


def environment_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct environment the table's runs were trained in (``provenance.json``), with
    the members that share it and every kit commit that trained one of them (the commit is reported,
    not compared: one key holds one content whichever commit made it); prints a warning when there is
    more than one environment."""
    rows = {}
    for _, r in results.iterrows():
        path = Path(r["train_dir"]) / "provenance.json"
        record = artifacts.read_json(path) if path.is_file() else {}
        key = provenance.comparable(record)
        entry = rows.setdefault(key, {**{k: record.get(k) for k in provenance.ENVIRONMENT_KEYS},
                                      "kit_commit": [], "kit_dirty": record.get("kit_dirty"),
                                      "base_model": record.get("base_model"),
                                      "resolved_revision": record.get("resolved_revision"), "members": []})
        entry["members"].append(r["member"])
        if record.get("kit_commit") not in entry["kit_commit"]:
            entry["kit_commit"].append(record.get("kit_commit"))
        entry["kit_dirty"] = bool(entry["kit_dirty"] or record.get("kit_dirty"))
    table = pd.DataFrame([{**e, "devices": ", ".join(e["devices"] or []) if isinstance(e["devices"], list)
                           else e["devices"], "kit_commit": " ".join(str(c) for c in e["kit_commit"]),
                           "members": len(e["members"])} for e in rows.values()])
    if len(table) > 1:
        print(f"warning: the runs of this table come from {len(table)} different environments (library "
              "versions, CUDA or devices differ); see tables/environment.md before comparing them")
    return table
