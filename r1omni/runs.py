"""The ``runs/<run_id>/`` layout, in one place: the stage chain, where each stage writes, where
every later stage finds what an earlier one made, which stage records are current, and the lock
that keeps one writer per run.

::

    runs/<run_id>/
      .lock                                      held by the one process that writes the run
      status.json, config.json, metrics.json    the chain's state and every stage's records merged
      notebooks/<stage>.ipynb                    the executed notebooks
      feature_cache/                             frozen-tower features shared by the training stages
      <stage>/config.json, metrics.json          each stage's own records (:func:`record_stage`)
      <stage>/stage.json                         what the stage consumed and made, by content hash
      00_data_prep/synthemo_smoke/               the smoke-sized data set (smoke runs only)
      01_base_model/model/, 02_cold_start_sft/{model,label_sft_model}/, 03_rlvr_grpo/model/   policies
                                                 (MODEL_DIRS)
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from r1omni.io import LockedError, atomic_write_json, file_digest, file_lock, lock_holder, read_json, to_jsonable
from r1omni.settings import MODEL_PRESETS

RUNS_DIR_ENV = "R1OMNI_RUNS_DIR"

DATA_STAGE = "00_data_prep"
BASE_STAGE = "01_base_model"
SFT_STAGE = "02_cold_start_sft"
GRPO_STAGE = "03_rlvr_grpo"
EVAL_STAGE = "04_evaluation"
ATTRIBUTION_STAGE = "05_modality_attribution"
REPORT_STAGE = "06_sweep_report"
#: The workbook's chain, in order: notebook ``notebooks/<stage>.ipynb`` writes ``runs/<run_id>/<stage>/``.
CHAIN: tuple[str, ...] = (DATA_STAGE, BASE_STAGE, SFT_STAGE, GRPO_STAGE, EVAL_STAGE, ATTRIBUTION_STAGE, REPORT_STAGE)

#: Every policy a run makes: name -> (stage, folder inside the stage). Evaluation compares them;
#: RLVR starts from one of :data:`INIT_FROM`.
MODEL_DIRS: dict[str, tuple[str, str]] = {
    "base": (BASE_STAGE, "model"),
    "cold_start": (SFT_STAGE, "model"),
    "label_sft": (SFT_STAGE, "label_sft_model"),
    "rlvr": (GRPO_STAGE, "model"),
}
#: The policies RLVR may start from (those made before it).
INIT_FROM: tuple[str, ...] = ("cold_start", "base", "label_sft")

#: The smoke-sized data set lives inside the run (so a smoke run never touches a real data folder).
SMOKE_DATA_DIR = "synthemo_smoke"
FEATURE_CACHE_DIR = "feature_cache"


def repo_root() -> Path:
    """The checkout that holds the ``r1omni`` package (relative data paths resolve against it)."""
    return Path(__file__).resolve().parent.parent


def runs_root(root: str | os.PathLike | None = None) -> Path:
    """The absolute directory that holds every run: ``root``, else ``$R1OMNI_RUNS_DIR``, else
    ``runs``; a relative path starts at the repository root, as ``data_dir`` does, so a notebook
    opened in JupyterLab (working directory ``notebooks/``) finds the runs ``make workbook`` made."""
    path = Path(root if root is not None else os.environ.get(RUNS_DIR_ENV, "runs")).expanduser()
    return path if path.is_absolute() else (repo_root() / path).resolve()


def check_run_id(run_id: str) -> str:
    """``run_id`` if it is a plain name (no path separators, not ``.`` or ``..``), else ValueError."""
    if not run_id or "/" in run_id or "\\" in run_id or run_id in {".", ".."}:
        raise ValueError(f"run_id {run_id!r} must be a non-empty plain name")
    return run_id


def run_dir(run_id: str, root: str | os.PathLike | None = None, *, create: bool = True) -> Path:
    """``runs/<run_id>/``; ``run_id`` must be a plain name (no path separators)."""
    path = runs_root(root) / check_run_id(run_id)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def stage_dir(run_id: str, stage: str, root: str | os.PathLike | None = None) -> Path:
    """``runs/<run_id>/<stage>/``, the output folder of one notebook stage (e.g. ``02_cold_start_sft``)."""
    path = run_dir(run_id, root) / stage
    path.mkdir(parents=True, exist_ok=True)
    return path


def feature_cache_dir(run_directory: str | os.PathLike) -> Path:
    """``runs/<run_id>/feature_cache``: tower features shared by the run's training stages."""
    return Path(run_directory) / FEATURE_CACHE_DIR


