"""README's and docs' result tables, written from the kit's published results (``results/<name>/``).

    python tools/result_tables.py          # rewrite every generated table in README.md and docs/*.md, and
                                           # draw the figures of FIGURES (docs/images/) from the same files
    python tools/result_tables.py --check  # exit 1 if a page and the published files disagree (the tests run this)

A generated table sits between ``<!-- generated: NAME -->`` and ``<!-- end generated -->``; NAME is one
of ``TABLES`` below. The numbers come from the published CSV files only (the 30-draw table of the toy
reproduction's history is recomputed from the first 30 draws' published rows), so a page cannot quote
a number the files do not hold.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from diffmix_utils import params  # noqa: E402
from diffmix_utils.analyze.published import load, recomputed  # noqa: E402

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w/.-]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


def signed(x: float) -> str:
    """+1.55 / −4.75 (a true minus sign), two decimals."""
    return f"{'+' if x >= 0 else '−'}{abs(x):.2f}"


def interval(row: pd.Series, what: str) -> str:
    """``+0.68 [−2.27, +3.62]`` of comparison ``what`` (e.g. ``acc vs baseline``) in a claim row."""
    return f"{signed(row[f'{what} Δ'])} [{signed(row[f'{what} low'])}, {signed(row[f'{what} high'])}]"


def _md(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def demo_summary() -> str:
    r = load("demo")["results"]
    names = {"none": "baseline (real images only)", "real-mix": "real-mix, s = {s} (misleading names)",
             "diff-mix": "Diff-Mix, s = {s}"}
    rows = []
    for _, row in r.iterrows():
        label = names[row.strategy].format(s=f"{row.strength:g}" if pd.notna(row.strength) else "")
        base = row.strategy == "none"
        rows.append([label, f"{row.test_acc_at_best_val:.2f} ± {row.test_acc_at_best_val_std:.2f}",
                     "" if base else f"{signed(row.diff_vs_baseline)} [{signed(row.diff_ci95_low)}, "
                                     f"{signed(row.diff_ci95_high)}]", "" if base else row.verdict])
    seeds = int(r.seeds.max())
    return _md([f"1-shot toybirds, {seeds} seeds", "test accuracy (%)", "Δ vs baseline [95 % interval]", "verdict"],
               rows)


def _claims(name: str, draws: int | None = None) -> dict[str, pd.DataFrame]:
    """The claim tables of run ``name``, indexed by arm; with ``draws``, recomputed from its first draws."""
    files = load(name)
    if draws is None:
        return {k[len("claim_"):]: v.set_index("arm") for k, v in files.items() if k.startswith("claim_")}
    p = params.load(ROOT / files["meta"]["params_file"], params.parse_overrides([f"sweep.seed={list(range(draws))}"]))
    runs = files["runs"][files["runs"].seed < draws]
    return {k[len("claim_"):]: v.set_index("arm") for k, v in recomputed(p, runs).items() if k.startswith("claim_")}


def regimes_summary() -> str:
    c = _claims("toy_regimes")
    named, opaque, controls = c["named"], c["opaque"], c["controls"]
    return _md(["arm", "named regime", "opaque regime (names that mislead)"], [
        ["real-mix (prompted with the class name)", interval(named.loc["real-mix"], "acc vs baseline"),
         interval(opaque.loc["real-mix"], "acc vs baseline")],
        ["Diff-Mix (fine-tuned tokens; same runs in both)", interval(named.loc["diff-mix"], "acc vs baseline"),
         interval(opaque.loc["diff-mix"], "acc vs baseline")],
        ["Diff-Mix − real-mix", interval(named.loc["diff-mix"], "acc vs real-mix"),
         interval(opaque.loc["diff-mix"], "acc vs real-mix")],
        ["control: oracle images (perfect translations)", interval(controls.loc["oracle images"], "acc vs baseline"),
         "(the same runs)"]])


def _cell(row: pd.Series, what: str, label: str = "") -> str:
    if f"{what} Δ" not in row or pd.isna(row[f"{what} Δ"]):
        return ""
    return f"{label}{interval(row, what)}, MDD {row[f'{what} MDD']:.1f}: {row[f'{what} verdict']}"


REGIMES = ("named", "opaque", "controls")  # the order of the plan's table
TOY_PAPER = ("few-shot", "shift", "strength", "controls")  # the paper's claims, then the kit's controls


def claims_table(name: str, order: tuple[str, ...], first: str, draws: int | None = None) -> str:
    """Every claim table of published run ``name`` as one Markdown table, claims in ``order``; a claim
    with a group shift is read in worst-group accuracy, the others in accuracy."""
    rows, claims = [], _claims(name, draws)
    for claim in sorted(claims, key=lambda c: order.index(c) if c in order else len(order)):
        table = claims[claim]
        metric = "worst_group" if "worst_group mean" in table.columns else "acc"
        for i, (arm, row) in enumerate(table.iterrows()):
            vs = f"{metric} vs "
            partner = next((c[len(vs):-2] for c in row.index if c.startswith(vs) and c.endswith(" Δ")
                            and c not in (f"{vs}baseline Δ", f"{vs}real-mix Δ") and pd.notna(row[c])), None)
            last = _cell(row, f"{vs}real-mix") or (_cell(row, f"{vs}{partner}", f"vs {partner}: ") if partner else "")
            rows.append([(claim + (" (worst group)" if metric == "worst_group" else "")) if i == 0 else "", arm,
                         str(int(row.seeds)), f"{row[f'{metric} mean']:.2f} ± {row[f'{metric} std']:.2f}",
                         _cell(row, f"{vs}baseline"), last])
    return _md([first, "arm", "draws" if name == "toy_regimes" else "seeds", "accuracy, mean ± std",
                "Δ vs baseline [95 %], MDD: verdict",
                "Δ vs real-mix (controls: vs the method they break) [95 %], MDD: verdict"], rows)


def regimes_claims(draws: int | None = None) -> str:
    return claims_table("toy_regimes", REGIMES, "regime", draws)


def _published(name: str) -> dict | None:
    try:
        return load(name)
    except FileNotFoundError:
        return None


def name_check_table() -> str:
    """The name dial's manipulation check (``name_check.json``), one row per setting: img2img judged,
    text-to-image reported."""
    check = load("toy_dials")["name_check"]
    rows = []
    for setting, row in check["settings"].items():
        i, t = row["conditions"]["img2img"], row["conditions"]["text-to-image"]
        rows.append([f"`{setting}`", row["names"][0], f"{i['prompted_x_chance']:.2f}", f"{i['colour_x_share']:.2f}",
                     f"{i['prompted_within_colour']:.2f}", f"{i['p_independence']:.2g}",
                     "yes" if row["passes"] else "**no**", f"{t['prompted_x_chance']:.2f}", f"{t['p_independence']:.2g}"])
    return _md(["setting", "e.g. (class 0)", "img2img: prompted × chance", "colour × share", "prompted within colour",
                "χ² p", "passes", "text-to-image: prompted × chance", "χ² p"], rows)


def dial_names_table() -> str:
    t = load("toy_dials")["dial_names"]
    return _md(["comparison (paired by draw)", "hypothesis", "Δ [95 %], MDD: verdict"],
               [[r.comparison, r.hypothesis if isinstance(r.hypothesis, str) else "",
                 f"{signed(r['Δ'])} [{signed(r.low)}, {signed(r.high)}], MDD {r.MDD:.1f}: {r.verdict}"]
                for _, r in t.iterrows()])


def dial_fidelity_table() -> str:
    """toy_dials' pools over 37 draws, then the capacity arms (10 draws) when published."""
    return _fidelity_md(pd.concat([x["dial_fidelity"] for x in (_published("toy_dials"), _published("toy_dials_capacity"))
                                   if x is not None and "dial_fidelity" in x], ignore_index=True).drop_duplicates("arm"))


