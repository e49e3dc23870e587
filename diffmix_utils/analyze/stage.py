"""Analysis stage: gather every sweep member's result, aggregate over seeds, put the kit's numbers
beside the reference numbers (with their provenance; ``tables``) and write tables and figures.

The headline accuracy is ``test_acc_at_best_val`` (epoch chosen on the validation split). The
paper protocol (best test accuracy over epochs) is reported beside it, labelled as such.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import artifacts, jobs, params, provenance
from ..data.class_names import setting
from ..strategies import get_strategy
from . import reference
from .tables import add_reference, collect_results, environment_table, reader_view, summarize, write_table


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.@" else "_" for c in str(name))


def _result_figures(table: pd.DataFrame, out: Path, fmt: list[str], dpi: int, claims: bool = False) -> list[Path]:
    """Accuracy vs s (one figure per variant when there are several) and vs every ablated key; with
    ``analyze.claims`` the claims' own figures replace them (variants there are arms, not ablations)."""
    from . import ablation_figures, figures
    written = ablation_figures.gamma_curves(out / "soft_label_gamma_curves", fmt, dpi)
    if claims:
        return written
    groups = [(None, table)] if "variant" not in table or table.variant.nunique() <= 1 else \
        [(v, g) for v, g in table.groupby("variant")] + ([(None, table[table.variant.isna()])]
                                                        if table.variant.isna().any() else [])
    for variant, g in groups:
        if len(g) and g[g.strategy != "none"].strength.nunique() >= 1:
            name = "accuracy_vs_strength" + (f"_{_slug(variant)}" if variant else "")
            written += figures.accuracy_vs_strength(g, out / name, fmt, dpi)
    for key in ablation_figures.swept_keys(table):
        written += ablation_figures.accuracy_vs_key(table, key, out / f"accuracy_vs_{_slug(key)}", fmt, dpi)
    return written


def _claims(p: dict, out: Path, fmt: list[str], dpi: int) -> list[Path]:
    """Per claim (variants named claim/arm): its table and its paired-difference figure."""
    from .claims import claim_figure, claim_members, claim_table, claims_compared_figure, compared_claims
    written, tables = [], {}
    for claim, arms in claim_members(p).items():
        tables[claim] = table = claim_table(arms)
        written += write_table(table, out, f"claim_{_slug(claim)}")
        written += claim_figure(claim, table, out / f"claim_{_slug(claim)}", fmt, dpi)
    if p["analyze"]["dials"]:
        written += _dials(p, out, fmt, dpi)
    compared = compared_claims(tables)
    if compared:  # one comparison under several regimes: side by side
        written += claims_compared_figure(compared, out / "claims_compared", fmt, dpi)
    return written


def _dials(p: dict, out: Path, fmt: list[str], dpi: int) -> list[Path]:
    """The two dials' tables and figures (``dials``), the name dial's ordered by the name check in the store."""
    from ..measure.name_check import stored_record
    from . import dial_figures, dials
    written, tables = [], dials.dial_tables(p)
    for name, table in tables.items():
        written += write_table(table, out, name)
    if "dial_names" in tables:
        written += dial_figures.name_dial_figure(tables["dial_names"], stored_record(p), out / "dial_names", fmt, dpi)
    if "dial_fidelity" in tables:
        written += dial_figures.fidelity_dial_figure(tables["dial_fidelity"], out / "dial_fidelity", fmt, dpi)
    return written


def _pool_label(m: dict) -> str:
    """A translation-grid row's name: strategy and strength, and the class names a name-prompted pool used."""
    strategy = get_strategy(m["synthesize"]["strategy"])
    names = setting(m["data"])
    by_name = not strategy.tokens and not strategy.control
    return f"{strategy.name}\n{names + ' names, ' if by_name else ''}s={m['synthesize']['strength']:g}"


def _oracle(p: dict, split: dict):
    """The toybirds oracle where the store has it (the dials train it), to read the translations; else None."""
    if p["data"]["dataset"] != "toybirds":
        return None
    from ..measure.oracles import cached_oracle
    return cached_oracle(artifacts.store(p) / "oracles", len(split["classes"]), p["data"]["image_size"])


def _data_figures(p: dict, split: dict, out: Path, fmt: list[str], dpi: int) -> list[Path]:
    from ..data.splits import class_counts
    from .ablation_figures import class_histogram
    imbalance = p["data"]["imbalance"]
    title = (f"{p['data']['dataset']}: long-tail training split, IF = {imbalance:g}" if imbalance
             else f"{p['data']['dataset']}: training images per class")
    return class_histogram(class_counts(split), split["classes"], out / "class_histogram", fmt, dpi, title)


def _throughput_figure(pools: list[Path], out: Path, fmt: list[str], dpi: int, model: str) -> list[Path]:
    """Images/hour against s from the pools' done.json (made in one process, uninterrupted)."""
    from .ablation_figures import throughput_vs_strength
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
    from . import model_figures
    written = []
    tuned = [m for m in img2img if get_strategy(m["synthesize"]["strategy"]).needs_finetune]
    if img2img:
        written += model_figures.cross_attention_maps(img2img[0], out / "cross_attention", fmt, dpi)
    if tuned:
        written += model_figures.finetune_comparison(tuned[0], out / "finetune_comparison", fmt, dpi)
        if artifacts.is_done(artifacts.train_dir(params.baseline_of(tuned[0]))):
            written += model_figures.tsne_features(tuned[0], out / "tsne_features", fmt, dpi)
    return written


