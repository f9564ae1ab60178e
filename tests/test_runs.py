"""The run's records and its one writer: stage records keyed on content, the chain's state over the
whole run, the lock (with real processes), files that respect the umask, errors that name files,
and the command-line gaps of the chain runner and the sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from r1omni import runs
from r1omni.io import atomic_write_json, atomic_write_text, file_lock, read_json, read_jsonl
from r1omni.runs import RunLockedError, chain_state, record_stage, stage_state

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- stage records
def _chain(tmp_path):
    """00 makes a manifest outside the run, 01 consumes it and makes a model folder, 03 consumes both."""
    run = tmp_path / "run"
    data = tmp_path / "data" / "train.jsonl"
    atomic_write_text(data, '{"id": "a"}\n')
    record_stage(run, "00_data", outputs=[data])
    model = run / "01_train" / "model"
    atomic_write_text(model / "model.safetensors", "weights v1")
    record_stage(run, "01_train", inputs=[data], outputs=[model])
    record_stage(run, "03_eval", inputs=[model, data], metrics={"war": 0.5})
    return run, data, model


def test_a_stage_is_complete_until_what_it_consumed_changes(tmp_path):
    run, data, model = _chain(tmp_path)
    assert chain_state(run, ["00_data", "01_train", "03_eval"])[0] == "complete"
    assert read_json(run / "03_eval" / "stage.json")["inputs"] == {
        "01_train/model": runs.content_digest(model),
        str(data.resolve()): runs.content_digest(data),
    }
    atomic_write_text(data, '{"id": "b"}\n')  # the data changed after 01 and 03 ran
    state, reasons = stage_state(run, "01_train")
    assert state == "stale" and "train.jsonl changed since it ran" in reasons[0]
    assert stage_state(run, "03_eval")[0] == "stale"
    record_stage(run, "00_data", outputs=[data])  # 00 ran again and made the new data
    assert stage_state(run, "00_data")[0] == "complete"
    assert stage_state(run, "01_train")[0] == "stale"  # it still consumed the old data


def test_a_stage_that_consumed_an_output_of_a_failed_stage_is_stale(tmp_path):
    """The issue's case: 01 fails on a rerun (its record is dropped), then 03 runs on the old model."""
    run, data, model = _chain(tmp_path)
    runs.forget_stage(run, "01_train")  # the chain runner does this before 01 runs again; it failed
    record_stage(run, "03_eval", inputs=[model, data])  # 03 runs alone, on 01's old model
    assert stage_state(run, "01_train")[0] == "missing"
    state, reasons = stage_state(run, "03_eval")
    assert state == "stale" and "made by no stage with a current record" in reasons[0]
    overall, per = chain_state(run, ["03_eval"])
    assert overall == "incomplete" and per["03_eval"]["state"] == "stale"


def test_a_producer_that_made_its_output_anew_makes_consumers_stale(tmp_path):
    run, data, model = _chain(tmp_path)
    atomic_write_text(model / "model.safetensors", "weights v2")
    record_stage(run, "01_train", inputs=[data], outputs=[model])  # 01 retrained
    assert stage_state(run, "01_train")[0] == "complete"
    state, reasons = stage_state(run, "03_eval")
    assert state == "stale" and "changed since it ran" in reasons[0]


def test_a_model_preset_as_input_and_missing_paths(tmp_path):
    record_stage(tmp_path, "02_rl", inputs=["tiny"])
    assert read_json(tmp_path / "02_rl" / "stage.json")["inputs"] == {"preset:tiny": "preset:tiny"}
    assert stage_state(tmp_path, "02_rl")[0] == "complete"
    with pytest.raises(FileNotFoundError, match="input .*nope does not exist"):
        record_stage(tmp_path, "02_rl", inputs=[tmp_path / "nope"])


def test_content_digest_ignores_training_scratch(tmp_path):
    atomic_write_text(tmp_path / "m" / "model.safetensors", "w")
    before = runs.content_digest(tmp_path / "m")
    atomic_write_text(tmp_path / "m" / "checkpoints" / "step-1" / "x", "scratch")
    assert runs.content_digest(tmp_path / "m") == before
    atomic_write_text(tmp_path / "m" / "config.json", "{}")
    assert runs.content_digest(tmp_path / "m") != before


