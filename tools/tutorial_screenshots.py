"""Take docs/tutorial.md's screenshots: JupyterLab on this kit, each stage notebook run with its
default parameter file (the demo's finished run, so every stage finds its artifacts complete), and
each code cell that shows a figure or a table captured as the reader sees it.

    make demo                                                 # the run the notebooks show
    python tools/tutorial_screenshots.py --out docs/images/tutorial

Files are ``<notebook>-<k>.png``, k counting that notebook's cells with a figure or table from 1;
the page embeds some of them. Needs Debian's chromium and playwright (``make test-ui`` installs it).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import lab_browser  # noqa: E402

NOTEBOOKS = ["01_finetune.ipynb", "02_synthesize.ipynb", "03_train.ipynb", "04_analyze.ipynb"]
SHOWN = ".jp-OutputArea-output img, .jp-OutputArea-output table"


def capture(browser, lab: lab_browser.Lab, notebook: str, out: Path, timeout_s: int) -> list[Path]:
    """Run ``notebook`` to the end and save each cell that shows a figure or a table."""
    # a tall viewport: a cell taller than the view is captured with the part outside it left blank
    page = lab_browser.open_and_run_all(browser, lab, notebook, width=1200, height=6000)
    lab_browser.wait_all_run(page, lab, timeout_s * 1000)
    lab_browser.no_traceback(page, lab)
    written = []
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell")
    for i in range(cells.count()):
        cell = cells.nth(i)
        cell.scroll_into_view_if_needed()  # JupyterLab renders a cell's output only near the view
        page.wait_for_timeout(300)
        if cell.locator(SHOWN).count() == 0:
            continue
        path = out / f"{Path(notebook).stem}-{len(written) + 1}.png"
        cell.screenshot(path=str(path))
        written.append(path)
    page.close()
    return written


def parser() -> argparse.ArgumentParser:
    """The command line of ``python tools/tutorial_screenshots.py`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python tools/tutorial_screenshots.py",
                                 description="Take the tutorial's screenshots from JupyterLab on the demo's run.")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "tutorial", help="where the PNGs go")
    ap.add_argument("--notebook", action="append", choices=NOTEBOOKS, help="only this notebook (repeatable)")
    ap.add_argument("--timeout", type=int, default=900, help="seconds one notebook may take to run")
    return ap


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    if lab_browser.CHROMIUM is None:
        print("needs Debian's chromium: sudo apt-get install -y chromium", file=sys.stderr)
        return 2
    a.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, \
            lab_browser.serve(ROOT, Path(scratch) / "shots", Path(scratch)) as lab, lab_browser.chromium() as browser:
        for notebook in a.notebook or NOTEBOOKS:
            for path in capture(browser, lab, notebook, a.out, a.timeout):
                print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
