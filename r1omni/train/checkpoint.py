"""Resumable training checkpoints that are never half-valid and never unpickle.

Layout of ``<checkpoints>/step-N/``::

    model.safetensors                 trainable state of the policy (shared tensors handled)
    optimizer.safetensors + .json     optimizer.state_dict(): its tensors, and the rest as JSON
    scheduler.json                    lr scheduler state_dict()
    rng_state_<rank>.safetensors + .json   python, numpy and torch (+ cuda) RNG states of each process
    trainer_state.json                step, the resume key and anything else the trainer adds
    COMPLETE                          written last: a directory without it is not a checkpoint

Only safetensors and JSON are ever read back, so a crafted file in a checkpoint cannot run code.

Atomicity and durability: everything is written into ``<checkpoints>/.tmp-step-N/`` first and
fsync'ed (files and directory) before the marker is written; then the directory is renamed to
``step-N`` (a single ``os.replace``). A crash or power cut at any point leaves either a
``.tmp-*`` directory (ignored by :func:`latest_checkpoint`) or a complete, durable checkpoint.
In a multi-process run (:func:`save_distributed`) every rank writes its RNG state into the temp
dir, the ranks synchronise, and only the main process writes the rest and renames.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from r1omni.io import (
    atomic_replace_dir,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    read_json,
    respect_umask,
)

MARKER = "COMPLETE"
MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer"  # .safetensors + .json
SCHEDULER_FILE = "scheduler.json"
TRAINER_STATE = "trainer_state.json"
_STEP_DIR = re.compile(r"^step-(\d+)$")


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated or does not fit; the message names the file."""


def step_dir(checkpoints_dir: str | Path, step: int) -> Path:
    """``<checkpoints>/step-N`` (final location)."""
    return Path(checkpoints_dir) / f"step-{step}"


def tmp_step_dir(checkpoints_dir: str | Path, step: int) -> Path:
    """``<checkpoints>/.tmp-step-N`` (where a checkpoint is assembled before the rename)."""
    return Path(checkpoints_dir) / f".tmp-step-{step}"


def is_complete_checkpoint(path: str | Path) -> bool:
    """True when ``path`` is a finished checkpoint (named step-N and holding the marker)."""
    path = Path(path)
    return bool(_STEP_DIR.match(path.name)) and (path / MARKER).is_file()


def list_checkpoints(checkpoints_dir: str | Path) -> list[Path]:
    """Complete checkpoints in ``checkpoints_dir``, oldest step first."""
    root = Path(checkpoints_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and is_complete_checkpoint(p)]
    return sorted(found, key=lambda p: int(_STEP_DIR.match(p.name).group(1)))


def latest_checkpoint(checkpoints_dir: str | Path) -> Path | None:
    """The complete checkpoint with the highest step, or None. Temp dirs are never picked."""
    found = list_checkpoints(checkpoints_dir)
    return found[-1] if found else None


# --- tensors + JSON, never pickle ------------------------------------------------------------


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    from safetensors.torch import save

    atomic_write_bytes(path, save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}))


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    try:
        return load_file(str(path))
    except Exception as err:  # noqa: BLE001 - SafetensorError and friends: name the file
        raise CheckpointError(f"{path}: not a readable safetensors file ({type(err).__name__}: {err})") from None


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    try:
        return read_json(path)
    except ValueError as err:
        raise CheckpointError(str(err)) from None


