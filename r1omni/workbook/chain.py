"""Run the workbook's notebook chain headlessly with papermill (``make workbook``, ``make smoke``).

Every notebook reads the previous stage's outputs from ``runs/<run_id>/`` and writes its
own, so the chain ``00_data_prep -> ... -> 06_sweep_report`` runs in order under one
``run_id``. Each executed notebook is saved as ``runs/<run_id>/notebooks/<name>.ipynb``.

Which notebooks run and what parameters each receives: :mod:`r1omni.workbook.notebooks`.

``runs/<run_id>/status.json`` (written atomically) says where the run stands::

    {"state": "running" | "complete" | "incomplete" | "failed" | "interrupted", "run_id": ...,
     "params": {...}, "notebooks": [...this call's...], "chain": [...the run's stages...],
     "completed": [...], "stages": {stage: {"state", "reasons"}}, "error": {"notebook", "cell",
     "ename", "evalue", "traceback"} (failed only), "started": ..., "finished": ...}

A run is complete only when its final status says so: every stage of its chain finished and
recorded what it consumed, and nothing it consumed has changed since (``r1omni.runs.stage_state``).
A crash leaves ``running``.

CLI::

    python -m r1omni.workbook [--smoke] [--run-id ID] [--runs-root DIR]
                              [--notebooks 00,01,...] [-p NAME VALUE ...]
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1omni.io import atomic_write_json, read_json
from r1omni.progress import PROGRESS_ENV, STAGE_ENV, follow
from r1omni.runs import chain_state, forget_stage, run_dir, run_lock
from r1omni.runs import runs_root as resolve_runs_root
from r1omni.workbook.notebooks import NOTEBOOKS_DIR, check_devices, notebook_path, plan_chain, resolve_notebooks

STATUS_FILE = "status.json"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class ChainResult:
    """Outcome of :func:`run_chain`."""

    run_id: str
    """The run's id (``runs/<run_id>/``)."""
    state: str
    """``complete`` (every stage of the run's chain is current), ``incomplete`` (this call's notebooks
    ran, but an upstream stage is missing or stale), ``failed`` or ``interrupted``."""
    run_dir: Path
    """``runs/<run_id>/``."""
    completed: list[str] = field(default_factory=list)
    """Notebooks that finished, in order."""
    error: dict | None = None
    """For a failed run: notebook, cell, ename, evalue, traceback (the failing cell's error)."""
    stages: dict = field(default_factory=dict)
    """Per stage of the run's chain: ``{"state": complete | stale | missing, "reasons": [...]}``."""

    @property
    def ok(self) -> bool:
        return self.state == "complete"

    def describe_error(self) -> str:
        """One line naming the failing notebook and cell, then the error."""
        if not self.error:
            return ""
        e = self.error
        return f"{e['notebook']} cell {e.get('cell')}: {e['ename']}: {e['evalue']}"


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def read_status(run_directory: str | Path) -> dict | None:
    """The run's ``status.json``, or None if it has none (or it is unreadable)."""
    path = Path(run_directory) / STATUS_FILE
    if not path.is_file():
        return None
    try:
        return read_json(path)
    except ValueError:
        return None


def run_is_complete(run_directory: str | Path) -> bool:
    """True only when the run's final status says ``complete`` and its stages are still current
    (nothing they consumed has changed since; :func:`r1omni.runs.chain_state`)."""
    status = read_status(run_directory)
    if not status or status.get("state") != "complete":
        return False
    return chain_state(run_directory, status.get("chain", status.get("notebooks", [])))[0] == "complete"


def _reset_stages(rdir: Path, notebooks: list[str]) -> None:
    """Forget an earlier attempt of these notebooks: their executed notebooks, their stage records
    (until a stage finishes again it reads as missing) and their keys in the run-level
    ``config.json``/``metrics.json`` (rewritten when each stage finishes). Stage folders stay:
    checkpoints and partial predictions there let the trainers (``resume=True``) and the
    evaluation continue."""
    for name in notebooks:
        (rdir / "notebooks" / f"{name}.ipynb").unlink(missing_ok=True)
        forget_stage(rdir, name)
    for top in ("config.json", "metrics.json"):
        path = rdir / top
        if path.is_file():
            merged = read_json(path)
            kept = {k: v for k, v in merged.items() if k not in notebooks}
            if kept != merged:
                atomic_write_json(path, kept)


