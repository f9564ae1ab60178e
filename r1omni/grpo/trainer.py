"""The GRPO loop (R1-Omni's RLVR stage) on ``accelerate``.

One step, per process (``B = per_device_train_batch_size`` prompts per micro-batch, ``A =
gradient_accumulation_steps`` micro-batches, ``G = num_generations``):

1. Rollout. For each micro-batch: sample ``G`` completions per prompt with the policy
   (``model.generate``), score them with every reward function (manifest columns such as
   ``label`` and ``cues`` arrive as keyword arguments, trl style), and, before any update,
   record ``old_logp`` (the sampling policy; only when ``num_iterations > 1``) and ``ref_logp``
   (the frozen reference = a deep copy of the initial policy; skipped when ``beta == 0``).
2. Advantages ``A_i = (r_i - mean_group) / (std_group + 1e-4)`` over the rewards of all
   processes (:func:`r1omni.grpo.loss.group_advantages`).
3. ``num_iterations`` optimizer updates, each accumulating the A micro-batches'
   :func:`r1omni.grpo.loss.policy_loss` gradients (synchronised across processes on the last one).

Data order is :func:`r1omni.train.loop.data_order`: step ``s`` consumes positions
``[s * P, (s + 1) * P)`` of the seed's endless stream, with ``P`` prompts per step over all
processes. A run resumed from ``checkpoints/step-N`` (model, optimizer, scheduler, every rank's
RNG) therefore continues exactly as an uninterrupted one would, without losing or repeating a
prompt; a resume whose settings, data or starting policy differ is refused
(:func:`r1omni.train.loop.check_resume`). What each logged metric means: :mod:`r1omni.grpo.metrics`.

Scale out with ``accelerate launch --config_file configs/accelerate/<x>.yaml -m r1omni.grpo
--config cfg.json --policy DIR --data DIR --output DIR``.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from r1omni.grpo.config import GRPOConfig
from r1omni.grpo.data import load_records, score
from r1omni.grpo.loss import group_advantages, per_token_logps, policy_loss_and_stats, token_entropy
from r1omni.grpo.metrics import sample_rows, step_metrics, warn_if_truncating
from r1omni.grpo.policy import Rollout, load_policy_adapter
from r1omni.io import atomic_write_json
from r1omni.progress import progress_bar
from r1omni.rewards import get_reward_funcs, reward_name
from r1omni.train.checkpoint import load_distributed, save_distributed
from r1omni.train.loop import (
    TrainResult,
    check_device,
    check_resume,
    clear_checkpoints,
    data_order,
    make_accelerator,
    make_optimization,
    resume_key,
    resume_path,
    weights_checksum,
)
from r1omni.train.metrics_log import MetricsLogger, read_metrics

#: Settings that may change between a run and its resumption without changing the result.
NOT_IN_RESUME_KEY = (
    "logging_steps",
    "sample_log_steps",
    "num_samples_logged",
    "save_steps",
    "save_total_limit",
    "resume_from_checkpoint",
    "show_progress",
    "device",
    "feature_cache_dir",
    "preset",
)


@dataclass
class GRPOResult(TrainResult):
    """What :func:`train_grpo` returns (also written to ``<output_dir>/result.json``, less history):
    :class:`~r1omni.train.loop.TrainResult` plus every process's weights checksum."""

    rank_checksums: list[str] = field(default_factory=list)
    """sha256 of each process's final weights (all equal in a correct distributed run)."""


# ----------------------------------------------------------------------------- the loop
def _modalities(config: GRPOConfig, n: int, step: int, rank: int) -> list[str]:
    """Per-prompt modalities with seeded modality dropout ("av" -> "v" or "a")."""
    mods = [config.modalities] * n
    if config.modality_dropout > 0 and config.modalities == "av":
        rng = np.random.default_rng([config.seed, step, rank])
        mods = [("v" if rng.random() < 0.5 else "a") if rng.random() < config.modality_dropout else m for m in mods]
    return mods


