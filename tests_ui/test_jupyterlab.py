"""What a user sees in JupyterLab, in a real browser: headless Chromium (Debian's ``chromium``) driven
by Playwright with the system browser as its executable -- no browser download.

Run with ``make test-ui``. JupyterLab serves a scratch copy of the kit (so its store starts empty) on
a free local port with a token. Screenshots go to ``$UI_SCREENSHOTS`` (default: the test's tmp dir).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no system chromium: apt-get install chromium")
TIMEOUT_MS = 120_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base url, token, kit copy, screenshot folder) of a JupyterLab serving a scratch copy of the kit."""
    kit = tmp_path_factory.mktemp("kit")
    for part in ("notebooks", "params"):
        shutil.copytree(ROOT / part, kit / part)
    first = kit / "notebooks" / "01_finetune.ipynb"  # as a user would: point it at the smoke file
    text = first.read_text()
    assert "params_file = 'params/demo.yaml'" in text
    first.write_text(text.replace("params_file = 'params/demo.yaml'", "params_file = 'params/smoke.yaml'"))
    shots = Path(os.environ.get("UI_SCREENSHOTS", kit / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    port, token = _free_port(), "diffmix-ui-test"
    proc = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
                             f"--port={port}", "--ip=127.0.0.1", f"--IdentityProvider.token={token}",
                             f"--ServerApp.root_dir={kit}", "--LabApp.news_url=", "--ServerApp.log_level=WARN"],
                            cwd=kit, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.terminate()
                raise RuntimeError("JupyterLab did not start")
            time.sleep(0.5)
    yield base, token, kit, shots
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                               args=["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield b
        b.close()


ALL_RUN = """() => { const p = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell'
  + ' .jp-InputArea-prompt')].map(e => e.innerText);
  const done = t => /\\[\\d+\\]/.test(t);  // cells scrolled out of view have an empty prompt (windowing)
  return p.length > 0 && p.every(t => t === '' || done(t)) && done(p[p.length - 1]); }"""


def _open_and_run_all(browser, lab, notebook: str):
    """A fresh workspace with only ``notebook`` open, its kernel ready, then Run -> Run All Cells."""
    base, token, _, _ = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base}/lab/workspaces/{Path(notebook).stem}/tree/notebooks/{notebook}?reset&token={token}")
    page.wait_for_selector(".jp-NotebookPanel", timeout=TIMEOUT_MS)
    idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle'] >> visible=true").first
    page.locator(".jp-Dialog").or_(idle).first.wait_for(timeout=TIMEOUT_MS)
    # the kit's JupyterLab setting (make install) starts the notebook's own kernel: no "Select Kernel" dialog
    assert page.locator(".jp-Dialog").count() == 0, page.locator(".jp-Dialog").inner_text()
    idle.wait_for(timeout=TIMEOUT_MS)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator("[data-command='runmenu:run-all']").click()
    return page


def _wait_all_run(page) -> None:
    """Every code cell has run (a number in its prompt, none left at [*] or [ ]; JupyterLab empties the
    prompts of cells scrolled out of view)."""
    page.wait_for_function(ALL_RUN, timeout=TIMEOUT_MS)


def test_explorer_runs_shows_errors_in_the_widget_and_translate_changes_the_image(browser, lab):
    page = _open_and_run_all(browser, lab, "explore.ipynb")
    status = page.locator(".widget-html-content").first
    page.wait_for_selector(".widget-button", timeout=TIMEOUT_MS)
    _wait_all_run(page)
    # a fresh store has no fine-tune: the default strategy (diff-mix) says so before the click ...
    assert "needs the fine-tuned model" in status.inner_text()
    images = page.locator(".widget-image")
    before = images.nth(1).get_attribute("src")
    page.get_by_role("button", name="translate").click()
    page.wait_for_function("() => document.querySelector('.widget-html-content').innerText.includes('failed')",
                           timeout=TIMEOUT_MS)
    assert "FileNotFoundError" in status.inner_text() and "01_finetune" in status.inner_text()
    page.screenshot(path=str(lab[3] / "explore_error.png"))
    # ... and a base-model strategy works without it: the result image changes
    page.locator(".widget-dropdown select").nth(2).select_option("real-aug")
    page.get_by_role("button", name="translate").click()
    page.wait_for_function("() => document.querySelector('.widget-html-content').innerText.includes('->')",
                           timeout=TIMEOUT_MS)
    assert images.nth(1).get_attribute("src") != before
    page.screenshot(path=str(lab[3] / "explore_translated.png"))
    page.close()


def test_the_finetune_notebook_runs_to_the_end_with_the_smoke_parameters(browser, lab):
    page = _open_and_run_all(browser, lab, "01_finetune.ipynb")
    _wait_all_run(page)
    assert page.locator(".jp-OutputArea-output img").count() >= 3  # images, loss curve, generations
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] "
                        ">> text=Traceback").count() == 0
    assert "class tokens and LoRA loaded" in page.locator(".jp-NotebookPanel").last.inner_text()
    for k, cell in enumerate(page.locator(".jp-CodeCell .jp-OutputArea-output img").all()[:3]):
        cell.scroll_into_view_if_needed()  # JupyterLab scrolls inside its own panel
        page.screenshot(path=str(lab[3] / f"finetune_{k}.png"))
    page.close()
