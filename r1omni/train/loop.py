"""What the SFT and GRPO trainers share: the device, the seeded data order, the resume rule, the
optimizer and schedule, and the result they return.

Data order. Every trainer reads its examples from one endless stream, ``perm(seed, epoch 0) ++
perm(seed, epoch 1) ++ ...`` (:func:`data_order`), so a run resumed at step ``s`` continues with
exactly the examples an uninterrupted run would have used.

Resume rule. A checkpoint records the *resume key*: every setting that decides the result, the
content of the training data and the identity of the starting policy (:func:`resume_key`). A
resume with anything different is refused, naming what differs (:func:`check_resume`); settings
that cannot change the result (logging, saving, progress bars, cache folders, the device) are not
part of it.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from r1omni.data.manifest import records_fingerprint
from r1omni.train.checkpoint import CheckpointError, is_complete_checkpoint, latest_checkpoint

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


# ----------------------------------------------------------------------------- device
def check_device(device: str, where: str) -> str:
    """``device`` if it is usable here: "cpu", "auto" (accelerate picks), or "cuda" when a CUDA
    device exists; else a ValueError naming ``where`` (e.g. ``"GRPOConfig.device"``)."""
    if device not in DEVICES:
        raise ValueError(f"{where}={device!r}: expected one of {list(DEVICES)}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{where}='cuda' but no CUDA device is available on this machine; use 'cpu'")
    return device


#: What ``accelerate launch`` sets in the environment for a sharded config, and the type it must give.
SHARDED_LAUNCH = {"ACCELERATE_USE_FSDP": "FSDP", "ACCELERATE_USE_DEEPSPEED": "DEEPSPEED"}


def make_accelerator(device: str, bf16: bool, kwargs_handlers: Iterable[Any] = ()) -> Any:
    """An ``accelerate.Accelerator`` on ``device`` ("cpu" forces the CPU even with a GPU).

    A run launched with a DeepSpeed or FSDP config that accelerate does not honour raises instead of
    training unsharded: accelerate 1.15 enables FSDP only on multi-accelerator machines, so on CPU
    processes an FSDP config quietly becomes plain DDP (``DistributedType.MULTI_CPU``).
    """
    import os

    from accelerate import Accelerator

    accelerator = Accelerator(
        cpu=device == "cpu", mixed_precision="bf16" if bf16 else "no", kwargs_handlers=list(kwargs_handlers)
    )
    for env, wanted in SHARDED_LAUNCH.items():
        if os.environ.get(env, "false").lower() == "true" and accelerator.distributed_type.name != wanted:
            raise RuntimeError(
                f"the accelerate config asks for {wanted} ({env}=true), but accelerate runs this as "
                f"{accelerator.distributed_type.name} on device={device!r} (sharding needs GPUs); "
                "use configs/accelerate/multi_cpu_2proc.yaml on CPUs"
            )
    return accelerator


# ----------------------------------------------------------------------------- data order
def data_order(num_examples: int, seed: int, start: int, count: int) -> list[int]:
    """Example indices at positions ``start .. start + count - 1`` of the endless stream
    ``perm(seed, epoch 0) ++ perm(seed, epoch 1) ++ ...`` (one seeded permutation per epoch).

    >>> data_order(4, 0, 0, 8)[:4] == data_order(4, 0, 0, 4)
    True
    >>> sorted(data_order(5, 1, 5, 5))
    [0, 1, 2, 3, 4]
    """
    if num_examples < 1:
        raise ValueError("data_order: no examples")
    out: list[int] = []
    pos = start
    while len(out) < count:
        epoch, offset = divmod(pos, num_examples)
        gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
        perm = torch.randperm(num_examples, generator=gen).tolist()
        take = perm[offset : offset + count - len(out)]
        out.extend(take)
        pos += len(take)
    return out


def batch_plan(
    num_examples: int, global_batch: int, *, num_train_epochs: float, max_steps: int, seed: int
) -> list[list[int]]:
    """Indices of each optimizer step's global batch, cut from :func:`data_order`'s stream:
    ``max_steps`` batches if ``max_steps > 0``, else ``floor(num_train_epochs * n / global_batch)``.

    >>> plan = batch_plan(5, 2, num_train_epochs=2, max_steps=0, seed=0)
    >>> [len(b) for b in plan], sorted(sum(plan, [])) == sorted(2 * list(range(5)))
    ([2, 2, 2, 2, 2], True)
    """
    steps = max_steps if max_steps > 0 else int(num_train_epochs * num_examples) // global_batch
    if steps < 1:
        raise ValueError(
            f"{num_examples} examples x {num_train_epochs} epochs is less than one global batch of {global_batch}"
        )
    stream = data_order(num_examples, seed, 0, steps * global_batch)
    return [stream[i * global_batch : (i + 1) * global_batch] for i in range(steps)]


# ----------------------------------------------------------------------------- resume
def fingerprint(obj: Any) -> str:
    """16 hex digits of the sha256 of ``obj`` as sorted JSON."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def weights_checksum(model: torch.nn.Module) -> str:
    """sha256 over every parameter's and buffer's name, shape and bytes (a policy's identity; also
    used to check that all processes hold the same weights)."""
    h = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        h.update(f"{name}{tuple(p.shape)}{p.dtype}".encode())
        h.update(p.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def resume_key(
    config: dict[str, Any],
    *,
    ignore: Iterable[str],
    records: Sequence[dict[str, Any]],
    model: torch.nn.Module,
    num_processes: int,
) -> dict[str, Any]:
    """What decides a training run's result, flat: ``config.<field>`` for every config field not in
    ``ignore``, ``data`` (the content of the training records and their clips,
    :func:`r1omni.data.manifest.records_fingerprint`, and their number), ``policy`` (the starting
    policy's :func:`weights_checksum`) and ``num_processes`` (it decides how batches are split)."""
    ignore = set(ignore)
    key = {f"config.{k}": v for k, v in sorted(config.items()) if k not in ignore}
    key.update(
        data=f"{records_fingerprint(records)}:{len(records)}",
        policy=weights_checksum(model),
        num_processes=num_processes,
    )
    return json.loads(json.dumps(key, default=str))


def check_resume(saved: dict[str, Any] | None, current: dict[str, Any], path: str | Path) -> None:
    """Refuse to resume from checkpoint ``path`` when its resume key differs from ``current``,
    naming every field that differs with both values."""
    if saved is None:
        raise CheckpointError(
            f"{path}: has no resume key (made by an older version); start afresh with resume_from_checkpoint='never'"
        )

    def short(value: Any) -> str:
        text = json.dumps(value, default=str)
        return text if len(text) <= 60 else text[:57] + "..."

    diffs = [
        f"{k}: {short(saved.get(k, '<unset>'))} saved, {short(current.get(k, '<unset>'))} now"
        for k in sorted(set(saved) | set(current))
        if saved.get(k, "<unset>") != current.get(k, "<unset>")
    ]
    if diffs:
        raise ValueError(
            f"{path}: cannot resume, the run would change: "
            + "; ".join(diffs)
            + " (set resume_from_checkpoint='never' to start afresh, or use another output_dir)"
        )


RESUME_MODES = ("auto", "never")


def resume_path(resume_from_checkpoint: str, checkpoints_dir: str | Path) -> Path | None:
    """The checkpoint to resume from: "auto" = the latest complete one in ``checkpoints_dir`` (None
    when there is none), "never" = None, anything else = that checkpoint (it must be complete)."""
    if resume_from_checkpoint == "never":
        return None
    if resume_from_checkpoint == "auto":
        return latest_checkpoint(checkpoints_dir)
    path = Path(resume_from_checkpoint)
    if not is_complete_checkpoint(path):
        raise CheckpointError(
            f"resume_from_checkpoint={resume_from_checkpoint!r}: not a complete checkpoint "
            "(a step-N directory holding COMPLETE)"
        )
    return path


def clear_checkpoints(checkpoints_dir: str | Path) -> None:
    """A fresh run must not mix with an earlier one's checkpoints: delete them (main process only)."""
    shutil.rmtree(checkpoints_dir, ignore_errors=True)


# ----------------------------------------------------------------------------- optimisation
def make_optimization(params: list[torch.nn.Parameter], config: Any, num_training_steps: int) -> tuple[Any, Any]:
    """AdamW over the trainable ``params`` and its ``transformers.get_scheduler`` schedule, from a
    trainer config's ``learning_rate``, ``weight_decay``, ``adam_beta1`` / ``adam_beta2``,
    ``lr_scheduler_type`` and ``warmup_ratio`` (``ceil(warmup_ratio * steps)`` warm-up steps)."""
    from transformers import get_scheduler

    if not params:
        raise ValueError("the policy has no trainable parameters")
    optimizer = torch.optim.AdamW(
        params, lr=config.learning_rate, weight_decay=config.weight_decay, betas=(config.adam_beta1, config.adam_beta2)
    )
    scheduler = get_scheduler(
        config.lr_scheduler_type,
        optimizer,
        num_warmup_steps=math.ceil(config.warmup_ratio * num_training_steps),
        num_training_steps=num_training_steps,
    )
    return optimizer, scheduler


# ----------------------------------------------------------------------------- result
def preview_fields(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """The greedy-preview summaries before / after a training stage as flat ``metrics.json`` fields:
    ``preview_format_rate_{before,after}``, ``preview_accuracy_{before,after}`` and ``preview_n``."""
    out: dict[str, Any] = {}
    for name, summary in (("before", before), ("after", after)):
        if summary:
            out[f"preview_format_rate_{name}"] = summary["format_rate"]
            out[f"preview_accuracy_{name}"] = summary["war"]
            out["preview_n"] = summary["n"]
    return out


@dataclass
class TrainResult:
    """What a trainer returns (SFT and GRPO alike)."""

    output_dir: str
    """The stage folder (metrics.jsonl, tb/, checkpoints/, train_config.json)."""
    model_dir: str
    """Where the trained policy was saved (``load_policy`` reads it)."""
    steps: int
    """Optimizer steps (SFT) or rollout steps (GRPO) of the whole run, those before a resume included."""
    resumed_from: str | None
    """The checkpoint this call resumed from, or None for a fresh start."""
    seconds: float
    """Wall seconds of this call."""
    history: list[dict[str, Any]] = field(default_factory=list)
    """The logged metrics rows of the whole run (from metrics.jsonl, so steps before a resume too)."""

    @property
    def final_metrics(self) -> dict[str, Any]:
        """The last logged row (empty when nothing was logged)."""
        return self.history[-1] if self.history else {}
