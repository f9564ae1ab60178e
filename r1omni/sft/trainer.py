"""Supervised fine-tuning of the omni model: R1-Omni's cold start and the label-only baseline.

The cold start (EMER-SFT in the paper) teaches the model the answer format
``<think> reasoning </think><answer> emotion </answer>`` on a small set of explained clips
(``coldstart.jsonl``); the label-only baseline (MAFW-DFEW-SFT) trains on the full train split
with ``<answer>label</answer>`` targets. Both minimise the completion-only cross-entropy of
:mod:`r1omni.sft.loss`::

    config = SFTConfig.from_preset("course")
    result = train_sft(config, "tiny", "data/synthemo/coldstart.jsonl", "runs/x/02_cold_start_sft")

Data order is a pure function of the seed (:func:`r1omni.train.loop.batch_plan`), so a run
resumed from ``checkpoints/step-N`` continues at step N+1 with exactly the batches an
uninterrupted run would have used.

Logged per step (``metrics.jsonl``): ``loss`` (completion-token cross-entropy, nats/token),
``learning_rate``, ``grad_norm`` (before clipping), ``num_tokens`` (completion tokens of the
global batch), ``epoch`` and ``step_time`` (seconds).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from r1omni.data.dataset import ClipCache, ManifestDataset, OmniCollator
from r1omni.io import atomic_write_json
from r1omni.model import FeatureCache, load_initial_policy, save_policy
from r1omni.progress import progress_bar
from r1omni.sft.config import SFTConfig
from r1omni.sft.loss import IGNORE_INDEX, completion_nll
from r1omni.train.checkpoint import load_distributed, save_distributed
from r1omni.train.loop import (
    TrainResult,
    batch_plan,
    check_device,
    check_resume,
    clear_checkpoints,
    make_accelerator,
    make_optimization,
    preview_fields,
    resume_key,
    resume_path,
)
from r1omni.train.metrics_log import MetricsLogger, read_metrics

#: Settings that may change between a run and its resumption without changing the result.
NOT_IN_RESUME_KEY = (
    "show_progress",
    "logging_steps",
    "save_steps",
    "save_total_limit",
    "resume_from_checkpoint",
    "device",
    "feature_cache_dir",
    "clip_cache_dir",
    "preset",
)


@dataclass
class SFTResult(TrainResult):
    """What :func:`train_sft` returns: :class:`~r1omni.train.loop.TrainResult` plus the losses."""

    losses: list[float] = field(default_factory=list)
    """Loss of every step run in this call (empty when a finished run is only reloaded)."""

    @property
    def final_loss(self) -> float:
        """Completion-token loss of the run's last step."""
        return float(self.final_metrics.get("loss", float("nan")))