# ----------------------------------------------------------------------------- one writer per run
HOLDER = """
import sys, time
from r1omni.runs import run_lock
with run_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def _hold(path: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_writer_is_refused_naming_the_holder_then_a_dead_holders_lock_is_taken_over(tmp_path):
    run = tmp_path / "run"
    holder = _hold(run)
    try:
        with pytest.raises(RunLockedError, match=rf"being written by another process \(pid {holder.pid}: "):
            with runs.run_lock(run):
                pass
        with pytest.raises(RunLockedError, match=f"pid {holder.pid}"):
            runs.check_writable(run)  # a notebook opened in JupyterLab meanwhile
    finally:
        holder.send_signal(signal.SIGKILL)  # a crash: no cleanup runs
        holder.wait()
    assert (run / ".lock").read_text().startswith(f"pid {holder.pid}")  # the stale file is left behind
    with runs.run_lock(run):  # and is simply taken over
        assert (run / ".lock").read_text().startswith(f"pid {os.getpid()}")
        runs.check_writable(run)  # this process's own kernels may write (R1OMNI_RUN_LOCK_HOLDER)
    runs.check_writable(run)


SLOW_NOTEBOOK_CELLS = [
    (
        'run_id: str = "default"  # run\nruns_root: str = "runs"  # root\nseed: int = 0  # seed\n'
        'device: str = "cpu"  # device\nsmoke: bool = False  # smoke\nshow_solutions: bool = False  # solutions\n'
        "seconds: float = 0.0  # how long to sleep"
    ),
    "import time\nfrom r1omni.runs import open_run, record_stage\nrd = open_run(run_id, runs_root)\n"
    "time.sleep(seconds)\nrecord_stage(rd, '00_sleep', metrics={'slept': seconds})",
]


@pytest.fixture
def sleepy_notebooks(tmp_path):
    nbdir = tmp_path / "nbs"
    nbdir.mkdir()
    nb = nbformat.v4.new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        }
    )
    nb.cells = [
        nbformat.v4.new_code_cell(SLOW_NOTEBOOK_CELLS[0], metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(SLOW_NOTEBOOK_CELLS[1]),
    ]
    nbformat.write(nb, nbdir / "00_sleep.ipynb")
    return nbdir


def _workbook(args, env_extra=None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env_extra or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "r1omni.workbook", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.slow
def test_two_chains_on_one_run_id_the_second_is_refused(tmp_path, sleepy_notebooks):
    root = tmp_path / "runs"
    common = ["--run-id", "x", "--runs-root", str(root), "--notebooks-dir", str(sleepy_notebooks)]
    first = _workbook([*common, "-p", "seconds", "20"])
    deadline = time.time() + 60
    while not (root / "x" / "status.json").is_file() and time.time() < deadline:
        time.sleep(0.2)
    second = _workbook([*common, "-p", "seconds", "0"])
    _, err = second.communicate(timeout=120)
    assert second.returncode == 2 and f"pid {first.pid}" in err, err
    _, err = first.communicate(timeout=180)
    assert first.returncode == 0, err
    status = read_json(root / "x" / "status.json")
    assert status["state"] == "complete" and status["params"] == {"seconds": 20}  # the first run's own record


# ----------------------------------------------------------------------------- the chain's state, the CLI
def test_a_rejected_command_leaves_no_run_folder_and_names_what_is_wrong(tmp_path, sleepy_notebooks, capsys):
    from r1omni.workbook.__main__ import main

    root = tmp_path / "runs"
    common = ["--runs-root", str(root), "--notebooks-dir", str(sleepy_notebooks)]
    assert main(["--run-id", "a", "--notebooks", "07", *common]) == 2
    assert "notebook '07': not found" in capsys.readouterr().err
    assert main(["--run-id", "b", "-p", "nonsense", "1", *common]) == 2
    assert "not declared by any notebook" in capsys.readouterr().err
    import torch

    if not torch.cuda.is_available():
        assert main(["--run-id", "c", "-p", "device", "cuda", *common]) == 2
        assert "no CUDA device" in capsys.readouterr().err
    assert not root.exists()  # nothing was made for any of them


def test_the_status_describes_the_whole_run_not_the_last_call(tmp_path, sleepy_notebooks):
    """A stage that ran alone after an upstream stage of the run failed is not a complete run."""
    from r1omni.workbook import run_chain

    nb = nbformat.read(sleepy_notebooks / "00_sleep.ipynb", as_version=4)
    nb.cells[1].source = nb.cells[1].source.replace("'00_sleep'", "'01_use'") + (
        "\nfrom pathlib import Path\nmade = Path(runs_root) / run_id / '00_sleep' / 'out.txt'"
        "\nrecord_stage(rd, '01_use', inputs=[made])"
    )
    nbformat.write(nb, sleepy_notebooks / "01_use.ipynb")
    producer = nbformat.read(sleepy_notebooks / "00_sleep.ipynb", as_version=4)
    producer.cells[1].source = (
        "from pathlib import Path\nfrom r1omni.runs import open_run, record_stage\nrd = open_run(run_id, runs_root)\n"
        "assert seconds == 0, 'failing on purpose'\n(rd / '00_sleep').mkdir(exist_ok=True)\n"
        "(rd / '00_sleep' / 'out.txt').write_text('v1')\n"
        "record_stage(rd, '00_sleep', outputs=[rd / '00_sleep' / 'out.txt'])"
    )
    nbformat.write(producer, sleepy_notebooks / "00_sleep.ipynb")
    root = tmp_path / "runs"
    kw = dict(runs_root=root, notebooks_dir=sleepy_notebooks, progress_bar=False)
    assert run_chain("r", {}, None, **kw).state == "complete"
    failed = run_chain("r", {"seconds": 1.0}, ["00_sleep"], **kw)
    assert failed.state == "failed"
    later = run_chain("r", {}, ["01_use"], **kw)  # runs fine on 00's old output
    assert later.state == "incomplete" and later.stages["00_sleep"]["state"] == "missing"
    assert later.stages["01_use"]["state"] == "stale"
    assert read_json(root / "r" / "status.json")["state"] == "incomplete"
    from r1omni.workbook import run_is_complete

    assert not run_is_complete(root / "r")
    assert run_chain("r", {}, None, **kw).state == "complete" and run_is_complete(root / "r")
    (root / "r" / "00_sleep" / "out.txt").write_text("edited by hand")  # changed after the run
    assert not run_is_complete(root / "r")  # a sweep reruns it


def test_a_sweep_named_dot_dot_is_refused(tmp_path):
    from r1omni.sweep import load_spec

    spec = tmp_path / "s.yaml"
    spec.write_text("name: ..\ngrid: {seed: [0]}\n")
    with pytest.raises(ValueError, match="must be a plain name"):
        load_spec(spec)


# ----------------------------------------------------------------------------- files and their errors
def test_written_files_and_folders_respect_the_umask(tmp_path):
    from r1omni.model import load_preset, save_policy

    old = os.umask(0o022)
    try:
        path = atomic_write_json(tmp_path / "config.json", {"a": 1})
        assert path.stat().st_mode & 0o777 == 0o644  # mkstemp alone gives 0600
        policy = save_policy(tmp_path / "policy", *load_preset("tiny"))
        assert policy.stat().st_mode & 0o777 == 0o755  # mkdtemp alone gives 0700
        assert (policy / "model.safetensors").stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        assert atomic_write_json(tmp_path / "private.json", {}).stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_json_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"a": 1}\n{"b": "\xff"}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: not valid UTF-8"):
        read_jsonl(bad)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match=r"deep\.json: nested too deeply"):
        read_json(deep)


def test_file_lock_waits_for_its_holder(tmp_path):
    lock = tmp_path / ".data.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import time
        from r1omni.io import file_lock
        with file_lock({str(lock)!r}):
            print("locked", flush=True)
            time.sleep(1.5)
    """),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert holder.stdout.readline().strip() == "locked"
    start = time.perf_counter()
    with file_lock(lock, wait=True):
        waited = time.perf_counter() - start
    holder.wait()
    assert waited > 0.5
