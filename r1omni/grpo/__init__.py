"""RLVR with GRPO: R1-Omni's second stage.

- :mod:`r1omni.grpo.loss`: the math (advantages, log-probs, k3 KL, clipped surrogate, one
  aggregation per ``loss_type``), checked against trl's own loss.
- :mod:`r1omni.grpo.config`: :class:`GRPOConfig` (trl names) and its presets.
- :mod:`r1omni.grpo.data`: prompt records and their rewards.
- :mod:`r1omni.grpo.policy`: the policy as the loop sees it (omni model or text LM).
- :mod:`r1omni.grpo.trainer`: :func:`train_grpo`, the loop on accelerate.
- :mod:`r1omni.grpo.metrics`: what each logged metric means, and the stage's summary.

``python -m r1omni.grpo`` (or ``accelerate launch -m r1omni.grpo``) trains from the command line.
"""

from r1omni.grpo.config import PRESETS, GRPOConfig, config_from_params, preset_for_model
from r1omni.grpo.loss import (
    LOSS_TYPES,
    aggregate_dapo,
    aggregate_dr_grpo,
    aggregate_grpo,
    clipped_surrogate,
    group_advantages,
    group_std,
    k3_kl,
    per_token_logps,
    policy_loss,
    policy_loss_and_stats,
    selective_log_softmax,
    token_entropy,
)
from r1omni.grpo.metrics import GRPO_METRIC_KEYS, grpo_stage_metrics, reward_metric_keys
from r1omni.grpo.policy import OmniPolicy, Rollout, TextPolicy, load_policy_adapter, make_tiny_text_policy
from r1omni.grpo.trainer import GRPOResult, train_grpo

__all__ = [
    "GRPO_METRIC_KEYS",
    "LOSS_TYPES",
    "PRESETS",
    "GRPOConfig",
    "GRPOResult",
    "OmniPolicy",
    "Rollout",
    "TextPolicy",
    "aggregate_dapo",
    "aggregate_dr_grpo",
    "aggregate_grpo",
    "clipped_surrogate",
    "config_from_params",
    "group_advantages",
    "group_std",
    "grpo_stage_metrics",
    "k3_kl",
    "load_policy_adapter",
    "make_tiny_text_policy",
    "per_token_logps",
    "policy_loss",
    "policy_loss_and_stats",
    "preset_for_model",
    "reward_metric_keys",
    "selective_log_softmax",
    "token_entropy",
    "train_grpo",
]