def _split_state(state: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Replace every tensor in a nested dict / list by ``{"__tensor__": key}`` (stored in ``tensors``)."""
    if isinstance(state, torch.Tensor):
        tensors[prefix] = state
        return {"__tensor__": prefix}
    if isinstance(state, dict):
        return {"__dict__": [[k, _split_state(v, f"{prefix}.{k}", tensors)] for k, v in state.items()]}
    if isinstance(state, (list, tuple)):
        return {
            "__list__" if isinstance(state, list) else "__tuple__": [
                _split_state(v, f"{prefix}.{i}", tensors) for i, v in enumerate(state)
            ]
        }
    if state is None or isinstance(state, (bool, int, float, str)):
        return state
    raise TypeError(f"cannot store a {type(state).__name__} in a checkpoint (tensors and JSON values only)")


def _join_state(state: Any, tensors: dict[str, torch.Tensor], where: Path) -> Any:
    if isinstance(state, dict):
        if "__tensor__" in state:
            key = state["__tensor__"]
            if key not in tensors:
                raise CheckpointError(f"{where}: tensor {key!r} missing")
            return tensors[key]
        if "__dict__" in state:
            return {k: _join_state(v, tensors, where) for k, v in state["__dict__"]}
        if "__list__" in state:
            return [_join_state(v, tensors, where) for v in state["__list__"]]
        if "__tuple__" in state:
            return tuple(_join_state(v, tensors, where) for v in state["__tuple__"])
        raise CheckpointError(f"{where}: unknown entry {sorted(state)}")
    return state


def save_state_dict(directory: Path, name: str, state: Any) -> None:
    """Write a (nested) state dict as ``<name>.safetensors`` (its tensors) + ``<name>.json`` (the rest)."""
    tensors: dict[str, torch.Tensor] = {}
    structure = _split_state(state, "s", tensors)
    _save_tensors(directory / f"{name}.safetensors", tensors)
    atomic_write_text(directory / f"{name}.json", json.dumps(structure) + "\n")


def load_state_dict(directory: Path, name: str) -> Any:
    """Inverse of :func:`save_state_dict` (reads safetensors and JSON only)."""
    tensors = _load_tensors(directory / f"{name}.safetensors")
    return _join_state(_read_json(directory / f"{name}.json"), tensors, directory / f"{name}.json")


# --- RNG ---------------------------------------------------------------------------------


def rng_state() -> dict[str, Any]:
    """Python, numpy and torch RNG states of this process (CUDA too when present)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _rng_to_storable(state: dict[str, Any]) -> dict[str, Any]:
    version, internal, gauss = state["python"]
    kind, keys, pos, has_gauss, cached = state["numpy"]
    out = {
        "python": [version, torch.tensor(list(internal), dtype=torch.int64), gauss],
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": state["torch"],
    }
    if "cuda" in state:
        out["cuda"] = list(state["cuda"])
    return out


def _rng_from_storable(state: dict[str, Any]) -> dict[str, Any]:
    version, internal, gauss = state["python"]
    kind, keys, pos, has_gauss, cached = state["numpy"]
    out = {
        "python": (version, tuple(int(x) for x in internal.tolist()), gauss),
        "numpy": (kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached),
        "torch": state["torch"],
    }
    if "cuda" in state:
        out["cuda"] = list(state["cuda"])
    return out


def write_rng(checkpoints_dir: str | Path, step: int, rank: int) -> None:
    """Every rank: write this process's RNG state into the temp dir of checkpoint ``step``."""
    tmp = tmp_step_dir(checkpoints_dir, step)
    tmp.mkdir(parents=True, exist_ok=True)
    save_state_dict(tmp, f"rng_state_{rank}", _rng_to_storable(rng_state()))


# --- save / load -------------------------------------------------------------------------


def prepare_tmp(checkpoints_dir: str | Path, step: int) -> Path:
    """Main process, before the ranks write: a fresh, empty temp dir for checkpoint ``step``."""
    tmp = tmp_step_dir(checkpoints_dir, step)
    if tmp.exists():
        shutil.rmtree(tmp)  # left by a crashed save
    tmp.mkdir(parents=True)
    return tmp


def finalize(
    checkpoints_dir: str | Path,
    step: int,
    *,
    model: torch.nn.Module | None,
    optimizer: torch.optim.Optimizer | None,
    scheduler: Any | None,
    trainer_state: dict[str, Any],
    save_total_limit: int = 0,
) -> Path:
    """Main process: write model/optimizer/scheduler/state, make them durable, write the marker,
    rename, prune old checkpoints. Returns the final ``step-N`` directory."""
    from safetensors.torch import save_model

    tmp = tmp_step_dir(checkpoints_dir, step)
    tmp.mkdir(parents=True, exist_ok=True)
    if model is not None:
        save_model(model, str(tmp / MODEL_FILE))
        respect_umask(tmp / MODEL_FILE)  # safetensors writes 0600
    if optimizer is not None:
        save_state_dict(tmp, OPTIMIZER_FILE, optimizer.state_dict())
    if scheduler is not None:
        atomic_write_json(tmp / SCHEDULER_FILE, scheduler.state_dict())
    atomic_write_json(tmp / TRAINER_STATE, {**trainer_state, "step": step})
    for path in sorted(tmp.rglob("*")):  # every file durable before the marker says so
        if path.is_file():
            _fsync(path)
    _fsync(tmp)
    atomic_write_text(tmp / MARKER, f"step {step}\n")
    final = atomic_replace_dir(tmp, step_dir(checkpoints_dir, step))
    if save_total_limit > 0:
        for old in list_checkpoints(checkpoints_dir)[:-save_total_limit]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def save_checkpoint(
    checkpoints_dir: str | Path,
    step: int,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
    trainer_state: dict[str, Any] | None = None,
    save_total_limit: int = 0,
) -> Path:
    """Single-process save: RNG of this process, then everything else (see module docstring)."""
    prepare_tmp(checkpoints_dir, step)
    write_rng(checkpoints_dir, step, rank=0)
    return finalize(
        checkpoints_dir,
        step,
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        trainer_state=trainer_state or {},
        save_total_limit=save_total_limit,
    )


def load_checkpoint(
    path: str | Path,
    *,
    model: torch.nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
    rank: int = 0,
    restore_rng: bool = True,
) -> dict[str, Any]:
    """Load a complete checkpoint into the given objects; returns trainer_state (with ``step``).

    Raises a :class:`CheckpointError` naming the file when the directory is not a complete
    checkpoint or a piece is missing, truncated or does not fit (e.g. the RNG state of a rank:
    resuming with more processes than were saved).
    """
    from safetensors.torch import load_model

    path = Path(path)
    if not is_complete_checkpoint(path):
        raise CheckpointError(f"{path}: not a complete checkpoint (needs a step-N dir with {MARKER})")
    state = _read_json(path / TRAINER_STATE)
    if model is not None:
        weights = path / MODEL_FILE
        if not weights.is_file():
            raise CheckpointError(f"{weights}: missing")
        try:
            missing, unexpected = load_model(model, str(weights), strict=False)
        except Exception as err:  # noqa: BLE001 - name the file
            raise CheckpointError(f"{weights}: not a readable safetensors file ({type(err).__name__}: {err})") from None
        if unexpected or missing:
            raise CheckpointError(
                f"{weights} does not fit the model: missing {missing[:5]}, unexpected {unexpected[:5]}"
            )
    if optimizer is not None:
        try:
            optimizer.load_state_dict(load_state_dict(path, OPTIMIZER_FILE))
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, CheckpointError):
                raise
            raise CheckpointError(f"{path / (OPTIMIZER_FILE + '.json')}: does not fit the optimizer ({err})") from None
    if scheduler is not None:
        scheduler.load_state_dict(_read_json(path / SCHEDULER_FILE))
    if restore_rng:
        name = f"rng_state_{rank}"
        if not (path / f"{name}.json").is_file():
            raise CheckpointError(f"{path}: {name}.json missing (was the run saved with fewer processes?)")
        set_rng_state(_rng_from_storable(load_state_dict(path, name)))
    return state


