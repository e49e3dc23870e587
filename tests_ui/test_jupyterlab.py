"""What a user sees in JupyterLab, in a real browser: headless Chromium (Debian's ``chromium``) driven
by Playwright with the system browser as its executable -- no browser download.

Run with ``make test-ui``. JupyterLab serves a scratch copy of the kit (so its store starts empty) on
a free local port with a token. Screenshots go to ``$UI_SCREENSHOTS`` (default: the test's tmp dir).
The server and browser steps are ``tools/lab_browser.py``'s (the tutorial's screenshots use them too).
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

PlaywrightTimeout = pytest.importorskip("playwright.sync_api", reason="make test-ui installs playwright").TimeoutError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import lab_browser  # noqa: E402
from lab_browser import LabError  # noqa: E402

pytestmark = pytest.mark.skipif(lab_browser.CHROMIUM is None, reason="no system chromium: apt-get install chromium")
TIMEOUT_MS = 120_000  # one notebook run


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab serving a scratch copy of the kit, the first notebook pointed at the smoke file."""
    kit = tmp_path_factory.mktemp("kit")
    for part in ("notebooks", "params"):
        shutil.copytree(ROOT / part, kit / part)
    first = kit / "notebooks" / "01_finetune.ipynb"  # as a user would: point it at the smoke file
    text = first.read_text()
    assert "params_file = 'params/demo.yaml'" in text
    first.write_text(text.replace("params_file = 'params/demo.yaml'", "params_file = 'params/smoke.yaml'"))
    shots = Path(os.environ.get("UI_SCREENSHOTS", kit / "screenshots"))
    with lab_browser.serve(kit, shots, tmp_path_factory.mktemp("jupyter")) as served:
        yield served


@pytest.fixture(scope="module")
def browser():
    with lab_browser.chromium() as b:
        yield b


def _open_and_run_all(browser, lab, notebook: str):
    try:
        return lab_browser.open_and_run_all(browser, lab, notebook)
    except LabError as exc:
        pytest.fail(str(exc))


def _wait_all_run(page, lab) -> None:
    try:
        lab_browser.wait_all_run(page, lab, TIMEOUT_MS)
    except LabError as exc:
        pytest.fail(str(exc))


def _no_traceback(page, lab) -> None:
    try:
        lab_browser.no_traceback(page, lab)
    except LabError as exc:
        pytest.fail(str(exc))


def _explain(page, lab, what: str) -> str:
    return lab_browser.explain(page, lab, what)


def test_explorer_runs_shows_errors_in_the_widget_and_translate_changes_the_image(browser, lab):
    page = _open_and_run_all(browser, lab, "explore.ipynb")
    status = page.locator(".widget-html-content").first
    _wait_all_run(page, lab)
    _no_traceback(page, lab)
    try:
        page.wait_for_selector(".widget-button", timeout=30_000)
    except PlaywrightTimeout:
        pytest.fail(_explain(page, lab, "every cell ran but the explorer widget did not render"))
    # a fresh store has no fine-tune: the default strategy (diff-mix) says so before the click ...
    assert "needs the fine-tuned model" in status.inner_text()
    images = page.locator(".widget-image")
    before = images.nth(1).get_attribute("src")
    page.get_by_role("button", name="translate").click()
    page.wait_for_function("() => document.querySelector('.widget-html-content').innerText.includes('failed')",
                           timeout=TIMEOUT_MS)
    assert "FileNotFoundError" in status.inner_text() and "01_finetune" in status.inner_text()
    page.screenshot(path=str(lab.shots / "explore_error.png"))
    # ... and a base-model strategy works without it: the result image changes
    page.locator(".widget-dropdown select").nth(2).select_option("real-aug")
    page.get_by_role("button", name="translate").click()
    page.wait_for_function("() => document.querySelector('.widget-html-content').innerText.includes('->')",
                           timeout=TIMEOUT_MS)
    assert images.nth(1).get_attribute("src") != before
    page.screenshot(path=str(lab.shots / "explore_translated.png"))
    page.close()


def test_the_finetune_notebook_runs_to_the_end_with_the_smoke_parameters(browser, lab):
    page = _open_and_run_all(browser, lab, "01_finetune.ipynb")
    _wait_all_run(page, lab)
    _no_traceback(page, lab)
    assert page.locator(".jp-OutputArea-output img").count() >= 3  # images, loss curve, generations
    assert "class tokens and LoRA loaded" in page.locator(".jp-NotebookPanel").last.inner_text()
    for k, cell in enumerate(page.locator(".jp-CodeCell .jp-OutputArea-output img").all()[:3]):
        cell.scroll_into_view_if_needed()  # JupyterLab scrolls inside its own panel
        page.screenshot(path=str(lab.shots / f"finetune_{k}.png"))
    page.close()