STAGE_RECORD = "stage.json"
#: Folders inside a stage output that are not part of what it made (resumable scratch).
_NOT_CONTENT = {"checkpoints", "feature_cache", "tb", "__pycache__"}


def content_digest(path: str | os.PathLike) -> str:
    """16 hex digits of a file's bytes, or of a folder's files (relative names and bytes; training
    scratch such as ``checkpoints/`` and ``tb/`` left out). A missing path raises."""
    path = Path(path)
    if path.is_file():
        return file_digest(path)[:16]
    if not path.is_dir():
        raise FileNotFoundError(f"{path.resolve()}: no such file or folder")
    digest = hashlib.sha256()
    for item in sorted(path.rglob("*")):
        rel = item.relative_to(path)
        if item.is_file() and not (set(rel.parts[:-1]) & _NOT_CONTENT) and not rel.name.startswith("."):
            digest.update(f"{rel.as_posix()}\0{file_digest(item)}\0".encode())
    return digest.hexdigest()[:16]


def _key(run_directory: Path, path: str | os.PathLike) -> str:
    """How a path is named in a stage record: relative to the run when inside it, else absolute; a
    model preset name (a starting policy built from code, not read from disk) as ``preset:<name>``."""
    if str(path) in MODEL_PRESETS and not Path(path).exists():
        return f"{PRESET_INPUT}{path}"
    path = Path(path).resolve()
    try:
        return path.relative_to(run_directory.resolve()).as_posix()
    except ValueError:
        return str(path)


PRESET_INPUT = "preset:"


def _digest(run_directory: Path, key: str) -> str | None:
    """The current content hash behind a record key (None when the path is gone)."""
    if key.startswith(PRESET_INPUT):
        return key
    where = _path(run_directory, key)
    return content_digest(where) if where.exists() else None


def _digests(run_directory: Path, paths: Sequence[str | os.PathLike], stage: str, what: str) -> dict[str, str]:
    out = {}
    for path in paths:
        key = _key(run_directory, path)
        digest = _digest(run_directory, key)
        if digest is None:
            raise FileNotFoundError(f"{stage}: its {what} {Path(path).resolve()} does not exist")
        out[key] = digest
    return out


def _path(run_directory: Path, key: str) -> Path:
    return Path(key) if Path(key).is_absolute() else run_directory / key


def record_stage(
    run_directory: str | os.PathLike,
    stage: str,
    *,
    config: Any = None,
    metrics: Any = None,
    inputs: Sequence[str | os.PathLike] = (),
    outputs: Sequence[str | os.PathLike] = (),
) -> Path:
    """Record one notebook stage's outputs in a run.

    Writes ``runs/<run_id>/<stage>/config.json`` and ``metrics.json`` and merges the same dicts
    under the key ``stage`` into the run-level ``config.json`` and ``metrics.json`` (so a sweep reads
    one file per run); then ``<stage>/stage.json``: the content hash of every ``input`` the stage
    consumed (manifests, policies made by earlier stages) and every ``output`` it made, which
    :func:`stage_state` checks later. All writes are atomic.
    """
    run_directory = Path(run_directory)
    sdir = run_directory / stage
    sdir.mkdir(parents=True, exist_ok=True)
    for name, value in (("config.json", config), ("metrics.json", metrics)):
        if value is None:
            continue
        value = to_jsonable(value)
        atomic_write_json(sdir / name, value)
        top = run_directory / name
        merged = read_json(top) if top.exists() else {}
        merged[stage] = value
        atomic_write_json(top, merged)
    atomic_write_json(
        sdir / STAGE_RECORD,
        {
            "stage": stage,
            "recorded": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "inputs": _digests(run_directory, inputs, stage, "input"),
            "outputs": _digests(run_directory, outputs, stage, "output"),
        },
    )
    return sdir


def forget_stage(run_directory: str | os.PathLike, stage: str) -> None:
    """Drop a stage's record (before it runs again): until it finishes, it reads as missing."""
    (Path(run_directory) / stage / STAGE_RECORD).unlink(missing_ok=True)


