"""A page made from the code (docs/parameters.md from the schema, docs/cli.md from the parsers): its
command line, and writing it or checking it (``--check``, which the tests run) in one place."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent


def parser(script: str, what: str, source: str) -> argparse.ArgumentParser:
    """``python tools/<script> [--check]``: write ``what``, or check it against ``source``."""
    ap = argparse.ArgumentParser(prog=f"python tools/{script}", description=f"Write {what} from {source}.")
    ap.add_argument("--check", action="store_true", help=f"exit 1 if the page and {source} disagree; write nothing")
    return ap


def write_or_check(page: Path, make: Callable[[], str], check: bool, source: str, script: str) -> int:
    """Write ``make()`` to ``page``; with ``check``, write nothing and return 1 (saying how to mend it)
    when the page differs."""
    text = make()
    if not check:
        page.write_text(text)
        return 0
    if page.is_file() and page.read_text() == text:
        return 0
    print(f"{page.relative_to(ROOT)} disagrees with {source}; run python tools/{script}")
    return 1
