"""The name dial's manipulation check: does each ``data.class_names`` setting tell the base model what
it claims to? Run before any classifier of the dial (docs/toy-reproduction.md, "Two dials: plan").

For each setting, the base model draws ``per_class`` images per prompted class in the two conditions
(``CONDITIONS``): img2img at the file's strength from the real training images of draw 0 (the
condition real-mix uses; the same sources and seeds for every prompted class, so only the name
differs) and text-to-image. The toybirds oracle reads each image's class; ``name_tables`` makes the
prompted × drawn tables, the χ² tests and the verdicts (the img2img condition decides).

``--select`` chooses the uninformative names first, on other seeds: of ``CANDIDATES`` invented words
the 8 whose drawn-class distributions (both conditions) are closest to the pooled one, written to
``data/uninformative_names.json``. The check is kept in the store by key; a pool prompted with a
checked setting (``class_names.CHECKED``) calls ``require`` and stops, naming the setting and its
table, when the setting is not what it claims.

    python -m diffmix_utils.measure.name_check params/toy_dials.yaml [--select] [--json FILE]
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np

from .. import artifacts, locks, params, progress
from ..atomic import atomic_dir
from ..data import open_image
from ..data.class_names import (CHECKED, UNINFORMATIVE_FILE, candidate_names, names_for, opaque_names,
                                setting)
from ..devices import pick_device, torch_threads
from ..models.translate import load_strategy_pipeline, pipeline_call
from ..strategies import PROMPT_TEMPLATE, get_strategy
from . import name_tables
from .oracles import ORACLE_VERSION, load_or_train_oracle

SETTINGS = ("dataset", "partial", "uninformative", "misleading")
CONDITIONS = {"img2img": "real-mix", "text-to-image": "real-gen"}
CANDIDATES, SELECT_SEEDS, CHECK_SEEDS = 48, range(0, 12), range(100, 112)
VERSION = 1


class NameCheckFailed(RuntimeError):
    """A class-names setting is not what it claims (its table is in the message)."""


def check_member(p: dict) -> dict:
    """The member the check is made with: ``p`` on draw 0 (split seed 0), whatever draw ``p`` is; ``p`` must
    carry the file's synthesis settings (a real-mix member: its strength, steps and guidance are the check's)."""
    if p["synthesize"]["strategy"] != "real-mix":
        raise ValueError(f"the name check is made with a real-mix member's synthesis settings; this one has "
                         f"synthesize.strategy = {p['synthesize']['strategy']!r}")
    m = copy.deepcopy(p)
    m["data"]["split_seed"] = 0
    return m


def real_mix_member(p: dict) -> dict:
    """The first real-mix member of a parameter file (one error naming the file's strategies when none)."""
    members = params.expand_sweep(p)
    found = next((m for m in members if m["synthesize"]["strategy"] == "real-mix"), None)
    if found is None:
        raise ValueError(f"{p['name']}: no member uses synthesize.strategy = 'real-mix' (its strategies: "
                         f"{', '.join(sorted({m['synthesize']['strategy'] for m in members}))}); the name check "
                         "reads a real-mix member's strength, steps and guidance")
    return found


def check_key(p: dict, per_class: int = 12) -> str:
    """What the check's tables depend on: draw 0's split (its classes), the base model, the img2img and
    sampler settings, the seeds, the committed uninformative words and the oracle's version (the other
    settings' names are fixed by the code)."""
    m = check_member(p)
    syn = m["synthesize"]
    return artifacts.stable_hash([VERSION, artifacts.split_key(m), artifacts.model_identity(m["model"]),
                                  syn["strength"], syn["steps"], syn["guidance"], m["model"]["resolution"],
                                  per_class, list(CHECK_SEEDS), _words(), ORACLE_VERSION])


def _words() -> list[str]:
    return json.loads(UNINFORMATIVE_FILE.read_text())["names"] if UNINFORMATIVE_FILE.is_file() else []


class _Renderer:
    """The base model in both conditions, the draw-0 sources and the oracle: images for any name list."""

    def __init__(self, p: dict):
        self.p, self.split = check_member(p), artifacts.open_split(check_member(p))
        device = pick_device(p["device"])
        self.pipes = {c: load_strategy_pipeline(self.p, get_strategy(s), device)[0] for c, s in CONDITIONS.items()}
        self.classes = self.split["classes"]
        self.oracle = load_or_train_oracle(artifacts.store(self.p) / "oracles", len(self.classes),
                                           self.p["data"]["image_size"])
        train = sorted(self.split["train"], key=lambda i: (self.split["items"][i]["label"], i))
        self.train = train
        self.superclass = self.p["finetune"]["superclass"] or self.split["superclass"]

    def drawn(self, names: list[str], condition: str, seeds, batch_size: int = 24) -> tuple[list[int], list[int]]:
        with torch_threads(self.p["synthesize"]["cpu_threads"]):  # a fixed count: the same images on any machine
            return self._drawn(names, condition, seeds, batch_size)

    def _drawn(self, names: list[str], condition: str, seeds, batch_size: int) -> tuple[list[int], list[int]]:
        """(name index, class drawn) per image: ``len(seeds)`` images per name; image k of every name has
        the same seed and (img2img) the same source, the k-th training image of draw 0 (cycling)."""
        syn, res = self.p["synthesize"], self.p["model"]["resolution"]
        tasks = [(n, k, s) for n in range(len(names)) for k, s in enumerate(seeds)]
        drawn = []
        for b in progress.bar(range(0, len(tasks), batch_size), desc=f"name check, {condition}", unit="batch"):
            batch = tasks[b:b + batch_size]
            prompts = [PROMPT_TEMPLATE.format(names[n], self.superclass).strip() for n, _, _ in batch]
            call = dict(steps=syn["steps"], guidance=syn["guidance"], resolution=res)
            if condition == "img2img":
                sources = [open_image(self.split, self.train[k % len(self.train)]) for _, k, _ in batch]
                images = pipeline_call(self.pipes[condition], prompts, [s for _, _, s in batch], **call,
                                       images=[im.resize((res, res), resample=3) for im in sources],
                                       strength=syn["strength"])
                images = [im.resize(src.size, resample=3) for im, src in zip(images, sources)]
            else:
                images = pipeline_call(self.pipes[condition], prompts, [s for _, _, s in batch], **call)
            drawn += list(self.oracle.predict(images)[0])
        return [n for n, _, _ in tasks], [int(d) for d in drawn]


def select_uninformative(p: dict, count: int = CANDIDATES) -> dict:
    """Score ``count`` candidate words on seeds ``SELECT_SEEDS`` and keep the 8 (one per class) whose drawn-
    class distributions are closest to the pooled one, summed over both conditions; written to the file."""
    r = _Renderer(p)
    k = len(r.classes)
    words = candidate_names(count, skip=len(opaque_names(k)))
    distance = np.zeros(len(words))
    for condition in CONDITIONS:
        who, drawn = r.drawn(words, condition, list(SELECT_SEEDS))
        distance += name_tables.distance_to_pooled(name_tables.contingency(who, drawn, k, rows=len(words)))
    keep = sorted(np.argsort(distance, kind="stable")[:k].tolist())
    record = {"names": [words[i] for i in keep], "chosen_by": "python -m diffmix_utils.measure.name_check --select",
              "date": time.strftime("%Y-%m-%d"), "base_model": p["model"]["base"], "seeds": list(SELECT_SEEDS),
              "candidates": {w: round(float(d), 4) for w, d in zip(words, distance)}}
    artifacts.atomic_write(UNINFORMATIVE_FILE, lambda tmp: Path(tmp).write_text(json.dumps(record, indent=2) + "\n"))
    return record


def run_check(p: dict, per_class: int = 12) -> dict:
    """Every setting's tables, tests and verdicts on seeds ``CHECK_SEEDS`` (see the module doc)."""
    r = _Renderer(p)
    out = {"version": VERSION, "chance": 1 / len(r.classes), "per_class": per_class, "seeds": list(CHECK_SEEDS),
           "strength": r.p["synthesize"]["strength"], "classes": r.classes, "settings": {}}
    for s in SETTINGS:
        names = names_for(s, r.classes)
        row = {"names": names, "rule": name_tables.RULES[s], "conditions": {}}
        for condition in CONDITIONS:
            who, drawn = r.drawn(names, condition, list(CHECK_SEEDS)[:per_class])
            table = name_tables.contingency(who, drawn, len(r.classes))
            row["conditions"][condition] = {"table": table.tolist(), **name_tables.summary(table, r.classes)}
        row["passes"] = name_tables.passes(s, row["conditions"]["img2img"])
        out["settings"][s] = row
    return out


def check_folder(p: dict) -> Path:
    return artifacts.store(p) / "name-checks" / check_key(p)


def stored_check(p: dict) -> dict:
    """The check of ``p``'s base model and data, made (and kept in the store) on first use."""
    folder = check_folder(p)

    def make() -> Path:
        record = run_check(p)
        with atomic_dir(folder) as tmp:
            (Path(tmp) / "check.json").write_text(json.dumps(record, indent=2) + "\n")
            artifacts.mark_done(tmp, {"what": "class-names check"})
        return folder
    if not artifacts.is_done(folder):
        locks.once(folder, "name check", make)
    return json.loads((folder / "check.json").read_text())


def stored_record(p: dict) -> dict | None:
    """The check of a parameter file's real-mix member if the store has it (no images made), else None."""
    try:
        folder = check_folder(real_mix_member(p))
    except ValueError:
        return None
    return json.loads((folder / "check.json").read_text()) if artifacts.is_done(folder) else None


def require(p: dict) -> None:
    """Stop, naming the setting and its img2img table, unless ``p``'s checked class-names setting passed."""
    mode = setting(p["data"])
    if mode not in CHECKED:
        return
    if not UNINFORMATIVE_FILE.is_file():
        raise NameCheckFailed(f"data.class_names = {mode!r} uses the uninformative words, which are not chosen yet "
                              f"({UNINFORMATIVE_FILE.name} is missing); choose them with "
                              "python -m diffmix_utils.measure.name_check --select PARAMS_FILE")
    row = stored_check(p)["settings"][mode]
    if not row["passes"]:
        c = row["conditions"]["img2img"]
        raise NameCheckFailed(
            f"data.class_names = {mode!r} failed its check ({row['rule']}): prompted class {c['prompted_x_chance']:.2f}x "
            f"chance, prompted colour {c['colour_x_share']:.2f}x its share, independence p = {c['p_independence']:.3g}; "
            f"img2img table (prompted x drawn):\n{name_tables.format_table(np.asarray(c['table']), stored_check(p)['classes'])}")


def format_report(record: dict) -> str:
    lines = [f"chance = {record['chance']:.3f}; {record['per_class']} images per prompted class, seeds "
             f"{record['seeds'][0]}-{record['seeds'][-1]}; img2img at s = {record['strength']} from draw 0's "
             "training images, and text-to-image", "",
             "| setting | e.g. | condition | prompted x chance | colour x share | χ² p | passes |", "|---" * 7 + "|"]
    for s, row in record["settings"].items():
        for condition, c in row["conditions"].items():
            verdict = ("yes" if row["passes"] else "NO") if condition == "img2img" else "(reported)"
            lines.append(f"| {s} | {row['names'][0]} | {condition} | {c['prompted_x_chance']:.2f} | "
                         f"{c['colour_x_share']:.2f} | {c['p_independence']:.3g} | {verdict} |")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m diffmix_utils.measure.name_check`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python -m diffmix_utils.measure.name_check",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("params_file", help="the parameter file (its base model, data and strength)")
    ap.add_argument("--select", action="store_true", help="choose the uninformative names first (writes "
                    "diffmix_utils/data/uninformative_names.json)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--json", help="also write the check's record here")
    return ap


def main(argv=None) -> int:
    a = parser().parse_args(argv)
    try:
        p = real_mix_member(params.load(a.params_file, params.parse_overrides(a.set)))
    except (params.ParamsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    start = time.time()
    if a.select:
        chosen = select_uninformative(p)
        print(f"uninformative names: {', '.join(chosen['names'])} ({time.time() - start:.0f} s)")
    record = stored_check(p)
    print(format_report(record))
    print(f"\n({time.time() - start:.0f} s, {time.strftime('%Y-%m-%d')}; kept in {check_folder(p)})")
    if a.json:
        Path(a.json).write_text(json.dumps(record, indent=2) + "\n")
    failed = [s for s, row in record["settings"].items() if not row["passes"]]
    if failed:
        print(f"FAILED: {', '.join(failed)} (see the rules above); pools prompted with "
              f"{', '.join(f for f in failed if f in CHECKED) or 'them'} will not be made", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
