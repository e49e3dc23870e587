"""Check a finished run against the kit's published results for the same file (``results/<name>/``).

    python -m diffmix_utils.verify params/demo.yaml            # after make demo (make verify)
    python -m diffmix_utils.verify params/toy_regimes.yaml     # after the toy reproduction

Every member's accuracies (read from its classifier's ``result.json`` in the store) are compared with
the published row of the same member. On the platform that made the reference (the same Python,
libraries, CUDA, devices and CPU kernels) the kit promises the same bytes, so the answer is
"identical" or every differing row with both values. On another platform the last bits of floats
differ and a 1-shot classifier amplifies them; each difference is then also placed against the
reference's own seed spread (within when |Δ| ≤ 2 × the standard deviation over the seeds of that
arm). Exit status 0 when every row is identical, or, on another platform, when every difference lies
within that spread; 1 otherwise (a member not trained yet included); 2 for a bad file or no reference.
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import pandas as pd

from . import params, provenance
from .analyze.published import load, runs_table
from .analyze.tables import EXTRA_METRICS, MEASURED, METRICS, environment_table

HEADLINE = "test_acc_at_best_val"
SPREAD = 2.0  # a difference within SPREAD x the reference's std over seeds is "within the seed spread"
ARM = ["variant", "dataset", "shots", "imbalance", "backbone", "strategy", "strength", "strengths", "gamma", "p"]


def _through_csv(df: pd.DataFrame) -> pd.DataFrame:
    """The table as it reads back from a CSV file, so a run compares with a published file exactly."""
    buffer = io.StringIO()
    df.to_csv(buffer, index=False)
    buffer.seek(0)
    return pd.read_csv(buffer)


MUST_BE_RECORDED = ("cpu_model",)  # results made before the kit recorded it: not provably this platform


def platform_differences(run_env: pd.DataFrame, ref_env: pd.DataFrame) -> list[str]:
    """What differs between the environments of this run and the reference's ("torch: 2.14.1 vs 2.13.0");
    empty on the same platform. A value the reference did not record is not compared."""
    out = []
    for key in provenance.ENVIRONMENT_KEYS:
        if key not in ref_env or ref_env[key].isna().all():
            if key in MUST_BE_RECORDED:  # without it, the same platform cannot be told
                here = sorted(set(run_env.get(key, pd.Series(["?"])).dropna().astype(str))) or ["?"]
                out.append(f"{key}: {'/'.join(here)} here, not recorded in the reference")
            continue
        ref, run = _values(ref_env[key]), _values(run_env.get(key, pd.Series(["?"])))
        if ref != run:
            out.append(f"{key}: {'/'.join(run)} here, {'/'.join(ref)} in the reference")
    return out


def _values(column: pd.Series) -> list[str]:
    """The distinct values of an environment column as text; a row that did not record it (members made
    before the kit did, in a reference that mixes them) counts as "not recorded", never as a number."""
    return sorted({"not recorded" if pd.isna(v) else str(v) for v in column})


def _spread(ref: pd.DataFrame) -> pd.Series:
    """Per member: SPREAD x the std (in points) of the headline metric over the seeds of its arm."""
    arm = [c for c in ARM + [c for c in ref if "." in c] if c in ref]
    std = ref.groupby(arm, dropna=False)[HEADLINE].transform(lambda s: 100 * s.std(ddof=1))
    return (SPREAD * std).set_axis(ref["member"])


def compare(run: pd.DataFrame, ref: pd.DataFrame) -> tuple[list[dict], list[str], list[str]]:
    """(differing rows, members missing here, members this run has that the reference lacks)."""
    metrics = [m for m in METRICS + list(EXTRA_METRICS.values()) + MEASURED if m in ref and m in run]
    run, spread = _through_csv(run).set_index("member"), _spread(ref)
    ref = ref.set_index("member")
    missing = [m for m in ref.index if m not in run.index]
    extra = [m for m in run.index if m not in ref.index]
    rows = []
    for member in [m for m in ref.index if m in run.index]:
        diffs = {k: (ref.at[member, k], run.at[member, k]) for k in metrics
                 if not (pd.isna(ref.at[member, k]) and pd.isna(run.at[member, k]))
                 and ref.at[member, k] != run.at[member, k]}
        same_key = ref.at[member, "train_key"] == run.at[member, "train_key"]
        if diffs or not same_key:
            delta = 100 * (run.at[member, HEADLINE] - ref.at[member, HEADLINE])
            rows.append({"member": member, "diffs": diffs, "same_key": same_key, "delta": delta,
                         "spread": spread.get(member, float("nan")),
                         "within": abs(delta) <= spread.get(member, float("nan"))})
    return rows, missing, extra


def report(name: str, rows: list[dict], missing: list[str], extra: list[str], platform: list[str],
           meta: dict, count: int) -> tuple[str, int]:
    """The verdict's lines and the exit status."""
    lines = [f"verify {name}: {count} runs against results/{name}/ (published {meta.get('date')}, "
             f"kit commit {str(meta.get('kit_commit'))[:10]})"]
    lines.append("platform: the reference's" if not platform else
                 "platform: not the reference's (" + "; ".join(platform) + "): float bits may differ")
    if missing:
        lines.append(f"not trained here yet ({len(missing)}): {', '.join(missing)}: finish the run, then verify")
    if extra:
        lines.append(f"not in the reference ({len(extra)}, not compared): {', '.join(extra)}")
    if not rows and not missing:
        lines.append(f"identical: all {count - len(extra)} runs, every metric")
        return "\n".join(lines), 0
    if rows:
        lines.append(f"{len(rows)} of {count - len(extra)} runs differ (accuracy in %, reference -> this run):")
    for r in rows:
        what = ", ".join(f"{k} {100 * a:.2f} -> {100 * b:.2f}" for k, (a, b) in r["diffs"].items())
        key = "" if r["same_key"] else " (another artifact key: the parameters or the kit differ)"
        within = (f"; Δ {r['delta']:+.2f} is within the seed spread ±{r['spread']:.2f}" if r["within"] else
                  f"; Δ {r['delta']:+.2f} is outside the seed spread ±{r['spread']:.2f}")
        lines.append(f"  {r['member']}: {what or 'same values'}{key}{within if platform else ''}")
    agree = not missing and (not rows or (platform and all(r["within"] and r["same_key"] for r in rows)))
    if rows and agree:
        lines.append("not identical (another platform), but every difference lies within the reference's seed spread")
    return "\n".join(lines), 0 if agree else 1


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m diffmix_utils.verify`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python -m diffmix_utils.verify",
                                 description="Check a finished run against the kit's published results.")
    ap.add_argument("params_file", help="the parameter file of the finished run (e.g. params/demo.yaml)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key, as the run did")
    ap.add_argument("--variants", metavar="PATTERN", help="only the variants matching this glob, as the run and "
                    "the publication kept them")
    ap.add_argument("--reference", type=Path, metavar="DIR", help="the published files to compare with "
                    "(default: results/<name>/ of the kit)")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    a = ap.parse_args(argv)
    try:
        p = params.load(a.params_file, params.parse_overrides(a.set))
        p = params.keep_variants(p, a.variants) if a.variants else p
        published = load(p["name"], a.reference)
    except (ValueError, OSError) as exc:  # ParamsError is a ValueError; no reference an OSError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        run = runs_table(p)
    except FileNotFoundError:  # nothing trained yet
        run = pd.DataFrame(columns=["member", "train_key", "train_dir", HEADLINE])
    platform = platform_differences(environment_table(run) if len(run) else pd.DataFrame(), published["environment"])
    rows, missing, extra = compare(run.drop(columns=["train_dir", "baseline_dir"], errors="ignore"), published["runs"])
    text, status = report(p["name"], rows, missing, extra, platform, published["meta"],
                          len(published["runs"]) + len(extra))
    print(text)
    return status


if __name__ == "__main__":
    sys.exit(main())
