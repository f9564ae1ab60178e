"""The workbook's notebooks and their parameters: which notebooks a selection names, what each one's
``parameters`` cell declares, and which of the chain's parameters each receives, type-checked.

Parameters are injected into a notebook only where its ``parameters`` cell declares them
(papermill's :func:`~papermill.inspect_notebook`), and checked against the declared type, so
``-p beta 0.04`` reaches the GRPO notebook and nothing else. A parameter that no notebook
of the chain declares is an error, never silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from r1omni.runs import CHAIN, repo_root

#: The repository's notebooks (the package is installed editable from the checkout).
NOTEBOOKS_DIR = repo_root() / "notebooks"

#: Parameters that every notebook declares (see DEVELOPERS.md); ``run_id`` and
#: ``runs_root`` are always injected, the others only when given. ``model_preset`` picks the model
#: in notebook 01 and is checked against the run's policies in 02-05 (unused in 00 and 06).
SHARED_PARAMETERS: tuple[str, ...] = (
    "run_id",
    "runs_root",
    "seed",
    "device",
    "smoke",
    "show_solutions",
    "model_preset",
)

#: Parameters of the CI smoke run (``--smoke``, tests/test_notebooks.py): every notebook picks tiny
#: sizes itself (through the library's ``smoke=`` options), and the solution cells run too so
#: that they are tested.
SMOKE_PARAMETERS: dict[str, Any] = {"smoke": True, "show_solutions": True}


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


def check_devices(params: dict[str, Any]) -> None:
    """Refuse ``device=cuda`` (or ``<notebook>.device``) on a machine without CUDA, before anything runs."""
    wanted = {k: v for k, v in params.items() if k.rsplit(".", 1)[-1] == "device" and str(v).startswith("cuda")}
    if wanted:
        import torch

        if not torch.cuda.is_available():
            raise ValueError(
                f"parameter(s) {wanted} ask for CUDA, but this machine has no CUDA device; use -p device cpu"
            )


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
