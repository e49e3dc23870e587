"""What a user sees in JupyterLab, in a real browser: headless Chromium (Debian's ``chromium``) driven
by Playwright with the system browser as its executable -- no browser download.

Run with ``make test-ui``. JupyterLab serves a scratch copy of the kit (so its store starts empty) on
a free local port with a token. Screenshots go to ``$UI_SCREENSHOTS`` (default: the test's tmp dir).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

PlaywrightTimeout = pytest.importorskip("playwright.sync_api", reason="make test-ui installs playwright").TimeoutError

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no system chromium: apt-get install chromium")
TIMEOUT_MS = 120_000  # one notebook run
KERNEL_S = 90  # a kernel start on a cold machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base url, token, kit copy, screenshot folder, server log) of a JupyterLab serving a scratch copy of
    the kit, with its own config and workspace folders (a user's ~/.jupyter cannot change what it shows)."""
    kit = tmp_path_factory.mktemp("kit")
    for part in ("notebooks", "params"):
        shutil.copytree(ROOT / part, kit / part)
    first = kit / "notebooks" / "01_finetune.ipynb"  # as a user would: point it at the smoke file
    text = first.read_text()
    assert "params_file = 'params/demo.yaml'" in text
    first.write_text(text.replace("params_file = 'params/demo.yaml'", "params_file = 'params/smoke.yaml'"))
    shots = Path(os.environ.get("UI_SCREENSHOTS", kit / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    jupyter = tmp_path_factory.mktemp("jupyter")
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(jupyter / "config")}
    port, token, log = _free_port(), "diffmix-ui-test", jupyter / "server.log"
    proc = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
                             f"--port={port}", "--ip=127.0.0.1", f"--IdentityProvider.token={token}",
                             f"--ServerApp.root_dir={kit}", f"--LabApp.workspaces_dir={jupyter / 'workspaces'}",
                             "--LabApp.news_url=", "--ServerApp.log_level=INFO"],
                            cwd=kit, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.terminate()
                raise RuntimeError(f"JupyterLab did not start; its log:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
    yield base, token, kit, shots, log
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


def _kernel_state(lab, notebook: str) -> str | None:
    """The execution state the server reports for ``notebook``'s kernel (None: no session yet)."""
    base, token = lab[0], lab[1]
    with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=10) as r:
        sessions = json.load(r)
    return next((s["kernel"]["execution_state"] for s in sessions
                 if s["path"] == f"notebooks/{notebook}" and s.get("kernel")), None)


def _explain(page, lab, what: str) -> str:
    """What the page and the server showed when ``what`` did not happen: a screenshot, the notebook's text
    and the tail of the server log (so a CI log says why)."""
    shot = lab[3] / f"timeout_{int(time.time())}.png"
    page.screenshot(path=str(shot))
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    text = panel.first.inner_text() if panel.count() else "(no notebook panel)"
    status = page.locator(".jp-StatusBar-Widget").all_inner_texts() if page.locator(".jp-StatusBar-Widget").count() else []
    return (f"{what}; screenshot {shot}\n--- status bar: {status}\n--- notebook:\n{text[-4000:]}"
            f"\n--- server log:\n{lab[4].read_text()[-3000:]}")


def _until(page, lab, what: str, ok, timeout_s: float) -> None:
    """Poll ``ok()`` every half second; fail with ``_explain`` after ``timeout_s``."""
    deadline = time.time() + timeout_s
    while not ok():
        if time.time() > deadline:
            pytest.fail(_explain(page, lab, f"{what} within {timeout_s:.0f} s"))
        page.wait_for_timeout(500)


STARTED = """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell'
  + ' .jp-InputArea-prompt')].some(e => /\\[(\\*|\\d+)\\]/.test(e.innerText))"""


def _open_and_run_all(browser, lab, notebook: str):
    """A fresh workspace with only ``notebook`` open, its kernel started and connected, then Run -> Run All
    Cells, clicked again if no cell started (a click while the kernel connects can be lost)."""
    base, token = lab[0], lab[1]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base}/lab/workspaces/{Path(notebook).stem}/tree/notebooks/{notebook}?reset&token={token}")
    page.wait_for_selector(".jp-NotebookPanel", timeout=TIMEOUT_MS)
    # the kit's JupyterLab setting (make install) starts the notebook's own kernel: no "Select Kernel" dialog.
    # The toolbar's indicator reads 'idle' before any kernel exists, so ask the server, then the status bar.
    _until(page, lab, f"a kernel for {notebook} idle on the server",
           lambda: page.locator(".jp-Dialog").count() > 0 or _kernel_state(lab, notebook) == "idle", KERNEL_S)
    assert page.locator(".jp-Dialog").count() == 0, page.locator(".jp-Dialog").inner_text()
    _until(page, lab, "the status bar showing the kernel Idle",
           lambda: "Idle" in " ".join(page.locator(".jp-StatusBar-Widget").all_inner_texts()), KERNEL_S)
    for _ in range(3):
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.locator("[data-command='runmenu:run-all']").click()
        try:
            page.wait_for_function(STARTED, timeout=20_000)
            return page
        except PlaywrightTimeout:
            continue
    pytest.fail(_explain(page, lab, "Run All Cells started no cell, three times"))


def _wait_all_run(page, lab) -> None:
    """Every code cell has run (a number in its prompt, none left at [*] or [ ]; JupyterLab empties the
    prompts of cells scrolled out of view)."""
    try:
        page.wait_for_function(ALL_RUN, timeout=TIMEOUT_MS)
    except PlaywrightTimeout:
        pytest.fail(_explain(page, lab, f"not every cell ran within {TIMEOUT_MS // 1000} s"))


def _no_traceback(page, lab) -> None:
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] >> text=Traceback")
    if errors.count():
        pytest.fail(_explain(page, lab, "a cell raised"))


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
    _wait_all_run(page, lab)
    _no_traceback(page, lab)
    assert page.locator(".jp-OutputArea-output img").count() >= 3  # images, loss curve, generations
    assert "class tokens and LoRA loaded" in page.locator(".jp-NotebookPanel").last.inner_text()
    for k, cell in enumerate(page.locator(".jp-CodeCell .jp-OutputArea-output img").all()[:3]):
        cell.scroll_into_view_if_needed()  # JupyterLab scrolls inside its own panel
        page.screenshot(path=str(lab[3] / f"finetune_{k}.png"))
    page.close()