def capacity_fidelity_table() -> str:
    """The capacity file's own table: Diff-Mix, q = ¼ and the capacity arms on the same draws 0-9."""
    return _fidelity_md(load("toy_dials_capacity")["dial_fidelity"])


def _fidelity_md(t: pd.DataFrame) -> str:
    return _md(["arm", "q", "draws", "measured fidelity (%), mean ± std", "Δ vs baseline [95 %], MDD: verdict"],
               [[r.arm, "" if pd.isna(r.q) else f"{r.q:g}", str(int(r.seeds)),
                 f"{r['fidelity mean']:.1f} ± {r['fidelity std']:.1f}",
                 f"{signed(r['vs baseline Δ'])} [{signed(r['vs baseline low'])}, {signed(r['vs baseline high'])}], "
                 f"MDD {r['vs baseline MDD']:.1f}: {r['vs baseline verdict']}"] for _, r in t.iterrows()])


def dial_tests_table() -> str:
    """The fidelity tests of toy_dials, then the capacity arms' rows of toy_dials_capacity (F3 and the
    exploratory ones) when published; its F1 and F2 over q = 0 and ¼ alone are left to its own table."""
    t = load("toy_dials")["dial_fidelity_tests"]
    capacity = _published("toy_dials_capacity")
    if capacity is not None and "dial_fidelity_tests" in capacity:
        arms = capacity["dial_fidelity_tests"]
        t = pd.concat([t, arms[arms.hypothesis.isin(["F3", "exploratory"])]], ignore_index=True)
    rows = []
    for _, r in t.iterrows():
        est = r.verdict if pd.isna(r.get("low")) else \
            f"{signed(r.estimate)} [{signed(r.low)}, {signed(r.high)}], MDD {r.MDD:.1f}: {r.verdict}"
        rows.append([r.hypothesis, r.statement, est, str(int(r.draws))])
    return _md(["test", "what", "estimate [95 %], MDD: verdict", "draws"], rows)