def stage_state(run_directory: str | os.PathLike, stage: str, _seen: dict | None = None) -> tuple[str, list[str]]:
    """``("complete" | "stale" | "missing", reasons)`` of one stage's record.

    - missing: the stage has no record (it never finished, or it is running again).
    - stale: an input it consumed has changed since, or was made by a stage that is itself not
      complete, or that has made it anew since, or lies inside the run but no stage with a record
      made it (its maker failed after this stage ran).
    """
    run_directory = Path(run_directory)
    seen = {} if _seen is None else _seen
    if stage in seen:
        return seen[stage]
    path = run_directory / stage / STAGE_RECORD
    if not path.is_file():
        seen[stage] = ("missing", [f"{stage}: no record ({path.resolve()} missing): it has not finished"])
        return seen[stage]
    seen[stage] = ("complete", [])  # provisional, breaks cycles
    record = read_json(path)
    producers = {
        key: other for other, rec in _records(run_directory).items() if other != stage for key in rec.get("outputs", {})
    }
    reasons = []
    for key, digest in record.get("inputs", {}).items():
        where = _path(run_directory, key)
        now = _digest(run_directory, key)
        if now != digest:
            reasons.append(f"{stage}: its input {where} {'is gone' if now is None else 'changed'} since it ran")
            continue
        producer = producers.get(key)
        if producer is None and not Path(key).is_absolute() and not key.startswith(PRESET_INPUT):
            reasons.append(
                f"{stage}: its input {where} was made by no stage with a current record "
                "(its maker failed or is running again)"
            )
        elif producer is not None:
            state, why = stage_state(run_directory, producer, seen)
            made = _records(run_directory)[producer]["outputs"][key]
            if state != "complete":
                reasons.append(f"{stage}: its input {where} comes from {producer}, which is {state}")
            elif made != digest:
                reasons.append(f"{stage}: {producer} has made {where} anew since {stage} ran")
    seen[stage] = ("stale", reasons) if reasons else ("complete", [])
    return seen[stage]


def _records(run_directory: Path) -> dict[str, dict]:
    out = {}
    for path in sorted(run_directory.glob(f"*/{STAGE_RECORD}")):
        with contextlib.suppress(ValueError):
            out[path.parent.name] = read_json(path)
    return out


def chain_state(run_directory: str | os.PathLike, stages: Sequence[str]) -> tuple[str, dict[str, dict]]:
    """The state of a run over ``stages``: "complete" when every one is, else "incomplete"; and
    per stage ``{"state", "reasons"}``."""
    seen: dict = {}
    per = {}
    for stage in stages:
        state, reasons = stage_state(run_directory, stage, seen)
        per[stage] = {"state": state, "reasons": reasons}
    overall = "complete" if all(v["state"] == "complete" for v in per.values()) else "incomplete"
    return overall, per


# ----------------------------------------------------------------------------- one writer per run
LOCK_FILE = ".lock"
#: Set by the process holding a run's lock for the kernels it starts (they write the run on its behalf).
LOCK_ENV = "R1OMNI_RUN_LOCK_HOLDER"


RunLockedError = LockedError  # one writer per run: the error names the holder


@contextlib.contextmanager
def run_lock(directory: str | os.PathLike) -> Iterator[Path]:
    """Hold ``runs/<run_id>/.lock`` while the block runs: one writer per run.

    Another live holder raises :class:`RunLockedError` naming its pid and command. The lock is an
    ``flock`` (:func:`r1omni.io.file_lock`): it dies with its holder, so a lock file left by a
    killed process is simply taken over. Kernels started inside the block see
    ``$R1OMNI_RUN_LOCK_HOLDER`` and may write the run (:func:`check_writable`).
    """
    directory = Path(directory)
    with file_lock(directory / LOCK_FILE, what="run"):
        previous = os.environ.get(LOCK_ENV)
        os.environ[LOCK_ENV] = str(os.getpid())
        try:
            yield directory / LOCK_FILE
        finally:
            if previous is None:
                os.environ.pop(LOCK_ENV, None)
            else:
                os.environ[LOCK_ENV] = previous