def _execution_error(name: str, err: BaseException) -> dict:
    """The failing cell's error as a JSON-able dict (papermill's, or any other exception)."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(err, PapermillExecutionError):
        tb = err.traceback if isinstance(err.traceback, list) else [str(err.traceback)]
        return {
            "notebook": name,
            "cell": err.exec_count,
            "cell_index": err.cell_index,
            "ename": err.ename,
            "evalue": _ANSI.sub("", str(err.evalue)),
            "traceback": _ANSI.sub("", "\n".join(tb)),
        }
    return {
        "notebook": name,
        "cell": None,
        "cell_index": None,
        "ename": type(err).__name__,
        "evalue": str(err),
        "traceback": "",
    }


def required_stages(rdir: Path, names: list[str], notebooks_dir: str | Path) -> list[str]:
    """The stages a run must have current records of: those run now and those its earlier calls
    ran (in chain order). Upstream stages they consumed from are checked through their records
    (:func:`r1omni.runs.stage_state`)."""
    order = resolve_notebooks(None, notebooks_dir)
    wanted = set(names) | set((read_status(rdir) or {}).get("chain", []))
    return [n for n in order if n in wanted] + sorted(wanted - set(order))


def run_chain(
    run_id: str,
    params: dict[str, Any] | None = None,
    notebooks: Iterable[str] | None = None,
    runs_root: str | Path = "runs",
    *,
    notebooks_dir: str | Path = NOTEBOOKS_DIR,
    progress_bar: bool = False,
    stream_progress: bool = True,
    echo: Callable[[str], None] = print,
    log_output: bool = False,
    cell_timeout: int | None = None,
) -> ChainResult:
    """Execute ``notebooks`` (default: the whole chain) in order under ``run_id``, as the run's one
    writer (``runs/<run_id>/.lock``; another live writer raises :class:`r1omni.runs.RunLockedError`
    naming its pid).

    ``cell_timeout`` (seconds, None = no limit) fails a cell that runs longer, so a stuck
    kernel ends the run with an error instead of blocking it forever.

    ``stream_progress`` prints, through ``echo``, a line when each notebook starts and ends and,
    every few seconds at most, the state of the stage's own progress bars (SFT and GRPO steps with
    their loss / reward / KL, decoding batches...), which papermill would otherwise bury in the
    executed notebook (:mod:`r1omni.progress`); the executed notebooks then hold no progress bars.
    ``progress_bar`` is papermill's own per-cell bar.

    Each notebook gets ``run_id`` and ``runs_root`` (absolute) plus those of ``params`` it
    declares, and is saved executed as ``runs/<run_id>/notebooks/<name>.ipynb``. Stops at
    the first failing notebook. ``status.json`` is written atomically at the start, after
    each notebook and at the end; its final ``state`` describes the whole run, not this call:
    ``complete`` only when every stage it has run, now or before (:func:`required_stages`), has a
    current record, and so has every stage whose outputs they consumed (:func:`r1omni.runs.chain_state`);
    else ``incomplete`` with the reasons in ``stages``. The records of an earlier attempt of these
    notebooks are dropped first (stage folders stay, so notebooks with ``resume=True`` continue from
    their checkpoints). Bad
    parameters, unknown notebooks and ``device=cuda`` without CUDA raise ValueError before
    anything runs or any folder is made.
    """
    import papermill as pm

    params = dict(params or {})
    for reserved in ("run_id", "runs_root"):
        if reserved in params:
            raise ValueError(f"parameter {reserved!r} is set by run_chain's argument, not in params")
    names = resolve_notebooks(notebooks, notebooks_dir)
    if not names:
        raise ValueError(f"no notebooks to run in {notebooks_dir}")
    root = resolve_runs_root(runs_root)
    plan = plan_chain({"run_id": run_id, "runs_root": str(root), **params}, names, notebooks_dir)
    check_devices(params)
    rdir = run_dir(run_id, root)  # only now: a rejected command leaves no folder behind
    with run_lock(rdir):
        chain = required_stages(rdir, names, notebooks_dir)
        status = {
            "state": "running",
            "run_id": run_id,
            "params": params,
            "notebooks": names,
            "chain": chain,
            "completed": [],
            "started": _now(),
            "finished": None,
            "error": None,
        }
        _reset_stages(rdir, names)
        atomic_write_json(rdir / STATUS_FILE, status)
        result = ChainResult(run_id, "running", rdir)
        (rdir / "notebooks").mkdir(exist_ok=True)
        echo = echo if stream_progress else None
        with _streaming(rdir / PROGRESS_FILE, echo):
            return _run_notebooks(
                pm,
                names,
                plan,
                rdir,
                notebooks_dir,
                status,
                result,
                chain,
                echo,
                progress_bar=progress_bar,
                log_output=log_output,
                cell_timeout=cell_timeout,
            )


#: The stages' progress states during a run (JSON lines, see :mod:`r1omni.progress`).
PROGRESS_FILE = "progress.jsonl"
#: The kernel every notebook runs in under the chain: the runner's own Python (its venv), whatever
#: kernelspec the notebook's metadata names for JupyterLab ("Python (r1omni)", ``make kernel``).
KERNEL_NAME = "python3"


@contextlib.contextmanager
def _streaming(path: Path, echo: Callable[[str], None] | None) -> Iterator[None]:
    """While running: the kernels write their progress to ``path`` (and draw no bars into the
    notebooks), a thread prints each new state through ``echo``."""
    if echo is None:
        yield
        return
    path.unlink(missing_ok=True)
    saved = {k: os.environ.get(k) for k in (PROGRESS_ENV, STAGE_ENV, "HF_HUB_DISABLE_PROGRESS_BARS")}
    os.environ.update({PROGRESS_ENV: str(path), "HF_HUB_DISABLE_PROGRESS_BARS": "1"})
    stop = threading.Event()
    thread = threading.Thread(target=follow, args=(path, echo, stop), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run_notebooks(
    pm, names, plan, rdir, notebooks_dir, status, result, chain, echo, *, progress_bar, log_output, cell_timeout
) -> ChainResult:
    """Execute the notebooks in order (see :func:`run_chain`); the final status covers the whole run."""
    for name in names:
        status["current"] = name
        atomic_write_json(rdir / STATUS_FILE, status)
        os.environ[STAGE_ENV] = name
        start = time.perf_counter()
        if echo is not None:
            echo(f"[{name}] running")
        try:
            pm.execute_notebook(
                str(notebook_path(name, notebooks_dir)),
                str(rdir / "notebooks" / f"{name}.ipynb"),
                parameters=plan[name],
                kernel_name=KERNEL_NAME,
                progress_bar=progress_bar,
                log_output=log_output,
                execution_timeout=cell_timeout,
                cwd=str(notebook_path(name, notebooks_dir).parent),  # where JupyterLab starts the kernel
            )
        except KeyboardInterrupt:
            status.update(state="interrupted", finished=_now())
            atomic_write_json(rdir / STATUS_FILE, status)
            raise
        except Exception as err:  # noqa: BLE001 - recorded in the status, reported by the caller
            status.update(state="failed", finished=_now(), error=_execution_error(name, err))
            atomic_write_json(rdir / STATUS_FILE, status)
            result.state, result.error = "failed", status["error"]
            if echo is not None:
                echo(f"[{name}] FAILED after {time.perf_counter() - start:.0f} s: {result.describe_error()}")
            return result
        if echo is not None:
            echo(f"[{name}] done in {time.perf_counter() - start:.0f} s")
        status["completed"].append(name)
        result.completed.append(name)
    status.pop("current", None)
    state, stages = chain_state(rdir, chain)
    status.update(state=state, stages=stages, finished=_now())
    atomic_write_json(rdir / STATUS_FILE, status)
    result.state, result.stages = state, stages
    return result