TABLES = {"demo/summary": demo_summary, "toy_regimes/summary": regimes_summary,
          "toy_regimes/claims": regimes_claims, "toy_regimes/claims-30": lambda: regimes_claims(30),
          "toy_paper/claims": lambda: claims_table("toy_paper", TOY_PAPER, "claim"),
          "toy_dials/name_check": name_check_table, "toy_dials/names": dial_names_table,
          "toy_dials/fidelity": dial_fidelity_table, "toy_dials/fidelity_tests": dial_tests_table,
          "toy_dials_capacity/fidelity": capacity_fidelity_table}


def regimes_compared_figure(base: Path) -> list[Path]:
    """The two regimes side by side (``claims_compared``), drawn from the published claim tables."""
    from diffmix_utils.analyze.claims import claims_compared_figure, compared_claims
    files = load("toy_regimes")
    p = params.load(ROOT / files["meta"]["params_file"])
    tables = {k[len("claim_"):]: v for k, v in files.items() if k.startswith("claim_")}
    return claims_compared_figure(compared_claims(tables), base, ["png"], p["analyze"]["dpi"])


def dial_figures(base: Path) -> list[Path]:
    """The two dials' figures from the published tables (nothing before toy_dials is published)."""
    from diffmix_utils.analyze.dial_figures import fidelity_dial_figure, name_dial_figure
    files, capacity = _published("toy_dials"), _published("toy_dials_capacity")
    if files is None:
        return []
    dpi, out = params.load(ROOT / files["meta"]["params_file"])["analyze"]["dpi"], []
    if "dial_names" in files:
        out += name_dial_figure(files["dial_names"], files.get("name_check"), Path(f"{base}_names"), ["png"], dpi)
    if "dial_fidelity" in files:
        out += fidelity_dial_figure(files["dial_fidelity"], Path(f"{base}_fidelity"), ["png"], dpi,
                                    capacity["dial_fidelity"] if capacity and "dial_fidelity" in capacity else None)
    return out


# docs' figures drawn from published files (written, never checked: PNG bytes follow matplotlib's version)
FIGURES = {ROOT / "docs" / "images" / "toy_regimes_claims_compared": regimes_compared_figure,
           ROOT / "docs" / "images" / "toy_dials": dial_figures}


def render(text: str) -> str:
    """``text`` with every generated block written anew; an unknown name is an error naming the known ones."""
    def one(m: re.Match) -> str:
        name = m["name"]
        if name not in TABLES:
            raise KeyError(f"unknown generated table {name!r}; known: {', '.join(TABLES)}")
        return m.group(1) + TABLES[name]() + m.group(4)
    return BLOCK.sub(one, text)


def parser() -> argparse.ArgumentParser:
    """The command line of ``python tools/result_tables.py`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python tools/result_tables.py",
                                 description="Write README's and docs' result tables from results/.")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if a page and the published files disagree; write nothing")
    return ap


def main(argv: list[str]) -> int:
    check = parser().parse_args(argv).check
    stale = []
    for page in PAGES:
        text = page.read_text()
        new = render(text)
        if new != text:
            stale.append(page.relative_to(ROOT))
            if not check:
                page.write_text(new)
    if check and stale:
        print(f"generated tables differ from results/ in: {', '.join(map(str, stale))}; "
              "run python tools/result_tables.py", file=sys.stderr)
        return 1
    print(f"{'stale' if check else 'rewrote'}: {', '.join(map(str, stale)) or 'nothing'}")
    if not check:
        for base, draw in FIGURES.items():
            print("drew:", ", ".join(str(f.relative_to(ROOT)) for f in draw(base)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
