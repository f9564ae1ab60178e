"""The notebooks in a real JupyterLab under a real Chromium (Debian's, driven by playwright).

After a smoke run of the chain into the repository's ``runs/`` (as ``make smoke`` makes one), the
test starts JupyterLab on a free local port, opens notebook 00 and the GRPO notebook (copies whose
parameters cell names that run and smoke sizes, kept in the run's folder so that the kernel's working
directory is not the repository root), runs every cell and checks: no error output; the clip
browser's image changes when its slider moves; the reward playground shows format 1 and accuracy 1
for ``<think>x</think><answer>angry</answer>`` with label angry, then accuracy 0 for label sad; the
notebook finds its run with the default ``runs_root``. Screenshots go to ``runs/<run>/screenshots/``.
Every process it starts is stopped. Without a browser it fails, saying why; it never skips.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from r1omni.runs import repo_root, runs_root
from r1omni.workbook import SMOKE_PARAMETERS, run_chain, run_is_complete

CHROMIUM = Path(os.environ.get("R1OMNI_CHROMIUM", "/usr/bin/chromium"))
RUN_ID = "ui-test"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _lab_copy(name: str, folder: Path) -> Path:
    """Notebook ``name`` with its parameters cell set to the smoke run (run_id, smoke, solutions):
    what a user would type in that cell. ``runs_root`` keeps its default."""
    nb = nbformat.read(repo_root() / "notebooks" / f"{name}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    for key, value in (("run_id", f'"{RUN_ID}"'), ("smoke", "True"), ("show_solutions", "True")):
        cell.source, count = re.subn(rf"^{key}: (\w+) = .*?(  #)", rf"{key}: \1 = {value}\2", cell.source, flags=re.M)
        assert count == 1, f"{name}: no {key} parameter"
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{name}.ipynb")
    return folder / f"{name}.ipynb"


def _wait_for_lab(port: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    import urllib.request

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token=ui", timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"jupyter lab did not answer on port {port} within {timeout} s")


NOTEBOOK_STATE = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const cells = panel.content.model.cells;
    let pending = 0, error = false;
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        if (cell.type !== "code") continue;
        if (cell.executionCount === null) pending++;
        for (let j = 0; j < cell.outputs.length; j++) if (cell.outputs.get(j).type === "error") error = true;
    }
    return {pending, error, status: panel.sessionContext.session?.kernel?.status ?? "none"};
}"""


def _run_all_cells(page, notebook: Path, shots: Path, timeout_s: float = 420) -> str:
    """Run every cell of the open notebook through Lab's own command, wait until each has run (or an
    error stopped the run), save it; returns the kernel's name."""
    path = notebook.relative_to(repo_root()).as_posix()
    page.wait_for_function(  # the tab shown is this notebook (Lab may restore others beside it)
        "p => window.jupyterapp?.shell.currentWidget?.context?.path === p", arg=path, timeout=60_000
    )
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").first.click()  # focus: run-all acts on it
    kernel = page.evaluate(
        "async () => { const p = window.jupyterapp.shell.currentWidget; "
        "await p.sessionContext.ready; return p.sessionContext.session.kernel.name; }"
    )
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline, state = time.time() + timeout_s, {}
    while time.time() < deadline:
        time.sleep(1)
        state = page.evaluate(NOTEBOOK_STATE)
        if state["error"] or (state["pending"] == 0 and state["status"] == "idle"):
            break
    page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
    time.sleep(2)
    page.screenshot(path=str(shots / f"{notebook.stem}.png"), full_page=True)
    assert state.get("pending") == 0 or state.get("error"), f"{notebook.name}: cells still pending after {timeout_s} s"
    return kernel


def _errors(notebook: Path) -> list[str]:
    nb = json.loads(notebook.read_text())
    return [
        f"{o.get('ename')}: {o.get('evalue')}"
        for c in nb["cells"]
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]