def train_sft(
    config: SFTConfig,
    policy: Any,
    manifest: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    model_dir: str | os.PathLike | None = None,
) -> SFTResult:
    """Fine-tune ``policy`` on ``manifest`` with the completion-only loss; save it with ``save_policy``.

    Args:
        config: hyper-parameters (``SFTConfig.from_preset("course")`` etc.).
        policy: a saved policy directory, a model preset name, or a ``(model, processor)`` pair
            (trained in place).
        manifest: the training manifest (``coldstart.jsonl`` or ``train.jsonl``).
        output_dir: receives ``metrics.jsonl`` (one JSON line per logged step), ``tb/``
            (TensorBoard), ``checkpoints/step-N/``, ``train_config.json`` and (by default)
            ``feature_cache/``.
        model_dir: where the final policy goes (default ``<output_dir>/model``).
    """
    from accelerate.utils import set_seed

    start_time = time.perf_counter()
    check_device(config.device, "SFTConfig.device")
    output_dir = Path(output_dir)
    model_dir = Path(model_dir) if model_dir is not None else output_dir / "model"
    ck_dir = output_dir / "checkpoints"
    accelerator = make_accelerator(config.device, config.bf16)
    set_seed(config.seed)
    model, processor = load_initial_policy(policy, seed=config.seed)
    model.set_trainable(towers=False, projectors=config.train_projectors, lm=config.train_lm)
    dataset = ManifestDataset(
        manifest,
        target=config.target,
        modalities=config.modalities,
        limit=config.limit or None,
        cache=ClipCache(config.clip_cache_dir or None),
    )
    collate = OmniCollator(processor, with_targets=True)
    world, rank, main = accelerator.num_processes, accelerator.process_index, accelerator.is_main_process
    global_batch = config.per_step_per_process * world
    plan = batch_plan(
        len(dataset),
        global_batch,
        num_train_epochs=config.num_train_epochs,
        max_steps=config.max_steps,
        seed=config.seed,
    )
    total_steps = len(plan)
    key = resume_key(
        config.to_dict(), ignore=NOT_IN_RESUME_KEY, records=dataset.records, model=model, num_processes=world
    )
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer, scheduler = make_optimization(params, config, num_training_steps=total_steps)
    model, optimizer = accelerator.prepare(model, optimizer)  # the scheduler is stepped by hand, once per step
    unwrapped = accelerator.unwrap_model(model)
    feature_cache = None
    if config.use_feature_cache:
        feature_cache = FeatureCache(config.feature_cache_dir or output_dir / "feature_cache")

    # --- resume ----------------------------------------------------------------------
    start_step, resumed_from = 0, None
    path = resume_path(config.resume_from_checkpoint, ck_dir)
    if path is None and main:
        clear_checkpoints(ck_dir)
    accelerator.wait_for_everyone()
    if path is not None:
        state = load_distributed(accelerator, path, model=unwrapped, optimizer=optimizer, scheduler=scheduler)
        check_resume(state.get("resume_key"), key, path)
        start_step, resumed_from = int(state["step"]), str(path)
    logger = MetricsLogger(output_dir, enabled=main, resume_step=start_step)
    if main:
        atomic_write_json(
            output_dir / "train_config.json",
            {
                "sft": config.to_dict(),
                "manifest": str(manifest),
                "num_examples": len(dataset),
                "global_batch": global_batch,
                "total_steps": total_steps,
                "num_processes": world,
            },
        )

    losses: list[float] = []
    bar = progress_bar(
        range(start_step, total_steps),
        initial=start_step,
        total=total_steps,
        desc="sft",
        disable=not (config.show_progress and accelerator.is_local_main_process),
    )
    model.train()
    try:
        for step in bar:
            t0 = time.perf_counter()
            shard = plan[step][rank::world]  # this process's share of the global batch
            B = config.per_device_train_batch_size
            batches = [
                _micro_batch(dataset, shard[i : i + B], collate, feature_cache, unwrapped).to(accelerator.device)
                for i in range(0, len(shard), B)
            ]
            step_nll, num_tokens = _accumulate_gradients(accelerator, model, batches)
            grad_norm = accelerator.clip_grad_norm_(params, config.max_grad_norm) if config.max_grad_norm > 0 else None
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            loss = (accelerator.reduce(step_nll, "sum") / num_tokens).item()
            losses.append(loss)
            done = step + 1
            bar.set_postfix(loss=f"{loss:.3f}")
            if done % config.logging_steps == 0 or done == total_steps:
                logger.log(
                    done,
                    {
                        "loss": loss,
                        "learning_rate": scheduler.get_last_lr()[0],
                        "grad_norm": float(grad_norm) if grad_norm is not None else float("nan"),
                        "num_tokens": num_tokens,
                        "epoch": done * global_batch / len(dataset),
                        "step_time": time.perf_counter() - t0,
                    },
                )
            if (config.save_steps and done % config.save_steps == 0) or done == total_steps:
                save_distributed(
                    accelerator,
                    ck_dir,
                    done,
                    model=unwrapped,
                    optimizer=optimizer,
                    scheduler=scheduler,
                    trainer_state={"resume_key": key, "loss": loss},
                    save_total_limit=config.save_total_limit,
                )
    finally:
        bar.close()
        logger.close()
    accelerator.wait_for_everyone()
    if main:
        save_policy(model_dir, unwrapped, processor)
    accelerator.wait_for_everyone()
    history = read_metrics(output_dir) if (output_dir / "metrics.jsonl").is_file() else []
    return SFTResult(
        output_dir=str(output_dir),
        model_dir=str(model_dir),
        steps=total_steps,
        resumed_from=resumed_from,
        seconds=time.perf_counter() - start_time,
        history=history,
        losses=losses,
    )


def _micro_batch(dataset: ManifestDataset, indices: list[int], collate: OmniCollator, feature_cache: Any, model: Any):
    """Collate ``dataset[indices]``; with a feature cache the frozen towers run once per clip, ever."""
    items = [dataset[i] for i in indices]
    batch = collate(items)
    if feature_cache is not None:
        batch = feature_cache.encode(model, batch, [it["clip"] for it in items])
    return batch


def _accumulate_gradients(accelerator: Any, model: torch.nn.Module, batches: list[Any]) -> tuple[torch.Tensor, int]:
    """Backward over this process's micro-batches so the gradient is that of sum(nll) / N, with N the
    completion tokens of the whole global batch (all micro-batches, all processes). Returns
    (this process's summed nll, N)."""
    local_tokens = sum(int((b["labels"][:, 1:] != IGNORE_INDEX).sum()) for b in batches)
    num_tokens = int(accelerator.reduce(torch.tensor(local_tokens, device=accelerator.device), "sum").item())
    world = accelerator.num_processes
    step_nll = torch.zeros((), device=accelerator.device)
    for j, batch in enumerate(batches):
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        last = j == len(batches) - 1
        with contextlib.nullcontext() if last else accelerator.no_sync(model):  # all-reduce once per step
            nll, _ = completion_nll(model(**inputs).logits, batch["labels"])
            # DDP averages gradients over processes: scale by `world` so the result is sum / N.
            accelerator.backward(nll * world / num_tokens)
        step_nll += nll.detach()
    return step_nll, num_tokens


def sft_stage_metrics(
    result: SFTResult, before: dict[str, Any] | None = None, after: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One SFT run's entry in notebook 01's ``metrics.json``: steps, final loss, times, and the
    greedy previews ``before`` / ``after`` it (``r1omni.evaluate.preview_generations`` summaries).

    ``train_time_s`` sums the logged step times of the whole run (steps before a resume too),
    ``seconds`` is this call's wall time."""
    return {
        "steps": result.steps,
        "final_loss": result.final_loss,
        "seconds": result.seconds,
        "train_time_s": sum(h.get("step_time", 0.0) for h in result.history),
        "resumed_from": result.resumed_from,
        **preview_fields(before, after),
    }
