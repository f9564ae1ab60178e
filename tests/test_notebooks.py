"""Every notebook in notebooks/: the course conventions (static, fast) and the papermill smoke
run of the whole chain with SMOKE_PARAMETERS under one run_id (slow)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from papermill import inspect_notebook

from r1omni import workbook
from r1omni.io import read_json

NOTEBOOKS = sorted(workbook.NOTEBOOKS_DIR.glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]
SHARED = set(workbook.SHARED_PARAMETERS)
# `name: type = value  # help` on one line (papermill documents exactly these).
TYPED = re.compile(r"^(?P<name>[A-Za-z_]\w*)\s*:\s*(?P<type>[\w\[\], |]+?)\s*=\s*(?P<value>.+?)\s+#\s*(?P<help>\S.*)$")
DEFINITION = re.compile(r"^\s*(async\s+def|def|class)\s", re.MULTILINE)


def _read(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    return nb


def test_the_chain_knows_every_notebook():
    assert IDS, "no notebooks found"
    assert set(IDS) <= set(workbook.CHAIN), f"notebooks outside workbook.CHAIN: {set(IDS) - set(workbook.CHAIN)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_metadata_and_stripped_outputs(path):
    nb = _read(path)
    # the kernelspec and language_info JupyterLab writes for the "Python (r1omni)" kernel (make kernel), so that
    # opening a notebook there does not mark it modified; the chain runs them in its own python3 kernel
    assert nb.metadata.get("kernelspec") == {"display_name": "Python (r1omni)", "language": "python", "name": "r1omni"}
    assert nb.metadata.get("language_info", {}).get("name") == "python"
    assert nb.metadata["language_info"].get("pygments_lexer") == "ipython3"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} cell {i}: outputs not stripped"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_opens_with_learning_goals_and_a_typed_commented_parameters_cell(path):
    nb = _read(path)
    assert nb.cells[0].cell_type == "markdown" and "learning goals" in nb.cells[0].source.lower()
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert tagged == [1], f"{path.name}: exactly one 'parameters' cell, the second cell (found {tagged})"
    lines = [ln for ln in nb.cells[1].source.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    bad = [ln for ln in lines if not TYPED.match(ln)]
    assert not bad, f"{path.name}: parameters cell lines not of the form `name: type = value  # help`: {bad}"
    documented = inspect_notebook(str(path))  # what `papermill --help-notebook` prints
    undocumented = [ln for ln in lines if TYPED.match(ln)["name"] not in documented]
    assert not undocumented, f"{path.name}: papermill cannot parse (no '=' in comments): {undocumented}"
    assert all(p["inferred_type_name"] != "None" and p["help"] for p in documented.values())
    declared = workbook.declared_parameters(path)
    assert set(declared) == set(documented)
    assert SHARED <= set(declared), f"{path.name}: missing shared parameters {SHARED - set(declared)}"


def test_every_notebook_takes_the_model_preset():
    """``python -m r1omni.workbook -p model_preset smol`` hands the preset to every notebook of the chain."""
    plan = workbook.plan_chain({"model_preset": "smol", "smoke": True}, IDS)
    assert {name: params["model_preset"] for name, params in plan.items()} == dict.fromkeys(IDS, "smol")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_logic_defined_in_the_notebook(path):
    for i, cell in enumerate(_read(path).cells):
        if cell.cell_type == "code":
            assert not DEFINITION.search(cell.source), (
                f"{path.name} cell {i}: defines a function/class (move it to r1omni/)"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_ends_with_exercises_and_gated_solutions(path):
    nb = _read(path)
    exercises, solutions = nb.cells[-2], nb.cells[-1]
    assert exercises.cell_type == "markdown" and "exercises" in exercises.source.lower()
    assert len(re.findall(r"^\s*\d+\.", exercises.source, re.MULTILINE)) in (2, 3), "two or three exercises"
    assert solutions.cell_type == "code" and re.search(r"^if show_solutions\b", solutions.source, re.MULTILINE)


@pytest.mark.slow
def test_smoke_chain_of_every_notebook(tmp_path):
    names = workbook.resolve_notebooks(None)
    result = workbook.run_chain(
        "smoke", workbook.SMOKE_PARAMETERS, names, tmp_path / "runs", progress_bar=False, cell_timeout=600
    )
    assert result.ok, f"{result.describe_error()}\n{result.error and result.error['traceback']}"
    assert result.completed == names
    assert set(names) <= set(read_json(result.run_dir / "metrics.json")), "every stage records metrics.json"
    for name in names:
        executed = nbformat.read(result.run_dir / "notebooks" / f"{name}.ipynb", as_version=4)
        errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{name}: error outputs {errors}"


@pytest.mark.slow
def test_a_notebook_run_from_notebooks_finds_its_run_with_the_default_runs_root(tmp_path):
    """The kernel JupyterLab starts works in ``notebooks/``; the default ``runs_root`` still means the
    repository's ``runs/``: 00 writes there, 02 finds 00's outputs there and names, by absolute path,
    the stage that has not run (01), and nothing appears under ``notebooks/runs``."""
    import shutil

    import papermill as pm

    from r1omni.runs import BASE_STAGE, runs_root

    run_id, cwd = "cwd-test", workbook.NOTEBOOKS_DIR
    run = runs_root() / run_id
    shutil.rmtree(run, ignore_errors=True)
    try:
        pm.execute_notebook(
            str(cwd / "00_data_prep.ipynb"),
            str(tmp_path / "00.ipynb"),
            parameters={"run_id": run_id, "smoke": True},
            cwd=str(cwd),
            progress_bar=False,
            kernel_name="python3",
        )
        assert (run / "00_data_prep" / "config.json").is_file()
        with pytest.raises(pm.PapermillExecutionError) as err:
            pm.execute_notebook(
                str(cwd / "02_cold_start_sft.ipynb"),
                str(tmp_path / "02.ipynb"),
                parameters={"run_id": run_id, "smoke": True},
                cwd=str(cwd),
                progress_bar=False,
                kernel_name="python3",
            )
        assert str(run / BASE_STAGE) in err.value.evalue, err.value.evalue
        assert "00_data_prep" not in err.value.evalue
        assert not (cwd / "runs").exists()
    finally:
        shutil.rmtree(run, ignore_errors=True)
