"""JupyterLab in a real browser: a server on a free local port, headless Chromium (Debian's
``chromium``) driven by Playwright with the system browser as its executable (no browser download),
and the steps a user takes (open a notebook, wait for its kernel, Run All, wait for every cell).

Used by ``tests_ui/`` (``make test-ui``) and ``tools/tutorial_screenshots.py``. A step that does not
happen in time raises ``LabError`` with a screenshot, the notebook's text and the server log's tail.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TOKEN = "diffmix-ui"
KERNEL_S = 90  # a kernel start on a cold machine
ALL_RUN = """() => { const p = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell'
  + ' .jp-InputArea-prompt')].map(e => e.innerText);
  const done = t => /\\[\\d+\\]/.test(t);  // cells scrolled out of view have an empty prompt (windowing)
  return p.length > 0 && p.every(t => t === '' || done(t)) && done(p[p.length - 1]); }"""
STARTED = """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell'
  + ' .jp-InputArea-prompt')].some(e => /\\[(\\*|\\d+)\\]/.test(e.innerText))"""


class LabError(RuntimeError):
    pass


@dataclass
class Lab:
    base: str
    token: str
    root: Path
    shots: Path
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(root: Path, shots: Path, scratch: Path):
    """A JupyterLab serving ``root``, with its own config and workspace folders under ``scratch`` (a
    user's ~/.jupyter cannot change what it shows); stopped on exit. Autosave is off and every notebook
    under ``root/notebooks`` is put back byte for byte on exit: a run leaves no outputs in the repository."""
    shots.mkdir(parents=True, exist_ok=True)
    settings = scratch / "config" / "lab" / "user-settings" / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
    committed = {p: p.read_bytes() for p in (Path(root) / "notebooks").glob("*.ipynb")}
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(scratch / "config")}
    port, log = _free_port(), scratch / "server.log"
    proc = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
                             f"--port={port}", "--ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
                             f"--ServerApp.root_dir={root}", f"--LabApp.workspaces_dir={scratch / 'workspaces'}",
                             "--LabApp.news_url=", "--ServerApp.log_level=INFO"],
                            cwd=root, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise LabError(f"JupyterLab did not start; its log:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.5)
        yield Lab(base, TOKEN, Path(root), shots, log)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        for path, data in committed.items():
            if path.read_bytes() != data:
                path.write_bytes(data)


@contextlib.contextmanager
def chromium():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield browser
        finally:
            browser.close()


def kernel_state(lab: Lab, notebook: str) -> str | None:
    """The execution state the server reports for ``notebook``'s kernel (None: no session yet)."""
    with urllib.request.urlopen(f"{lab.base}/api/sessions?token={lab.token}", timeout=10) as r:
        sessions = json.load(r)
    return next((s["kernel"]["execution_state"] for s in sessions
                 if s["path"] == f"notebooks/{notebook}" and s.get("kernel")), None)


def explain(page, lab: Lab, what: str) -> str:
    """What the page and the server showed when ``what`` did not happen."""
    shot = lab.shots / f"timeout_{int(time.time())}.png"
    page.screenshot(path=str(shot))
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    text = panel.first.inner_text() if panel.count() else "(no notebook panel)"
    bar = page.locator(".jp-StatusBar-Widget")
    status = bar.all_inner_texts() if bar.count() else []
    return (f"{what}; screenshot {shot}\n--- status bar: {status}\n--- notebook:\n{text[-4000:]}"
            f"\n--- server log:\n{lab.log.read_text()[-3000:]}")


def until(page, lab: Lab, what: str, ok, timeout_s: float) -> None:
    """Poll ``ok()`` every half second; raise LabError with ``explain`` after ``timeout_s``."""
    deadline = time.time() + timeout_s
    while not ok():
        if time.time() > deadline:
            raise LabError(explain(page, lab, f"{what} within {timeout_s:.0f} s"))
        page.wait_for_timeout(500)


def open_and_run_all(browser, lab: Lab, notebook: str, width: int = 1400, height: int = 1000):
    """A fresh workspace with only ``notebook`` open, its kernel started and connected, then Run -> Run All
    Cells, clicked again if no cell started (a click while the kernel connects can be lost)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{lab.base}/lab/workspaces/{Path(notebook).stem}/tree/notebooks/{notebook}?reset&token={lab.token}")
    page.wait_for_selector(".jp-NotebookPanel", timeout=120_000)
    # the kit's JupyterLab setting (make install) starts the notebook's own kernel: no "Select Kernel" dialog.
    # The toolbar's indicator reads 'idle' before any kernel exists, so ask the server, then the status bar.
    until(page, lab, f"a kernel for {notebook} idle on the server",
          lambda: page.locator(".jp-Dialog").count() > 0 or kernel_state(lab, notebook) == "idle", KERNEL_S)
    if page.locator(".jp-Dialog").count():
        raise LabError(f"a dialog opened: {page.locator('.jp-Dialog').inner_text()}")
    until(page, lab, "the status bar showing the kernel Idle",
          lambda: "Idle" in " ".join(page.locator(".jp-StatusBar-Widget").all_inner_texts()), KERNEL_S)
    for _ in range(3):
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.locator("[data-command='runmenu:run-all']").click()
        try:
            page.wait_for_function(STARTED, timeout=20_000)
            return page
        except PlaywrightTimeout:
            continue
    raise LabError(explain(page, lab, "Run All Cells started no cell, three times"))


def wait_all_run(page, lab: Lab, timeout_ms: int = 120_000) -> None:
    """Every code cell has run (a number in its prompt, none left at [*] or [ ])."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    try:
        page.wait_for_function(ALL_RUN, timeout=timeout_ms)
    except PlaywrightTimeout:
        raise LabError(explain(page, lab, f"not every cell ran within {timeout_ms // 1000} s")) from None


def no_traceback(page, lab: Lab) -> None:
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] >> text=Traceback")
    if errors.count():
        raise LabError(explain(page, lab, "a cell raised"))