# --- the distributed protocol both trainers use --------------------------------------------


def save_distributed(
    accelerator: Any,
    checkpoints_dir: str | Path,
    step: int,
    *,
    model: torch.nn.Module,
    optimizer: Any,
    scheduler: Any,
    trainer_state: dict[str, Any],
    save_total_limit: int = 0,
    sharded: bool = False,
) -> None:
    """Every rank: the four-barrier save. Main prepares the temp dir; all ranks write their RNG
    (and, ``sharded`` = DeepSpeed / FSDP, accelerate's sharded model + optimizer state); main
    writes the rest, the marker and renames; everyone waits for the rename."""
    if accelerator.is_main_process:
        prepare_tmp(checkpoints_dir, step)
    accelerator.wait_for_everyone()
    if sharded:
        accelerator.save_state(str(tmp_step_dir(checkpoints_dir, step)))
    write_rng(checkpoints_dir, step, accelerator.process_index)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        finalize(
            checkpoints_dir,
            step,
            model=None if sharded else model,
            optimizer=None if sharded else optimizer,
            scheduler=scheduler,
            trainer_state=trainer_state,
            save_total_limit=save_total_limit,
        )
    accelerator.wait_for_everyone()


def load_distributed(
    accelerator: Any, path: str | Path, *, model: torch.nn.Module, optimizer: Any, scheduler: Any, sharded: bool = False
) -> dict[str, Any]:
    """Every rank: restore what :func:`save_distributed` wrote (this rank's RNG included)."""
    path = Path(path)
    if sharded:
        accelerator.load_state(str(path))
        state = load_checkpoint(path, scheduler=scheduler, rank=accelerator.process_index)
    else:
        state = load_checkpoint(
            path, model=model, optimizer=optimizer, scheduler=scheduler, rank=accelerator.process_index
        )
    return state
