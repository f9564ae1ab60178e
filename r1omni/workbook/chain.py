"""Run the workbook's notebook chain headlessly with papermill (``make workbook``, ``make smoke``).

Every notebook reads the previous stage's outputs from ``runs/<run_id>/`` and writes its
own, so the chain ``00_data_prep -> ... -> 05_sweep_report`` runs in order under one
``run_id``. Each executed notebook is saved as ``runs/<run_id>/notebooks/<name>.ipynb``.

Parameters are injected into a notebook only where its ``parameters`` cell declares them
(papermill's :func:`~papermill.inspect_notebook`), and checked against the declared type, so
``-p beta 0.04`` reaches the GRPO notebook and nothing else. A parameter that no notebook
of the chain declares is an error, never silently dropped.

``runs/<run_id>/status.json`` (written atomically) says where the run stands::

    {"state": "running" | "complete" | "failed" | "interrupted", "run_id": ..., "params": {...},
     "notebooks": [...], "completed": [...], "error": {"notebook", "cell", "ename", "evalue",
     "traceback"} (failed only), "started": ..., "finished": ...}

A run is complete only when its final status says so; a crash leaves ``running``.

CLI::

    python -m r1omni.workbook [--smoke] [--run-id ID] [--runs-root DIR]
                              [--notebooks 00,01,...] [-p NAME VALUE ...]
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1omni.io import atomic_write_json, read_json
from r1omni.runs import CHAIN, repo_root, run_dir

#: The repository's notebooks (the package is installed editable from the checkout).
NOTEBOOKS_DIR = repo_root() / "notebooks"

#: Parameters that every notebook declares (see DEVELOPERS.md); ``run_id`` and
#: ``runs_root`` are always injected, the others only when given.
SHARED_PARAMETERS: tuple[str, ...] = ("run_id", "runs_root", "seed", "device", "smoke", "show_solutions")

#: Parameters of the CI smoke run (``--smoke``, tests/test_notebooks.py): every notebook picks tiny
#: sizes itself (through the library's ``smoke=`` options), and the solution cells run too so
#: that they are tested.
SMOKE_PARAMETERS: dict[str, Any] = {"smoke": True, "show_solutions": True}

STATUS_FILE = "status.json"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class ChainResult:
    """Outcome of :func:`run_chain`."""

    run_id: str
    """The run's id (``runs/<run_id>/``)."""
    state: str
    """``complete``, ``failed`` or ``interrupted``."""
    run_dir: Path
    """``runs/<run_id>/``."""
    completed: list[str] = field(default_factory=list)
    """Notebooks that finished, in order."""
    error: dict | None = None
    """For a failed run: notebook, cell, ename, evalue, traceback (the failing cell's error)."""

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


def notebook_path(name: str, notebooks_dir: str | Path = NOTEBOOKS_DIR) -> Path:
    """``<notebooks_dir>/<name>.ipynb``, with a clear error when it does not exist."""
    path = Path(notebooks_dir) / f"{name}.ipynb"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: notebook {name!r} not found in {notebooks_dir}")
    return path


def resolve_notebooks(selection: str | Iterable[str] | None, notebooks_dir: str | Path = NOTEBOOKS_DIR) -> list[str]:
    """Turn ``"00,02"`` / ``["00_data_prep", ...]`` / None (= every notebook of the chain
    present in ``notebooks_dir``, in :data:`CHAIN` order, then any others sorted) into names.

    A short prefix such as ``"02"`` names the one notebook whose name starts with it.
    """
    available = sorted(p.stem for p in Path(notebooks_dir).glob("*.ipynb"))
    if selection is None:
        ordered = [n for n in CHAIN if n in available]
        return ordered + [n for n in available if n not in CHAIN]
    items = selection.split(",") if isinstance(selection, str) else list(selection)
    names = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        matches = [n for n in available if n == item] or [n for n in available if n.startswith(item)]
        if len(matches) != 1:
            raise ValueError(
                f"notebook {item!r}: {'ambiguous' if matches else 'not found'} in {notebooks_dir} "
                f"(available: {', '.join(available) or 'none'})"
            )
        names.append(matches[0])
    return names


