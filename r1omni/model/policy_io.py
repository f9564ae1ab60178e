"""Every way of getting a policy (model + processor): save / load one directory atomically, build
a preset, or take whatever a trainer is given (:func:`load_initial_policy`).

Layout: ``config.json`` + ``model.safetensors`` (the model), ``processor_config.json`` + tokenizer
files (the processor). Only safetensors and JSON are read: nothing is unpickled.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from r1omni.io import atomic_replace_dir, respect_umask


def save_policy(directory: str | os.PathLike, model, processor) -> Path:
    """Write model and processor to a temporary sibling directory, then move it onto ``directory``."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp", dir=directory.parent))
    respect_umask(tmp, directory=True)  # mkdtemp makes it 0700: a colleague could not read the policy
    try:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        return atomic_replace_dir(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_policy(directory: str | os.PathLike, device: str | torch.device = "cpu"):
    """(OmniModel, OmniProcessor) saved by :func:`save_policy`."""
    from r1omni.model.omni import OmniModel
    from r1omni.model.processor import OmniProcessor

    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such policy directory")
    return OmniModel.from_pretrained(directory, device=device), OmniProcessor.from_pretrained(directory)


def load_preset(name: str, seed: int = 0, **overrides):
    """(OmniModel, OmniProcessor) of a preset, built together."""
    from r1omni.model.omni import OmniModel
    from r1omni.model.processor import OmniProcessor

    return OmniModel.from_preset(name, seed=seed, **overrides), OmniProcessor.from_preset(name, **overrides)


def policy_preset(policy: str | os.PathLike) -> str:
    """The model preset a policy was built from: a preset name itself, or the ``preset`` that a saved
    policy directory's ``config.json`` records (:attr:`OmniConfig.preset`)."""
    from r1omni.model.config import PRESETS, OmniConfig

    if str(policy) in PRESETS and not Path(policy).exists():
        return str(policy)
    path = Path(policy) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{Path(policy).resolve()}: neither a model preset {list(PRESETS)} nor a saved policy (no config.json)"
        )
    from r1omni.io import read_json

    return OmniConfig.from_dict(read_json(path), source=str(path)).preset


def resolve_model_preset(model_preset: str, policies: dict[str, Any]) -> str:
    """The model preset of a run's policies (``{name: preset or directory}``): ``model_preset`` when
    given (a preset name or a saved policy directory), else ("") the one the policies share. A policy
    built from another preset raises naming it, so that a recipe chosen for one model is never run on
    another."""
    found = {name: policy_preset(path) for name, path in policies.items()}
    detail = ", ".join(f"{name} ({policies[name]}) was built from {preset!r}" for name, preset in found.items())
    if model_preset:
        wanted = policy_preset(model_preset)
        bad = {name for name, preset in found.items() if preset != wanted}
        if bad:
            raise ValueError(
                f"model_preset={model_preset!r} ({wanted!r}) does not match the policies: {detail}; pass the "
                "model_preset the run was built with (notebook 01's), or leave it empty"
            )
        return wanted
    if not found:
        raise ValueError("resolve_model_preset: no model_preset given and no policy to read it from")
    if len(set(found.values())) > 1:
        raise ValueError(f"the policies come from different model presets: {detail}")
    return next(iter(found.values()))


def load_initial_policy(policy: Any, *, seed: int = 0) -> tuple[Any, Any]:
    """``(model, processor)`` from a saved policy directory, a preset name ("tiny", ...)
    or an already built ``(model, processor)`` pair (returned as is)."""
    if isinstance(policy, tuple):
        return policy
    if Path(policy).is_dir():
        return load_policy(policy)
    try:
        return load_preset(str(policy), seed=seed)
    except ValueError as err:
        raise ValueError(f"policy {policy!r} is neither a saved policy directory nor a model preset: {err}") from None
