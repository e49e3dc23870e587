"""Comparing two stores: every file the stages wrote, as comparable content (weights to float noise,
metrics without timings, every other file byte for byte). Used by the process and cluster tests."""
from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file


def artifacts_of(store: Path) -> dict:
    """Every file the stages wrote, as comparable content: tensors, metrics without timings, bytes."""
    out = {}
    for f in sorted(store.rglob("*")):
        rel = str(f.relative_to(store))
        if (not f.is_file() or f.name.startswith(".") or ".work" in rel or rel.startswith(("splits", "datasets"))
                or f.name in ("provenance.json", "done.json", "log.jsonl", "state.pt", "member.json")):
            continue
        if f.suffix == ".safetensors":
            out[rel] = {k: v for k, v in load_file(f).items()}
        elif f.name in ("metrics.jsonl", "result.json"):
            rows = ([json.loads(x) for x in f.read_text().splitlines() if x.strip()] if f.suffix == ".jsonl"
                    else [json.loads(f.read_text())])
            out[rel] = [{k: v for k, v in r.items() if "second" not in k and "time" not in k} for r in rows]
        else:
            out[rel] = f.read_bytes()
    return out


def assert_same(a: dict, b: dict, tolerance: float = 1e-6) -> None:
    """Equal stores; weights within ``tolerance`` (a resumed fine-tune or classifier matches to float
    noise; 0: bit for bit, as two executors with the same thread settings must)."""
    assert sorted(a) == sorted(b)
    for key in a:
        if isinstance(a[key], dict):
            worst = max(float((a[key][n].float() - b[key][n].float()).abs().max()) for n in a[key])
            assert worst <= tolerance, (key, worst)
        else:
            assert a[key] == b[key], key
