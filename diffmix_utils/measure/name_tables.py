"""The statistics of the name check: a table of prompted class × class drawn, its χ² test of
independence, the rates the pre-registered rules read, and each setting's verdict
(docs/toy-reproduction.md, "Two dials: plan"). Pure functions of counts; no model here.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import chi2_contingency

ALPHA = 0.05
RULES = {  # what each setting claims, as the plan words it (the img2img condition decides)
    "dataset": "draws the prompted class at >= 3x chance",
    "partial": "draws a class of the prompted colour at >= 1.5x that colour's share, and within that colour the "
               "prompted class at most 0.75 of the time (a colour-only name: 0.5)",
    "uninformative": "does not reject independence (p >= 0.05), draws the prompted class at 0.5-1.5x chance",
    "misleading": "rejects independence (p < 0.05), draws the prompted class at < 0.5x chance",
}


def contingency(prompted: list[int], drawn: list[int], classes: int, rows: int | None = None) -> np.ndarray:
    """counts[c, d]: images prompted with class c (or, with ``rows``, with name c of ``rows``) that the oracle
    read as class d."""
    table = np.zeros((classes if rows is None else rows, classes), dtype=int)
    np.add.at(table, (np.asarray(prompted), np.asarray(drawn)), 1)
    return table


def independence_p(table: np.ndarray) -> float:
    """χ² test of independence of prompted and drawn class (columns never drawn left out); 1.0 when
    every image was read as one class (nothing depends on the name)."""
    t = np.asarray(table)
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    if min(t.shape) < 2:
        return 1.0
    return float(chi2_contingency(t, correction=False)[1])


def colour_groups(classes: list[str]) -> list[int]:
    """Each class's group by the first word of its dataset name (toybirds: the body colour)."""
    firsts = [c.split()[0] for c in classes]
    order = sorted(set(firsts), key=firsts.index)
    return [order.index(f) for f in firsts]


def summary(table: np.ndarray, classes: list[str]) -> dict:
    """The rates the rules read: the prompted class's rate and × chance, the prompted colour's rate and ×
    its share, the prompted class's share of the draws of its colour, and the independence test's p-value."""
    t = np.asarray(table)
    n, k = t.sum(), len(classes)
    groups = np.asarray(colour_groups(classes))
    same_colour = groups[:, None] == groups[None, :]
    share = float(np.mean([np.mean(groups == g) for g in groups]))  # a class's colour's share of classes
    prompted = float(np.trace(t) / n)
    colour = float(t[same_colour].sum() / n)
    return {"images": int(n), "chance": 1 / k, "prompted_rate": prompted, "prompted_x_chance": prompted * k,
            "colour_rate": colour, "colour_share": share, "colour_x_share": colour / share,
            "prompted_within_colour": float(np.trace(t) / max(t[same_colour].sum(), 1)),
            "p_independence": independence_p(t)}


def passes(setting: str, s: dict) -> bool:
    """Whether a setting's img2img summary meets its pre-registered rule (``RULES``)."""
    x = s["prompted_x_chance"]
    if setting == "dataset":
        return x >= 3
    if setting == "partial":
        return s["colour_x_share"] >= 1.5 and s["prompted_within_colour"] <= 0.75
    if setting == "uninformative":
        return s["p_independence"] >= ALPHA and 0.5 <= x <= 1.5
    if setting == "misleading":
        return s["p_independence"] < ALPHA and x < 0.5
    raise ValueError(f"no rule for the class-names setting {setting!r}; settings: {', '.join(RULES)}")


def distance_to_pooled(distributions: np.ndarray) -> np.ndarray:
    """Total-variation distance of each row (a name's drawn-class distribution) from the rows' mean."""
    d = np.asarray(distributions, float)
    d = d / d.sum(axis=1, keepdims=True)
    return 0.5 * np.abs(d - d.mean(axis=0)).sum(axis=1)


def format_table(table: np.ndarray, classes: list[str]) -> str:
    """A Markdown table: one row per prompted class, one column per class drawn (by index)."""
    k = len(classes)
    lines = ["| prompted \\ drawn | " + " | ".join(str(d) for d in range(k)) + " |", "|---" * (k + 1) + "|"]
    lines += [f"| {c} {classes[c]} | " + " | ".join(str(int(v)) for v in table[c]) + " |" for c in range(k)]
    return "\n".join(lines)