def _sequence_logps(model, policy, ro: Rollout, temperature: float, accelerator):
    ids = torch.cat([ro.prompt_ids, ro.completion_ids], dim=1)  # (N, P + C)
    mask = torch.cat([ro.prompt_mask, ro.completion_mask], dim=1)  # (N, P + C)
    C = ro.completion_ids.size(1)
    with accelerator.autocast():  # only the C + 1 last positions are needed: position t predicts t + 1
        logits = model(**policy.forward_kwargs(ro.batch, ids, mask), logits_to_keep=C + 1).logits  # (N, C+1, V)
    return logits, per_token_logps(logits.float(), ro.completion_ids, temperature)  # (N, C)


def _rollout(
    pol, model, unwrapped, ref_model, recs: list[dict], mods: list[str], config: GRPOConfig, accelerator
) -> Rollout:
    """Sample G completions per prompt of one micro-batch; attach old_logp and ref_logp (no grad)."""
    with torch.no_grad():
        batch = pol.batch_to(pol.prompt_batch(recs, mods), accelerator.device)
        if batch["input_ids"].size(1) > config.max_prompt_length:
            raise ValueError(
                f"prompts of records {[r.get('id') for r in recs]} have {batch['input_ids'].size(1)} "
                f"tokens > max_prompt_length={config.max_prompt_length}"
            )
        with accelerator.autocast():
            ro = pol.generate(
                unwrapped,
                batch,
                max_new_tokens=config.max_completion_length,
                temperature=config.temperature,
                top_p=config.top_p,
                num_return_sequences=config.num_generations,
            )
        if config.num_iterations > 1:  # else on-policy: old_logp = logp.detach() inside the loss
            ro.old_logp = _sequence_logps(model, pol, ro, config.temperature, accelerator)[1]
        if ref_model is not None:
            ro.ref_logp = _sequence_logps(ref_model, pol, ro, config.temperature, accelerator)[1]
    return ro