def declared_parameters(path: str | Path) -> dict[str, dict]:
    """The parameters a notebook's ``parameters`` cell declares: name -> {name,
    inferred_type_name, default, help}; an untagged notebook declares none.

    Names, annotations and defaults come from the cell's Python syntax (every top-level
    assignment), help texts from papermill's :func:`~papermill.inspect_notebook`. A line that
    papermill cannot document (e.g. a ``=`` inside its comment) still receives its value.
    """
    import ast

    import nbformat
    from papermill import inspect_notebook

    nb = nbformat.read(str(path), as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if not cells:
        return {}
    try:
        tree = ast.parse(cells[0].source)
    except SyntaxError as err:
        raise ValueError(f"{path}: parameters cell is not valid Python ({err})") from None
    documented = inspect_notebook(str(path))
    out: dict[str, dict] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name, type_name = node.target.id, ast.unparse(node.annotation)
            default = ast.unparse(node.value) if node.value is not None else ""
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, type_name, default = node.targets[0].id, "None", ast.unparse(node.value)
        else:
            continue
        out[name] = {
            "name": name,
            "inferred_type_name": type_name,
            "default": default,
            "help": documented.get(name, {}).get("help", ""),
        }
    return out


def coerce_parameter(value: Any, type_name: str, where: str) -> Any:
    """Check ``value`` against a declared annotation (``int``, ``float``, ``bool``, ``str``).

    A string that spells a number is converted for ``int``/``float`` (YAML reads ``1e-6`` as
    a string); an int is accepted for ``float``; anything else that does not fit raises a
    ValueError naming ``where``. Other annotations pass through unchecked.

    >>> coerce_parameter("1e-6", "float", "nb:lr")
    1e-06
    >>> coerce_parameter(2, "float", "nb:beta")
    2
    >>> coerce_parameter("x", "int", "nb:seed")
    Traceback (most recent call last):
    ...
    ValueError: nb:seed: expected int, got 'x' (str)
    """

    def bad() -> ValueError:
        return ValueError(f"{where}: expected {type_name}, got {value!r} ({type(value).__name__})")

    if type_name == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
        raise bad()
    if type_name == "int":
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            return int(value)
        raise bad()
    if type_name == "float":
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, (int, float)):
            return value
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise bad() from None
        raise bad()
    if type_name == "str":
        if isinstance(value, str):
            return value
        raise bad()
    return value


def plan_chain(
    params: dict[str, Any], notebooks: list[str], notebooks_dir: str | Path = NOTEBOOKS_DIR
) -> dict[str, dict[str, Any]]:
    """Map each notebook to the parameters it receives (only those it declares, type-checked).

    A key ``<notebook>.<name>`` (the notebook's name or a prefix such as ``00``) sets ``name``
    for that notebook only and wins over a plain ``name``: e.g. ``{"seed": 1, "00.seed": 0}``
    trains with seed 1 on the data set of seed 0. Raises ValueError naming any parameter that
    no notebook of the chain declares.
    """
    plain = {k: v for k, v in params.items() if "." not in k}
    scoped: dict[str, dict[str, Any]] = {name: {} for name in notebooks}
    for key, value in params.items():
        if "." in key:
            prefix, pname = key.split(".", 1)
            matches = [n for n in notebooks if n == prefix] or [n for n in notebooks if n.startswith(prefix)]
            if len(matches) != 1:
                raise ValueError(
                    f"parameter {key!r}: {prefix!r} names {'several' if matches else 'no'} notebook(s) "
                    f"of the chain ({', '.join(notebooks)})"
                )
            scoped[matches[0]][pname] = value
    plan: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for name in notebooks:
        path = notebook_path(name, notebooks_dir)
        declared = declared_parameters(path)
        if not declared:
            raise ValueError(f"{path}: no cell tagged 'parameters' (or it declares nothing)")
        undeclared = sorted(set(scoped[name]) - set(declared))
        if undeclared:
            raise ValueError(
                f"{path.name} does not declare {', '.join(undeclared)} (it declares {', '.join(declared)})"
            )
        plan[name] = {}
        for key, value in {**plain, **scoped[name]}.items():
            if key in declared:
                plan[name][key] = coerce_parameter(
                    value, declared[key]["inferred_type_name"], f"{path.name}: parameter {key!r}"
                )
                used.add(key)
    unknown = sorted(set(plain) - used)
    if unknown:
        raise ValueError(
            f"parameter(s) {', '.join(unknown)} not declared by any notebook of the chain "
            f"({', '.join(notebooks)}); see `papermill --help-notebook notebooks/<name>.ipynb`"
        )
    return plan


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
    """True only when the run's final status says ``complete``."""
    status = read_status(run_directory)
    return bool(status) and status.get("state") == "complete"


