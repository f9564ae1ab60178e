"""The sweep runner and the notebook-chain runner, on tiny fixture notebooks built here."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from r1omni import sweep, workbook
from r1omni.io import atomic_write_json, read_json
from r1omni.workbook.__main__ import main as workbook_main

PARAMS_CELL = """\
run_id: str = "default"  # runs/<run_id>/ holds every stage's outputs
runs_root: str = "runs"  # folder holding the runs
seed: int = 0  # random seed
device: str = "cpu"  # torch device
smoke: bool = False  # tiny sizes for CI
show_solutions: bool = False  # print the exercise solutions
"""

MAKE_CELL = """\
import os
from r1omni.io import append_jsonl
from r1omni.runs import record_stage, run_dir
if fail:
    raise RuntimeError("boom on purpose")
rd = run_dir(run_id, runs_root)
for step in range(3):
    append_jsonl(rd / "00_make" / "metrics.jsonl", {"step": step, "reward": beta * step + seed})
record_stage(rd, "00_make", config={"beta": beta, "seed": seed},
             metrics={"test": {"uar": 0.5 + beta, "war": 0.6 + seed / 10},
                      "gpu": os.environ.get("CUDA_VISIBLE_DEVICES", "")})
"""

EVAL_CELL = """\
from r1omni.io import read_json
from r1omni.runs import record_stage, run_dir
assert "beta" not in globals(), "beta was injected into a notebook that does not declare it"
made = read_json(run_dir(run_id, runs_root) / "00_make" / "metrics.json")
record_stage(run_dir(run_id, runs_root), "01_eval", metrics={"uar_copy": made["test"]["uar"], "smoke": smoke})
"""


def _notebook(path: Path, params: str, body: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# fixture"), cell, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, path)


@pytest.fixture
def nbdir(tmp_path: Path) -> Path:
    d = tmp_path / "notebooks"
    d.mkdir()
    _notebook(
        d / "00_make.ipynb",
        PARAMS_CELL + "beta: float = 0.0  # KL weight\nfail: bool = False  # fail on purpose\n",
        MAKE_CELL,
    )
    _notebook(d / "01_eval.ipynb", PARAMS_CELL, EVAL_CELL)
    return d


def _spec(nbdir: Path, **kw) -> sweep.SweepSpec:
    kw.setdefault("grid", {"beta": [0.0, 0.04], "seed": [0, 1]})
    return sweep.SweepSpec("t", notebooks=["00_make", "01_eval"], notebooks_dir=str(nbdir), report=False, **kw)


# --- expansion and run ids -------------------------------------------------------------


def test_expand_grid_and_points_cross_with_shared_parameters():
    spec = sweep.SweepSpec(
        "s",
        parameters={"smoke": True, "beta": 9.0},
        points=[{"beta": 0.0}, {"beta": 0.04, "num_generations": 8}],
        grid={"seed": [0, 1, 2]},
    )
    points = sweep.expand(spec)
    assert len(points) == 6
    assert all(p["smoke"] is True for p in points)
    assert [p["beta"] for p in points] == [0.0] * 3 + [0.04] * 3  # a point overrides the shared value
    assert [p["seed"] for p in points] == [0, 1, 2, 0, 1, 2]
    assert "num_generations" not in points[0] and points[3]["num_generations"] == 8
    with pytest.raises(ValueError, match="both in points and in grid"):
        sweep.expand(sweep.SweepSpec("s", points=[{"seed": 1}], grid={"seed": [0]}))


def test_run_ids_are_deterministic_readable_and_distinct(nbdir):
    ids = [p.run_id for p in sweep.plan_sweep(_spec(nbdir))]
    assert ids == [p.run_id for p in sweep.plan_sweep(_spec(nbdir))]
    assert len(set(ids)) == 4
    assert ids[0].startswith("t_beta-0.0_seed-0_") and ids[3].startswith("t_beta-0.04_seed-1_")
    changed = [p.run_id for p in sweep.plan_sweep(_spec(nbdir, parameters={"smoke": True}))]
    assert not set(changed) & set(ids)  # a changed fixed parameter never reuses a run


def test_spec_file_errors_name_file_and_key(tmp_path, nbdir):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ngrdi: {beta: [0]}\n")
    with pytest.raises(ValueError, match=r"bad.yaml: unknown key\(s\) \['grdi'\]"):
        sweep.load_spec(bad)
    bad.write_text("grid: {beta: 0.1}\n")
    with pytest.raises(ValueError, match="non-empty list"):
        sweep.load_spec(bad)
    good = tmp_path / "good.yaml"
    good.write_text(f"notebooks: ['00', '01']\nnotebooks_dir: {nbdir}\ngrid: {{beta: [0.0, 1e-3]}}\n")
    spec = sweep.load_spec(good)
    assert spec.name == "good"
    points = sweep.plan_sweep(spec)
    assert spec.notebooks == ["00_make", "01_eval"]
    assert [p.params["beta"] for p in points] == [0.0, "1e-3"]  # YAML string, coerced when injected
    assert workbook.plan_chain(points[1].params, spec.notebooks, nbdir)["00_make"]["beta"] == 1e-3


def test_unknown_or_mistyped_parameters_fail_before_running(nbdir):
    with pytest.raises(ValueError, match="betta not declared by any notebook"):
        sweep.plan_sweep(_spec(nbdir, grid={"betta": [0.1]}))
    with pytest.raises(ValueError, match="00_make.ipynb: parameter 'seed': expected int"):
        sweep.plan_sweep(_spec(nbdir, grid={"seed": ["one"]}))
    plan = workbook.plan_chain({"beta": 0.5, "smoke": True}, ["00_make", "01_eval"], nbdir)
    assert plan == {"00_make": {"beta": 0.5, "smoke": True}, "01_eval": {"smoke": True}}


def test_a_parameter_scoped_to_one_notebook_wins_there_only(nbdir):
    plan = workbook.plan_chain({"seed": 1, "00.seed": 0}, ["00_make", "01_eval"], nbdir)
    assert plan == {"00_make": {"seed": 0}, "01_eval": {"seed": 1}}
    with pytest.raises(ValueError, match="01_eval.ipynb does not declare beta"):
        workbook.plan_chain({"01_eval.beta": 0.1}, ["00_make", "01_eval"], nbdir)
    with pytest.raises(ValueError, match="'07' names no notebook"):
        workbook.plan_chain({"07.seed": 0}, ["00_make", "01_eval"], nbdir)


# --- resume, failure isolation, table (with a fake chain runner: no kernels) -------------


class FakeRunner:
    """Stands in for a papermill chain: writes what a chain writes; fails where told."""

    def __init__(self, fail_beta=None):
        self.calls, self.fail_beta = [], fail_beta

    def __call__(self, run_id, params, notebooks, runs_root, notebooks_dir, threads, gpu_queue):
        self.calls.append(run_id)
        rdir = Path(runs_root) / run_id
        if params["beta"] == self.fail_beta:
            err = {"notebook": "00_make", "cell": 3, "ename": "RuntimeError", "evalue": "boom", "traceback": ""}
            atomic_write_json(rdir / "status.json", {"state": "failed", "params": params, "error": err})
            return workbook.ChainResult(run_id, "failed", rdir, error=err)
        atomic_write_json(rdir / "metrics.json", {"00_make": {"test": {"uar": params["beta"] + params["seed"]}}})
        atomic_write_json(rdir / "config.json", {"00_make": {"lr": 1e-6, "labels": ["a", "b"]}})
        atomic_write_json(rdir / "status.json", {"state": "complete", "params": params})
        return workbook.ChainResult(run_id, "complete", rdir, completed=list(notebooks))


def test_resume_skips_complete_runs_and_reruns_half_ones(tmp_path, nbdir):
    spec, root = _spec(nbdir), tmp_path / "runs"
    ids = [p.run_id for p in sweep.plan_sweep(spec)]
    first = FakeRunner()
    sweep.run_sweep(spec, root, runner=first)
    assert first.calls == ids
    # A crash left one run "running" (with metrics already on disk) and another without a status.
    atomic_write_json(root / ids[1] / "status.json", {"state": "running", "params": {}})
    (root / ids[2] / "status.json").unlink()
    second = FakeRunner()
    result = sweep.run_sweep(spec, root, runner=second)
    assert second.calls == [ids[1], ids[2]]
    assert sorted(result.skipped) == sorted([ids[0], ids[3]])


def test_a_failed_run_is_recorded_and_the_others_go_on(tmp_path, nbdir):
    root = tmp_path / "runs"
    runner = FakeRunner(fail_beta=0.0)
    result = sweep.run_sweep(_spec(nbdir), root, runner=runner)
    assert len(runner.calls) == 4
    assert [r.state for r in result.ran] == ["failed", "failed", "complete", "complete"]
    table = pd.read_csv(result.table_paths[0])
    assert list(table["status"]) == ["failed", "failed", "complete", "complete"]
    assert table["error"][0] == "00_make: RuntimeError: boom"
    # Failed runs are not complete: a second sweep runs exactly those again.
    again = FakeRunner(fail_beta=0.0)
    sweep.run_sweep(_spec(nbdir), root, runner=again)
    assert again.calls == runner.calls[:2]


def test_table_is_flat_one_row_per_run_in_csv_and_parquet(tmp_path, nbdir):
    spec, root = _spec(nbdir), tmp_path / "runs"
    result = sweep.run_sweep(spec, root, runner=FakeRunner())
    csv, parquet = result.table_paths
    assert csv == root / "t" / "sweep.csv" and parquet.suffix == ".parquet"
    for table in (pd.read_csv(csv), pd.read_parquet(parquet)):
        assert len(table) == 4
        assert {
            "run_id",
            "status",
            "param.beta",
            "param.seed",
            "metrics.00_make.test.uar",
            "config.00_make.lr",
            "config.00_make.labels",
        } <= set(table.columns)
        assert list(table["metrics.00_make.test.uar"]) == [0.0, 1.0, 0.04, 1.04]
        assert json.loads(table["config.00_make.labels"][0]) == ["a", "b"]
    # Without a run list, every run folder with stage metrics under the root is collected.
    assert len(sweep.collect_table(None, root)) == 4


# --- the real thing: papermill on the fixture notebooks ---------------------------------


def test_two_run_grid_through_papermill_in_parallel_then_resumes(tmp_path, nbdir, capsys):
    spec_path = tmp_path / "two.yaml"
    spec_path.write_text(
        f"name: two\nnotebooks: [00_make, 01_eval]\nnotebooks_dir: {nbdir}\nreport: false\n"
        "parameters: {smoke: true, beta: 0.5}\ngrid: {seed: [0, 1]}\ngpus: [3, 5]\n"
    )
    root = tmp_path / "runs"
    assert sweep.main([str(spec_path), "--jobs", "2", "--runs-root", str(root)]) == 0
    table = pd.read_parquet(root / "two" / "sweep.parquet")
    assert sorted(table["param.seed"]) == [0, 1] and set(table["status"]) == {"complete"}
    assert sorted(table["metrics.01_eval.uar_copy"]) == [1.0, 1.0]
    assert list(table["metrics.01_eval.smoke"]) == [True, True]
    assert set(table["metrics.00_make.gpu"].astype(str)) <= {"3", "5"}  # each chain held one GPU id
    for run_id in table["run_id"]:
        rdir = root / run_id
        assert read_json(rdir / "status.json")["completed"] == ["00_make", "01_eval"]
        executed = nbformat.read(rdir / "notebooks" / "00_make.ipynb", as_version=4)
        injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert "beta = 0.5" in injected[0].source and str(root.resolve()) in injected[0].source
        assert len(pd.DataFrame(pd.read_json(rdir / "00_make" / "metrics.jsonl", lines=True))) == 3
    capsys.readouterr()
    assert sweep.main([str(spec_path), "--dry-run", "--runs-root", str(root)]) == 0
    assert capsys.readouterr().out.count("\tcomplete\t") == 2
    assert sweep.main([str(spec_path), "--runs-root", str(root)]) == 0
    assert "0 ran, 2 already complete" in capsys.readouterr().out


def test_workbook_stops_at_the_failing_cell_with_its_error(tmp_path, nbdir, capsys):
    root = tmp_path / "runs"
    # An earlier attempt left records and a checkpoint behind.
    atomic_write_json(root / "bad" / "metrics.json", {"01_eval": {"uar_copy": 9}, "other": {"x": 1}})
    atomic_write_json(root / "bad" / "00_make" / "checkpoints" / "step-2" / "state.json", {"step": 2})
    code = workbook_main(
        ["--run-id", "bad", "--runs-root", str(root), "--notebooks-dir", str(nbdir), "-p", "fail", "true"]
    )
    assert code == 1
    assert "00_make cell" in capsys.readouterr().err
    status = read_json(root / "bad" / "status.json")
    assert status["state"] == "failed" and status["completed"] == []
    assert status["error"]["ename"] == "RuntimeError" and status["error"]["evalue"] == "boom on purpose"
    assert "raise RuntimeError" in status["error"]["traceback"]
    assert not (root / "bad" / "notebooks" / "01_eval.ipynb").exists()  # stopped at the first failure
    assert not workbook.run_is_complete(root / "bad")
    assert read_json(root / "bad" / "metrics.json") == {"other": {"x": 1}}  # stale stage records dropped
    assert (root / "bad" / "00_make" / "checkpoints" / "step-2" / "state.json").is_file()  # kept for resume


def test_a_parameter_papermill_cannot_document_is_still_declared(tmp_path):
    path = tmp_path / "00_x.ipynb"
    _notebook(path, PARAMS_CELL + "max_steps: int = 0  # cap on steps; 0 = no cap\n", "pass")
    declared = workbook.declared_parameters(path)
    assert declared["max_steps"]["inferred_type_name"] == "int" and declared["max_steps"]["default"] == "0"
    assert declared["seed"]["help"] == "random seed"
    assert workbook.plan_chain({"max_steps": "5"}, ["00_x"], tmp_path) == {"00_x": {"max_steps": 5}}


def test_a_chain_holds_one_gpu_and_gives_it_back(monkeypatch, tmp_path):
    import queue

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    seen = []
    monkeypatch.setattr(
        sweep,
        "run_chain",
        lambda run_id, *a, **k: (
            seen.append(__import__("os").environ["CUDA_VISIBLE_DEVICES"])
            or workbook.ChainResult(run_id, "complete", tmp_path)
        ),
    )
    gpus = queue.SimpleQueue()
    gpus.put("7")
    assert sweep._run_point("r", {}, [], str(tmp_path), str(tmp_path), 1, gpus).ok
    assert seen == ["7"] and gpus.get_nowait() == "7"


def test_report_curves_and_plots_from_a_table(tmp_path, nbdir):
    from r1omni.io import append_jsonl
    from r1omni.viz import sweep as vsweep

    root = tmp_path / "runs"
    result = sweep.run_sweep(_spec(nbdir), root, runner=FakeRunner())
    table = pd.read_parquet(result.table_paths[1])
    for run_id, beta in zip(table["run_id"][:3], table["param.beta"][:3]):
        for step in (1, 2):
            append_jsonl(root / run_id / "03_rlvr_grpo" / "metrics.jsonl", {"step": step, "reward": beta * step})
    curves = vsweep.load_curves(table, root)
    assert len(curves) == 6 and curves.attrs["missing"] == [table["run_id"][3]]
    assert set(curves["setting"]) == {"beta=0.0", "beta=0.04"}
    with pytest.raises(ValueError, match=r"metrics.jsonl: no key 'kl' \(keys: reward, step\)"):
        vsweep.load_curves(table, root, metric="kl")
    summary = vsweep.summarize_sweep(table, ["test.uar"])
    assert summary[["setting", "runs"]].values.tolist() == [["beta=0.0", 2], ["beta=0.04", 2]]
    assert len(vsweep.plot_metrics_vs_parameters(table, ["uar"]).axes) == 1
    assert len(vsweep.plot_curves(curves).axes) == 1


def test_seeds_reading_and_curve_ends():
    """Notebook 06's exercise 3 reads the two best settings (n > 8 s^2 / d^2) and exercise 2 the
    entropy at the first and last step per setting."""
    import pandas as pd

    from r1omni.viz import sweep as vsweep

    summary = pd.DataFrame(
        {
            "setting": ["beta=0", "beta=0.04", "beta=1"],
            "metric": ["rlvr.test.uar"] * 3,
            "mean": [0.40, 0.42, 0.10],
            "std": [0.03, 0.03, 0.01],
            "runs": [3, 3, 3],
        }
    )
    text = vsweep.seeds_reading(summary)
    assert "beta=0.04 and beta=0" in text and "19 seeds per setting" in text
    assert "fewer than two settings" in vsweep.seeds_reading(summary.iloc[:1])
    curves = pd.DataFrame(
        {
            "step": [1, 2, 1, 2, 1, 2],
            "entropy": [2.0, 1.0, 2.0, 1.5, 3.0, 3.0],
            "run_id": ["a", "a", "b", "b", "c", "c"],
            "setting": ["x", "x", "x", "x", "y", "y"],
        }
    )
    ends = vsweep.curve_ends(curves, "entropy")
    assert ends.loc["x"].tolist() == [2.0, 1.25] and ends.loc["y"].tolist() == [3.0, 3.0]
    assert vsweep.curve_ends(curves.iloc[:0], "entropy").empty