def train_grpo(
    config: GRPOConfig,
    policy: Any,
    data: Any,
    output_dir: str | Path,
    *,
    callbacks: Sequence[Callable[[int, dict], None]] = (),
) -> GRPOResult:
    """Train ``policy`` (a saved policy dir, an omni preset name or a policy adapter) with GRPO
    on ``data`` (manifest / dir / records); write logs, checkpoints and ``model/`` to ``output_dir``.

    ``callbacks`` are called on every process after each step (and its checkpoint) as
    ``cb(step, info)`` with ``info = {"prompt_ids": [...global ids of the step...], "metrics": {...}}``;
    an exception raised there stops the run (used by the tests to simulate a kill).
    """
    from accelerate import DistributedDataParallelKwargs
    from accelerate.utils import DistributedType, gather_object, set_seed

    t_start = time.perf_counter()
    check_device(config.device, "GRPOConfig.device")
    set_seed(config.seed)
    output_dir = Path(output_dir)
    pol = load_policy_adapter(
        policy,
        seed=config.seed,
        use_feature_cache=config.use_feature_cache,
        feature_cache_dir=config.feature_cache_dir or str(output_dir / "feature_cache"),
    )
    # The omni model may skip a projector (modality dropout, "v"/"a" prompts): let DDP allow it.
    ddp = DistributedDataParallelKwargs(find_unused_parameters=pol.kind == "omni")
    accelerator = make_accelerator(config.device, config.bf16, [ddp])
    rank, world, main = accelerator.process_index, accelerator.num_processes, accelerator.is_main_process
    set_seed(config.seed, device_specific=True)  # seed + rank: each process samples its own noise
    ck_dir = output_dir / "checkpoints"
    model = pol.model.to(accelerator.device)
    ref_model = None
    if config.beta != 0 or config.track_kl:
        ref_model = copy.deepcopy(model).eval().requires_grad_(False).to(accelerator.device)
    records = load_records(data, pol.kind, config.split, config.max_prompts)
    reward_funcs = get_reward_funcs(config.reward_funcs)
    names = [reward_name(spec) for spec in config.reward_funcs]
    weights = torch.tensor(config.reward_weights or [1.0] * len(reward_funcs))
    total_steps = config.total_steps(len(records), world)
    per_proc = config.prompts_per_step_per_process
    per_step = per_proc * world
    G, A, B = config.num_generations, config.gradient_accumulation_steps, config.per_device_train_batch_size
    key = resume_key(config.to_dict(), ignore=NOT_IN_RESUME_KEY, records=records, model=model, num_processes=world)

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer, scheduler = make_optimization(params, config, num_training_steps=total_steps * config.num_iterations)
    model, optimizer = accelerator.prepare(model, optimizer)  # the scheduler is stepped by hand, once per update
    unwrapped = accelerator.unwrap_model(model)
    sharded = accelerator.distributed_type in (DistributedType.DEEPSPEED, DistributedType.FSDP)

    # --- resume ----------------------------------------------------------------------
    start_step, resumed_from = 0, None
    path = resume_path(config.resume_from_checkpoint, ck_dir)
    if path is None and main:
        clear_checkpoints(ck_dir)  # "never" or no checkpoint: a fresh run must not mix with old ones
    accelerator.wait_for_everyone()
    if path is not None:
        state = load_distributed(
            accelerator, path, model=unwrapped, optimizer=optimizer, scheduler=scheduler, sharded=sharded
        )
        check_resume(state.get("resume_key"), key, path)
        start_step, resumed_from = int(state["step"]), str(path)
    logger = MetricsLogger(output_dir, enabled=main, resume_step=start_step)
    if main:
        atomic_write_json(output_dir / "train_config.json", config.to_dict())  # config.json: record_stage

    bar = progress_bar(total=total_steps, initial=start_step, desc="GRPO", disable=not (main and config.show_progress))
    try:
        for step in range(start_step, total_steps):
            t0 = time.perf_counter()
            order = data_order(len(records), config.seed, step * per_step, per_step)  # global, this step
            mine = order[rank * per_proc : (rank + 1) * per_proc]
            mods = _modalities(config, per_proc, step, rank)

            # 1. rollouts ------------------------------------------------------------------
            rollouts, texts_all, recs_all = [], [], []
            for a in range(A):
                idx = mine[a * B : (a + 1) * B]
                recs = [records[i] for i in idx]
                ro = _rollout(pol, model, unwrapped, ref_model, recs, mods[a * B : (a + 1) * B], config, accelerator)
                masked = ro.completion_ids.masked_fill(ro.completion_mask == 0, pol.pad_token_id)
                texts_all += pol.decode(masked)
                recs_all += recs
                rollouts.append(ro)
            rewards = score(reward_funcs, names, texts_all, recs_all, G)  # (A*B*G, F)
            total = (rewards * weights).sum(-1)  # (A*B*G,)

            # 2. advantages over all processes -----------------------------------------------
            g_rewards = accelerator.gather(rewards.to(accelerator.device)).cpu()  # (world*A*B*G, F)
            g_total = (g_rewards * weights).sum(-1)
            g_adv = group_advantages(g_total, G, scale=config.scale_rewards)
            adv = g_adv[rank * len(total) : (rank + 1) * len(total)]
            n_seq = B * G
            for a, ro in enumerate(rollouts):
                ro.advantages = adv[a * n_seq : (a + 1) * n_seq].to(accelerator.device)
                ro.loss_mask = ro.completion_mask.float()
                if config.mask_truncated_completions:
                    ro.loss_mask = ro.loss_mask * (~ro.truncated(pol.eos_token_id)).float().unsqueeze(1)
            num_items = sum(float(ro.loss_mask.sum()) for ro in rollouts)

            # 3. updates -----------------------------------------------------------------------
            loss_sum, kl_sum, clip_sum, ent_sum, n_terms = 0.0, 0.0, 0.0, 0.0, 0
            for _ in range(config.num_iterations):
                for a, ro in enumerate(rollouts):
                    sync = a == A - 1
                    with contextlib.nullcontext() if sync else accelerator.no_sync(model):
                        logits, logp = _sequence_logps(model, pol, ro, config.temperature, accelerator)
                        loss, stats = policy_loss_and_stats(
                            logp,
                            ro.old_logp,
                            ro.ref_logp,
                            ro.advantages,
                            ro.loss_mask,
                            beta=config.beta,
                            epsilon_low=config.epsilon_low,
                            epsilon_high=config.epsilon_high,
                            loss_type=config.loss_type,
                            max_completion_length=config.max_completion_length,
                            num_items=max(num_items, 1.0) if config.loss_type == "dapo" else None,
                        )
                        scale = 1.0 if config.loss_type == "dapo" else 1.0 / A
                        accelerator.backward(loss * scale)
                    with torch.no_grad():
                        C = ro.completion_ids.size(1)
                        ent = token_entropy(logits[:, -C - 1 : -1].float() / config.temperature)  # (N, C)
                        m = ro.completion_mask.float()
                        ent_sum += float((ent * m).sum() / m.sum().clamp(min=1))
                    loss_sum += float(loss.detach()) * scale
                    kl_sum += float(stats.get("kl", torch.tensor(0.0)))
                    clip_sum += float(stats["clip_ratio/region_mean"])
                    n_terms += 1
                grad_norm = (
                    accelerator.clip_grad_norm_(params, config.max_grad_norm) if config.max_grad_norm > 0 else None
                )
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)

            # 4. metrics, samples, checkpoint ----------------------------------------------------
            lengths = torch.cat([ro.completion_mask.sum(1).float() for ro in rollouts])  # (A*B*G,)
            clipped = torch.cat([ro.truncated(pol.eos_token_id).float() for ro in rollouts])
            local = torch.tensor(
                [loss_sum / config.num_iterations, kl_sum / n_terms, clip_sum / n_terms, ent_sum / n_terms],
                device=accelerator.device,
            )
            loss_m, kl_m, clip_m, ent_m = accelerator.reduce(local, reduction="mean").cpu().tolist()
            metrics = step_metrics(
                total=g_total,
                rewards=g_rewards,
                names=names,
                num_generations=G,
                lengths=accelerator.gather(lengths.to(accelerator.device)).cpu(),
                clipped=accelerator.gather(clipped.to(accelerator.device)).cpu(),
                loss=loss_m,
                kl=kl_m,
                clip_ratio=clip_m,
                entropy=ent_m,
                learning_rate=float(scheduler.get_last_lr()[0]),
                grad_norm=grad_norm,
                epoch=(step + 1) * per_step / len(records),
                step_time=time.perf_counter() - t0,
            )
            if step == start_step and main:
                warn_if_truncating(metrics["completions/clipped_ratio"], config.max_completion_length)
            if (step + 1) % config.logging_steps == 0 or step + 1 == total_steps:
                logger.log(step + 1, metrics)
            if config.sample_log_steps and ((step + 1) % config.sample_log_steps == 0 or step == start_step):
                rows = sample_rows(
                    texts_all, recs_all, rewards, adv, names, G, config.num_samples_logged, lengths, clipped.bool()
                )
                logger.log_samples(step + 1, rows)
            if (config.save_steps and (step + 1) % config.save_steps == 0) or step + 1 == total_steps:
                save_distributed(
                    accelerator,
                    ck_dir,
                    step + 1,
                    model=unwrapped,
                    optimizer=optimizer,
                    scheduler=scheduler,
                    save_total_limit=config.save_total_limit,
                    sharded=sharded,
                    trainer_state={"resume_key": key, "prompts_seen": (step + 1) * per_step, "epoch": metrics["epoch"]},
                )
            bar.update(1)
            bar.set_postfix(reward=f"{metrics['reward']:.2f}", kl=f"{kl_m:.3f}")
            info = {"prompt_ids": [records[i].get("id", i) for i in order], "metrics": metrics}
            for cb in callbacks:
                cb(step + 1, info)
    finally:
        bar.close()
        logger.close()

    # --- final model --------------------------------------------------------------------
    model_dir = output_dir / "model"
    accelerator.wait_for_everyone()
    checksums = gather_object([weights_checksum(unwrapped)])
    if main:
        pol.save(model_dir, unwrapped)
    accelerator.wait_for_everyone()
    # The whole run's logged rows, steps before a resume included (a resumed run that was
    # already finished runs no step, yet its result still describes the training).
    history = read_metrics(output_dir)
    result = GRPOResult(
        output_dir=str(output_dir),
        model_dir=str(model_dir),
        steps=total_steps,
        resumed_from=resumed_from,
        seconds=time.perf_counter() - t_start,
        history=history,
        rank_checksums=list(checksums),
    )
    if main:
        atomic_write_json(output_dir / "result.json", {k: v for k, v in result.__dict__.items() if k != "history"})
    accelerator.wait_for_everyone()
    return result