def run_analysis(p: dict) -> list[Path]:
    """Write the results table and the figures of a run into figures/<name>/; returns the files."""
    from . import figures  # matplotlib only when figures are made
    out = artifacts.figures_dir(p)
    results = collect_results(p)
    table = add_reference(summarize(results))
    written = write_table(results.drop(columns=["train_dir", "baseline_dir"]), out, "runs")
    written += write_table(table, out, "results", reader_view(table))
    written += write_table(environment_table(results), out, "environment")
    fmt, dpi = p["analyze"]["formats"], p["analyze"]["dpi"]
    written += _result_figures(table, out, fmt, dpi, p["analyze"]["claims"])
    if p["analyze"]["claims"]:
        written += _claims(p, out, fmt, dpi)
    split = artifacts.open_split(p)
    written += _data_figures(p, split, out, fmt, dpi)
    members = params.expand_sweep(p)
    first = [m for m in members if m["seed"] == members[0]["seed"]]  # one draw's pools share their tasks
    pools = {artifacts.synthesis_dir(m) for m in first} - {None}
    done = sorted(f for f in pools if artifacts.is_done(f))
    if done:
        written += figures.translation_grid(split, done, out / "translations", fmt, dpi, oracle=_oracle(p, split),
                                            labels={artifacts.synthesis_dir(m): _pool_label(m) for m in first
                                                    if m["synthesize"]["strategy"] != "none"})
        written += _throughput_figure(done, out, fmt, dpi, f"{p['model']['base']}, {p['model']['resolution']} px")
        scored = {(artifacts.synthesis_dir(m), artifacts.filter_dir(m)) for m in params.expand_sweep(p)}
        for pool, scores in sorted((a, b) for a, b in scored if b is not None and artifacts.is_done(b)):
            written += figures.filter_grid(pool, scores, out / f"filter_{pool.name}", fmt, dpi)
    img2img = [m for m in params.expand_sweep(p) if m["synthesize"]["strategy"] != "none"
               and get_strategy(m["synthesize"]["strategy"]).img2img
               and (not get_strategy(m["synthesize"]["strategy"]).needs_finetune
                    or artifacts.is_done(artifacts.finetune_dir(m)))] if p["analyze"]["model_figures"] else []
    if img2img:  # made on demand with the run's model: 6 strengths x 4 sources
        written += figures.progressive_translation(img2img[0], out / "progressive_translation", fmt, dpi)
    written += _model_figures(p, img2img, out, fmt, dpi)
    provenance.write(out, p)
    artifacts.write_json(artifacts.run_dir(p) / "analyze-done.json", jobs.analyze_marker(p))
    tables = sorted({f.stem for f in written if f.parent.name == "tables"})
    figures_made = sorted({f.stem for f in written if f.parent.name != "tables"})
    print(f"wrote {len(written)} files to {out}: tables {', '.join(tables)} (tables/*.csv, *.md); "
          f"{len(figures_made)} figures ({' + '.join(fmt)})")
    return written


def run_stage(p: dict) -> list[Path]:
    """The analysis of a parameter set (``run_analysis``), named like every stage's entry point."""
    return run_analysis(p)


# Why a figure or table a notebook step asks for may be absent from a run (shown instead of it).
NOT_MADE = {
    "claim_": "made with analyze.claims: true (the toy reproduction's files)",
    "claims_compared": "made when two claims have the same arms (the toy reproduction's two regimes)",
    "dial_": "made with analyze.dials: true (the toy reproduction's name and fidelity dials)",
    "accuracy_vs_": "made when a synthetic strategy was trained (not with analyze.claims, whose arms have their own figure)",
    "throughput_vs_strength": "made when pools at two or more strengths were synthesized in one process each",
    "filter_": "made when a pool was filtered (filter.scorer: clip or classifier)",
    "progressive_translation": "made when an img2img strategy's model is available, unless analyze.model_figures: false",
    "cross_attention": "made when an img2img strategy's model is available, unless analyze.model_figures: false",
    "finetune_comparison": "made when a fine-tuned strategy (diff-*, ti-*) was run, unless analyze.model_figures: false",
    "tsne_features": "made when a fine-tuned strategy and its baseline classifier were run, unless analyze.model_figures: false",
}


def outputs(files: list[Path], *names: str) -> list:
    """What ``04_analyze`` shows of the written ``files``: each Markdown table under its name (results,
    claims, environment; the per-member ``runs`` table stays in its file), then each PNG figure. With
    ``names``, only the tables and figures whose name starts with one of them, in that order; a name
    this run did not make is said, with when it is made."""
    from IPython.display import Image, Markdown
    tables = [f for f in files if f.suffix == ".md" and f.name != "runs.md"]
    pngs = [f for f in files if f.suffix == ".png"]
    shown = []
    for name in names or ("",):
        matched = [f for f in tables + pngs if f.stem.startswith(name)]
        for f in matched:
            shown += [Markdown(f"**{f.stem}** (`{f}`)"), Markdown(f.read_text())] if f.suffix == ".md" \
                else [Image(filename=str(f))]
        if name and not matched:
            why = next((w for key, w in NOT_MADE.items() if name.startswith(key) or key.startswith(name)), "")
            shown.append(Markdown(f"*{name}: not made in this run{' (' + why + ')' if why else ''}.*"))
    return shown


def show(files: list[Path], *names: str) -> None:
    """Display ``outputs(files, *names)`` in the notebook."""
    from IPython.display import display
    for item in outputs(files, *names):
        display(item)