def _reset_stages(rdir: Path, notebooks: list[str]) -> None:
    """Forget an earlier, unfinished attempt of these notebooks: their executed notebooks and
    their keys in the run-level ``config.json``/``metrics.json`` (rewritten when each stage
    finishes). Stage folders stay: checkpoints and partial predictions there let the trainers
    (``resume=True``) and the evaluation continue."""
    for name in notebooks:
        (rdir / "notebooks" / f"{name}.ipynb").unlink(missing_ok=True)
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


def run_chain(
    run_id: str,
    params: dict[str, Any] | None = None,
    notebooks: Iterable[str] | None = None,
    runs_root: str | Path = "runs",
    *,
    notebooks_dir: str | Path = NOTEBOOKS_DIR,
    progress_bar: bool = True,
    log_output: bool = False,
    cell_timeout: int | None = None,
) -> ChainResult:
    """Execute ``notebooks`` (default: the whole chain) in order under ``run_id``.

    ``cell_timeout`` (seconds, None = no limit) fails a cell that runs longer, so a stuck
    kernel ends the run with an error instead of blocking it forever.

    Each notebook gets ``run_id`` and ``runs_root`` (absolute) plus those of ``params`` it
    declares, and is saved executed as ``runs/<run_id>/notebooks/<name>.ipynb``. Stops at
    the first failing notebook. ``status.json`` is written atomically at the start, after
    each notebook and at the end. The run-level records of an earlier attempt of these
    notebooks are dropped first (stage folders stay, so notebooks with ``resume=True`` continue
    from their checkpoints). Bad parameters raise ValueError before anything runs.
    """
    import papermill as pm

    params = dict(params or {})
    for reserved in ("run_id", "runs_root"):
        if reserved in params:
            raise ValueError(f"parameter {reserved!r} is set by run_chain's argument, not in params")
    names = resolve_notebooks(notebooks, notebooks_dir)
    if not names:
        raise ValueError(f"no notebooks to run in {notebooks_dir}")
    root = Path(runs_root).resolve()
    rdir = run_dir(run_id, root)
    plan = plan_chain({"run_id": run_id, "runs_root": str(root), **params}, names, notebooks_dir)

    status = {
        "state": "running",
        "run_id": run_id,
        "params": params,
        "notebooks": names,
        "completed": [],
        "started": _now(),
        "finished": None,
        "error": None,
    }
    _reset_stages(rdir, names)
    atomic_write_json(rdir / STATUS_FILE, status)
    result = ChainResult(run_id, "running", rdir)
    (rdir / "notebooks").mkdir(exist_ok=True)
    for name in names:
        status["current"] = name
        atomic_write_json(rdir / STATUS_FILE, status)
        try:
            pm.execute_notebook(
                str(notebook_path(name, notebooks_dir)),
                str(rdir / "notebooks" / f"{name}.ipynb"),
                parameters=plan[name],
                progress_bar=progress_bar,
                log_output=log_output,
                execution_timeout=cell_timeout,
            )
        except KeyboardInterrupt:
            status.update(state="interrupted", finished=_now())
            atomic_write_json(rdir / STATUS_FILE, status)
            raise
        except Exception as err:  # noqa: BLE001 - recorded in the status, reported by the caller
            status.update(state="failed", finished=_now(), error=_execution_error(name, err))
            atomic_write_json(rdir / STATUS_FILE, status)
            result.state, result.error = "failed", status["error"]
            return result
        status["completed"].append(name)
        result.completed.append(name)
    status.pop("current", None)
    status.update(state="complete", finished=_now())
    atomic_write_json(rdir / STATUS_FILE, status)
    result.state = "complete"
    return result


def parse_value(text: str) -> Any:
    """A ``-p NAME VALUE`` value from the command line: int, float, true/false, none, or str.

    >>> [parse_value(v) for v in ("3", "0.04", "1e-6", "True", "cuda", "none")]
    [3, 0.04, 1e-06, True, 'cuda', None]
    """
    low = text.strip().lower()
    if low in {"true", "false"}:
        return low == "true"
    if low in {"none", "null"}:
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text
