"""The ``runs/<run_id>/`` layout, in one place: the stage chain, where each stage writes, and
where every later stage finds what an earlier one made.

::

    runs/<run_id>/
      status.json, config.json, metrics.json    the chain's state and every stage's records merged
      notebooks/<stage>.ipynb                    the executed notebooks
      feature_cache/                             frozen-tower features shared by the training stages
      <stage>/config.json, metrics.json          each stage's own records (:func:`record_stage`)
      00_data_prep/synthemo_smoke/               the smoke-sized data set (smoke runs only)
      01_cold_start_sft/{base_model,model,label_sft_model}/, 02_rlvr_grpo/model/   policies (MODEL_DIRS)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from r1omni.io import atomic_write_json, read_json, to_jsonable
from r1omni.settings import MODEL_PRESETS

RUNS_DIR_ENV = "R1OMNI_RUNS_DIR"

DATA_STAGE = "00_data_prep"
SFT_STAGE = "01_cold_start_sft"
GRPO_STAGE = "02_rlvr_grpo"
EVAL_STAGE = "03_evaluation"
ATTRIBUTION_STAGE = "04_modality_attribution"
REPORT_STAGE = "05_sweep_report"
#: The workbook's chain, in order: notebook ``notebooks/<stage>.ipynb`` writes ``runs/<run_id>/<stage>/``.
CHAIN: tuple[str, ...] = (DATA_STAGE, SFT_STAGE, GRPO_STAGE, EVAL_STAGE, ATTRIBUTION_STAGE, REPORT_STAGE)

#: Every policy a run makes: name -> (stage, folder inside the stage). Evaluation compares them;
#: RLVR starts from one of :data:`INIT_FROM`.
MODEL_DIRS: dict[str, tuple[str, str]] = {
    "base": (SFT_STAGE, "base_model"),
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
    """The directory that holds every run: ``root``, else ``$R1OMNI_RUNS_DIR``, else ``./runs``."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get(RUNS_DIR_ENV, "runs"))


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
    """``runs/<run_id>/<stage>/``, the output folder of one notebook stage (e.g. ``01_cold_start_sft``)."""
    path = run_dir(run_id, root) / stage
    path.mkdir(parents=True, exist_ok=True)
    return path


def feature_cache_dir(run_directory: str | os.PathLike) -> Path:
    """``runs/<run_id>/feature_cache``: tower features shared by the run's training stages."""
    return Path(run_directory) / FEATURE_CACHE_DIR


def record_stage(run_directory: str | os.PathLike, stage: str, *, config: Any = None, metrics: Any = None) -> Path:
    """Record one notebook stage's outputs in a run.

    Writes ``runs/<run_id>/<stage>/config.json`` and ``metrics.json`` and merges the same
    dicts under the key ``stage`` into the run-level ``runs/<run_id>/config.json`` and
    ``metrics.json`` (so a sweep reads one file per run). All writes are atomic.
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
    return sdir


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