@pytest.mark.slow
def test_the_notebooks_run_in_jupyterlab_under_chromium():
    if not CHROMIUM.is_file():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium with apt-get; that failed "
            "or ran without root (install it: apt-get install chromium)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        pytest.fail(f"the playwright client is not installed ({err}); `make install` installs it from the dev extra")

    run = runs_root() / RUN_ID
    if not run_is_complete(run):  # a fresh checkout (CI) makes it; a complete one from an earlier test is reused
        shutil.rmtree(run, ignore_errors=True)
        smoke = run_chain(RUN_ID, dict(SMOKE_PARAMETERS), ["00", "01", "02"], stream_progress=False, cell_timeout=600)
        assert smoke.ok, smoke.describe_error()
    shutil.rmtree(run / "lab", ignore_errors=True)
    lab_dir, shots = run / "lab", run / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    copies = [_lab_copy("00_data_prep", lab_dir), _lab_copy("03_rlvr_grpo", lab_dir)]

    port = _free_port()
    kernels = run / "jupyter_data" / "kernels" / "r1omni"  # what `make lab` registers (make kernel for ~)
    kernels.mkdir(parents=True, exist_ok=True)
    (kernels / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python (r1omni)",
                "language": "python",
            }
        )
    )
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(run / "jupyter_config"),
        "JUPYTER_PATH": str(run / "jupyter_data"),
        "HF_HUB_OFFLINE": "1",
    }
    lab = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            "--IdentityProvider.token=ui",
            f"--ServerApp.root_dir={repo_root()}",
            "--allow-root",
            "--LabApp.news_url=",
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run the cells through Lab's own commands
            "--ServerApp.disable_check_xsrf=True",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(run / "jupyterlab.log", "w"),
    )
    try:
        _wait_for_lab(port, lab)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                console = []
                page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
                rel = lambda p: p.relative_to(repo_root()).as_posix()  # noqa: E731

                # notebook 00: the clip browser
                page.goto(f"http://127.0.0.1:{port}/lab/tree/{rel(copies[0])}?token=ui&reset")
                assert _run_all_cells(page, copies[0], shots) == "r1omni"  # the kernelspec the notebooks name
                assert not _errors(copies[0]), _errors(copies[0])
                image = page.locator(".widget-image").last
                image.scroll_into_view_if_needed()
                before = image.get_attribute("src")
                page.locator(".widget-slider .noUi-handle, .widget-slider input").last.focus()
                page.keyboard.press("ArrowRight")
                page.wait_for_function(
                    "src => [...document.querySelectorAll('.widget-image')].pop().src !== src",
                    arg=before,
                    timeout=30_000,
                )
                page.screenshot(path=str(shots / "00_clip_browser_moved.png"), full_page=True)

                # the GRPO notebook: the reward playground, and the run found with the default runs_root
                page.goto(f"http://127.0.0.1:{port}/lab/tree/{rel(copies[1])}?token=ui&reset")
                _run_all_cells(page, copies[1], shots)
                assert not _errors(copies[1]), _errors(copies[1])
                saved = json.loads(copies[1].read_text())
                printed = "".join("".join(o.get("text", "")) for c in saved["cells"] for o in c.get("outputs", []))
                assert f"data: {run / '00_data_prep' / 'synthemo_smoke'}" in printed  # found via the default root
                textarea = page.locator(".widget-textarea textarea").first
                textarea.fill("<think>x</think><answer>angry</answer>")
                label = page.locator(".widget-text input[list]").first  # the Combobox: a text box with a datalist
                label.fill("angry")
                label.press("Enter")
                table = page.locator(".widget-html-content table").first
                expect_rows = {"format_reward": "1", "accuracy_reward": "1"}
                page.wait_for_function(
                    "() => document.querySelector('.widget-html-content table').innerText.includes('angry')"
                )
                assert _rewards(table.inner_html()) == expect_rows
                label.fill("sad")
                label.press("Enter")
                page.wait_for_function(  # the accuracy row reads 0 once the table has refreshed
                    "() => /<td>accuracy_reward<\\/td><td>reward<\\/td><td>0<\\/td>/"
                    ".test(document.querySelector('.widget-html-content table').innerHTML)",
                    timeout=30_000,
                )
                assert _rewards(table.inner_html()) == {"format_reward": "1", "accuracy_reward": "0"}
                page.screenshot(path=str(shots / "03_reward_playground.png"), full_page=True)
                widget_errors = [m for m in console if m.startswith("error") and "widget" in m.lower()]
                assert not widget_errors, widget_errors
            finally:
                browser.close()
    finally:
        lab.terminate()
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            lab.kill()
            lab.wait()
    assert not (repo_root() / "notebooks" / "runs").exists() and not (lab_dir / "runs").exists()  # no stray runs/


def _rewards(table_html: str) -> dict[str, str]:
    """``{reward function: value}`` of the playground's bold ``reward`` rows."""
    rows = re.findall(r"<td>(\w+_reward)</td><td>reward</td><td>([^<]*)</td>", table_html)
    return dict(rows)
