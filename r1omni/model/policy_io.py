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
