"""What the GRPO loop logs, and what notebook 02 records.

Glossary of the per-step metrics in ``metrics.jsonl`` / TensorBoard (names follow trl where it
has one):

- ``reward``: mean total reward (weighted sum over reward functions) of all completions.
- ``reward_std``: mean over groups of the within-group std of the total reward.
- ``rewards/<name>/mean``, ``rewards/<name>/std``: mean and std of each reward function.
- ``frac_reward_zero_std``: fraction of groups whose completions all got the same total reward;
  those groups have zero advantage and teach nothing (a plateau signal).
- ``completions/mean_length``, ``completions/min_length``, ``completions/max_length``:
  completion length in tokens (up to and including eos).
- ``completions/clipped_ratio``: fraction of completions that hit max_completion_length
  without eos.
- ``kl``: mean per-token k3 estimate of KL(policy || reference); 0 when beta == 0 (there is
  no reference model then) unless ``track_kl`` keeps one for the logs.
- ``clip_ratio``: fraction of completion tokens whose ratio was clipped (0 when num_iterations
  == 1: the ratio is exactly 1).
- ``entropy``: mean per-token entropy of the policy over completion tokens (nats).
- ``loss``: the GRPO objective being minimised (can be ~0 or negative: it is not a fit error).
- ``learning_rate``: lr after the step's last update.
- ``grad_norm``: gradient norm before clipping (last update of the step).
- ``step_time``: wall seconds of the step (generation + rewards + updates).
- ``epoch``: fractional passes over the prompts so far.

Each row of ``samples.jsonl`` (every ``sample_log_steps`` steps, the first
``num_samples_logged`` completions of the step; :func:`sample_rows`) holds ``step``,
``prompt_id``, ``label``, ``completion`` (the decoded text), ``completion_tokens`` (its length in
tokens, up to and including eos), ``truncated`` (it hit max_completion_length without eos),
one column per reward function (its unweighted reward) and ``advantage`` (the advantage the loss
used for it: from the weighted total reward, scaled as ``scale_rewards`` says).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from r1omni.train.loop import TrainResult, preview_fields

#: The keys every GRPO metrics row carries (``rewards/<name>/*`` come in addition, per function).
GRPO_METRIC_KEYS: tuple[str, ...] = (
    "step",
    "epoch",
    "loss",
    "reward",
    "reward_std",
    "frac_reward_zero_std",
    "completions/mean_length",
    "completions/min_length",
    "completions/max_length",
    "completions/clipped_ratio",
    "kl",
    "clip_ratio",
    "entropy",
    "learning_rate",
    "grad_norm",
    "step_time",
)


def reward_metric_keys(names: list[str]) -> list[str]:
    """``rewards/<name>/mean`` and ``rewards/<name>/std`` for each reward function name."""
    return [f"rewards/{n}/{s}" for n in names for s in ("mean", "std")]


def step_metrics(
    *,
    total: torch.Tensor,
    rewards: torch.Tensor,
    names: Sequence[str],
    num_generations: int,
    lengths: torch.Tensor,
    clipped: torch.Tensor,
    loss: float,
    kl: float,
    clip_ratio: float,
    entropy: float,
    learning_rate: float,
    grad_norm: float | None,
    epoch: float,
    step_time: float,
) -> dict[str, float]:
    """One step's row (see the glossary) from the gathered rewards of every process.

    total (N,) weighted total reward, rewards (N, F) per function, lengths / clipped (N,) of the
    N = processes x prompts x G completions; the rest are already reduced scalars.
    """
    groups = total.view(-1, num_generations)  # (N / G, G)
    group_std = groups.std(1)
    row = {
        "epoch": epoch,
        "loss": loss,
        "reward": float(total.mean()),
        "reward_std": float(group_std.mean()),
        "frac_reward_zero_std": float((group_std < 1e-6).float().mean()),
        "completions/mean_length": float(lengths.mean()),
        "completions/min_length": float(lengths.min()),
        "completions/max_length": float(lengths.max()),
        "completions/clipped_ratio": float(clipped.mean()),
        "kl": kl,
        "clip_ratio": clip_ratio,
        "entropy": entropy,
        "learning_rate": learning_rate,
        "grad_norm": float(grad_norm) if grad_norm is not None else float("nan"),
        "step_time": step_time,
    }
    for j, name in enumerate(names):
        row[f"rewards/{name}/mean"] = float(rewards[:, j].mean())
        row[f"rewards/{name}/std"] = float(rewards[:, j].std())
    return row


def sample_rows(
    texts: Sequence[str],
    records: Sequence[dict],
    rewards: torch.Tensor,
    advantages: torch.Tensor,
    names: Sequence[str],
    num_generations: int,
    n: int,
    lengths: torch.Tensor | None = None,
    truncated: torch.Tensor | None = None,
) -> list[dict[str, Any]]:
    """The first ``n`` completions of a step with their prompt id, label, rewards and advantage
    (see the glossary above); ``lengths`` (N,) completion tokens and ``truncated`` (N,) bool add
    ``completion_tokens`` and ``truncated`` to each row."""
    rows = []
    for i in range(min(n, len(texts))):
        rec = records[i // num_generations]
        row = {"prompt_id": rec.get("id", i // num_generations), "label": rec.get("label"), "completion": texts[i]}
        if lengths is not None:
            row["completion_tokens"] = int(lengths[i])
        if truncated is not None:
            row["truncated"] = bool(truncated[i])
        row.update({name: float(rewards[i, j]) for j, name in enumerate(names)})
        row["advantage"] = float(advantages[i])
        rows.append(row)
    return rows


#: Share of a run's first-step completions cut at max_completion_length that triggers a warning.
TRUNCATION_WARNING = 0.5


def warn_if_truncating(clipped_ratio: float, max_completion_length: int) -> None:
    """Warn when most sampled completions hit ``max_completion_length`` without eos: an answer cut
    before ``</answer>`` earns format 0 (and accuracy 0), so GRPO rewards short completions instead
    of right ones and can collapse the format (measured: docs/tuning.md)."""
    if clipped_ratio > TRUNCATION_WARNING:
        warnings.warn(
            f"GRPO: {clipped_ratio:.0%} of the first step's completions hit "
            f"max_completion_length={max_completion_length} without eos; the rewards punish "
            "truncation, not wrong answers (raise max_completion_length or set "
            "mask_truncated_completions=True)",
            RuntimeWarning,
            stacklevel=3,
        )


def grpo_stage_metrics(
    result: TrainResult, before: dict[str, Any] | None = None, after: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``metrics.json`` entry of notebook 02: the run (first / last rewards, KL, length) and
    the greedy preview summaries ``before`` / ``after`` RL (``r1omni.evaluate.preview_generations``).

    Works for a rerun of a finished stage (``resume=True``: no step runs, the history comes from
    metrics.jsonl); ``train_time_s`` sums the logged step times of the whole run, ``seconds``
    is this call's. Raises when the stage has no logged step (metrics.jsonl missing or empty).
    """
    history = result.history
    if not history:
        raise ValueError(
            f"{Path(result.output_dir) / 'metrics.jsonl'}: no logged GRPO step; "
            "rerun the stage with resume=False to train it afresh"
        )
    first, final, last10 = history[0], history[-1], history[-10:]
    return {
        "steps": result.steps,
        "seconds": result.seconds,
        "resumed_from": result.resumed_from,
        "train_time_s": sum(h.get("step_time", 0.0) for h in history),
        "reward_first": first["reward"],
        "reward_last": final["reward"],
        "reward_last10": sum(h["reward"] for h in last10) / len(last10),
        "kl_last": final["kl"],
        "frac_reward_zero_std_last": final["frac_reward_zero_std"],
        "completion_length_last": final["completions/mean_length"],
        **preview_fields(before, after),
    }