def check_writable(run_directory: str | os.PathLike) -> Path:
    """Raise :class:`RunLockedError` when a process other than this one's chain runner holds the
    run's lock (e.g. ``make workbook`` is running while a notebook is opened in JupyterLab)."""
    import fcntl

    run_directory = Path(run_directory)
    lock_path = run_directory / LOCK_FILE
    if not lock_path.is_file():
        return run_directory
    holder = lock_holder(lock_path)
    if os.environ.get(LOCK_ENV) and holder.startswith(f"pid {os.environ[LOCK_ENV]}:"):
        return run_directory  # our own chain runner holds it
    fd = os.open(lock_path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        raise RunLockedError(
            f"{run_directory.resolve()}: this run is being written by another process "
            f"({holder}); wait for it to finish or use another run_id"
        ) from None
    finally:
        os.close(fd)
    return run_directory


def open_run(run_id: str, root: str | os.PathLike | None = None) -> Path:
    """A notebook's run folder: ``runs/<run_id>/``, made if needed, checked not to be written by
    another process (:func:`check_writable`)."""
    return check_writable(run_dir(run_id, root))


# ----------------------------------------------------------------------------- data
def data_location(
    data_dir: str | os.PathLike, *, run_directory: str | os.PathLike | None = None, smoke: bool = False
) -> Path:
    """The absolute data folder: in smoke mode ``runs/<run_id>/00_data_prep/synthemo_smoke``
    (so a smoke run never touches a real data folder); otherwise ``data_dir``, relative paths
    taken from the repository root (so the notebook and ``make workbook`` agree)."""
    if smoke:
        if run_directory is None:
            raise ValueError("smoke mode needs run_directory")
        return (Path(run_directory) / DATA_STAGE / SMOKE_DATA_DIR).resolve()
    path = Path(data_dir).expanduser()
    return path if path.is_absolute() else (repo_root() / path).resolve()


def resolve_data_dir(run_directory: str | os.PathLike, data_dir: str = "") -> Path:
    """The run's data folder: ``data_dir`` if given (a relative path starts at the repository root,
    as in notebook 00), else the ``data_dir`` recorded by notebook 00 in
    ``runs/<run_id>/00_data_prep/config.json``."""
    if not data_dir:
        config_path = Path(run_directory) / DATA_STAGE / "config.json"
        if not config_path.is_file():
            raise FileNotFoundError(f"{config_path}: missing; run notebook {DATA_STAGE} first or pass data_dir")
        data_dir = read_json(config_path).get("data_dir", "")
        if not data_dir:
            raise ValueError(f"{config_path}: has no 'data_dir' entry")
    path = data_location(data_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"data_dir {path} is not a directory")
    return path


# ----------------------------------------------------------------------------- policies
def model_dir(run_directory: str | os.PathLike, name: str) -> Path:
    """Where the run's policy ``name`` (a key of :data:`MODEL_DIRS`) lives."""
    if name not in MODEL_DIRS:
        raise ValueError(f"unknown model {name!r}; expected one of {list(MODEL_DIRS)}")
    stage, folder = MODEL_DIRS[name]
    return Path(run_directory) / stage / folder


def resolve_model_dirs(run_directory: str | os.PathLike, names: Sequence[str]) -> dict[str, Path]:
    """``{name: runs/<run_id>/<stage>/<dir>}`` for each requested policy; a missing one raises."""
    out, missing = {}, []
    for name in names:
        path = model_dir(run_directory, name)
        if path.is_dir():
            out[name] = path
        else:
            missing.append(f"{name} ({path}, made by {MODEL_DIRS[name][0]})")
    if missing:
        raise FileNotFoundError(
            "requested checkpoints are missing from the run: "
            + ", ".join(missing)
            + "; run the stages that make them first or drop them from `models`"
        )
    return out


def resolve_init_policy(run_directory: str | os.PathLike, init_from: str) -> str:
    """The starting policy of RLVR: one of :data:`INIT_FROM` ("cold_start", the paper's recipe,
    "base", "label_sft"), a saved policy directory, or an omni preset name such as "tiny"."""
    if init_from in INIT_FROM:
        path = model_dir(run_directory, init_from)
        if not path.is_dir():
            raise FileNotFoundError(
                f"{path}: missing (init_from={init_from!r}); run notebook {MODEL_DIRS[init_from][0]} first"
            )
        return str(path)
    if Path(init_from).is_dir():
        return str(init_from)
    if init_from in MODEL_PRESETS:
        return init_from
    raise ValueError(
        f"init_from={init_from!r}: expected one of {list(INIT_FROM)}, a policy directory "
        f"or a model preset {list(MODEL_PRESETS)}"
    )
