"""Write docs/parameters.md, the reference of every parameter key, from the schema.

    python tools/parameter_reference.py          # rewrite docs/parameters.md
    python tools/parameter_reference.py --check  # exit 1 if the page and the schema disagree (the tests run this)

The schema (``diffmix_utils/params/schema.py``) is the one place a key is declared; this page is
made from it, so it cannot drift: a key added, removed or changed there fails the check until the
page is written again.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import generated_page  # noqa: E402
from diffmix_utils.params.schema import MOVED_KEYS, SCHEMA, Field  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "parameters.md"
INTRO = """# Parameter reference

Every key a parameter file may hold: its type, default, valid values and meaning. This page is
generated from `diffmix_utils/params/schema.py` by `python tools/parameter_reference.py` (a test
fails when the two disagree). How files, sweeps and variants are written:
[parameter-files.md](parameter-files.md); running them: [running.md](running.md).

A file sets only what differs from these defaults. The defaults alone make a small run on the CPU
(`bundled:tiny-sd`, toybirds, resnet18, 2 epochs); every file in `params/` sets what its experiment needs.
On the command line `--set section.key=value` sets one key and `--set 'sweep.seed=[0,1,2]'` one
sweep axis; in a notebook, `overrides = {'section.key': value}` does the same.
"""


def _valid(f: Field) -> str:
    """The valid values of a key, in words."""
    parts = []
    if f.choices:
        parts.append(" \\| ".join(f"`{c}`" for c in f.choices))
    if f.low is not None or f.high is not None:
        lo = "" if f.low is None else f"{_number(f.low)} {'<' if f.low_open else '≤'} "
        hi = "" if f.high is None else f" {'<' if f.high_open else '≤'} {_number(f.high)}"
        parts.append(f"{lo}x{hi}")
    if f.pattern:
        parts.append(f"matches `{f.pattern}`")
    if f.nullable:
        parts.append("or `null`" if parts else "any, or `null`")
    return "; ".join(parts) or "any"


def _number(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def _default(value) -> str:
    text = "null" if value is None else str(value).lower() if isinstance(value, bool) else repr(value)
    return f"`{text}`".replace("|", "\\|")


def _row(key: str, f: Field) -> str:
    doc = f.doc.replace("|", "\\|")
    return f"| `{key}` | {f.kind} | {_default(f.default)} | {_valid(f)} | {doc} |"


def page() -> str:
    head = "| key | type | default | valid | meaning |\n|---|---|---|---|---|"
    top = [_row(k, v) for k, v in SCHEMA.items() if isinstance(v, Field)]
    out = [INTRO, "## Top-level keys\n", head, *top, ""]
    for section, fields in SCHEMA.items():
        if isinstance(fields, dict):
            out += [f"## `{section}`\n", head, *(_row(f"{section}.{k}", f) for k, f in fields.items()), ""]
    out += ["## Old spellings\n", "These still work, with a one-line notice:\n",
            *(f"- `{old}` is now `{new}`" for old, new in MOVED_KEYS.items()), ""]
    return "\n".join(out)


def parser() -> argparse.ArgumentParser:
    """The command line of ``python tools/parameter_reference.py`` (docs/cli.md is generated from it)."""
    return generated_page.parser("parameter_reference.py", "docs/parameters.md", "the schema")


def main(argv: list[str]) -> int:
    return generated_page.write_or_check(PAGE, page, parser().parse_args(argv).check, "the schema", "parameter_reference.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
