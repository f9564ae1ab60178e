"""Supervised fine-tuning: R1-Omni's cold start (explained clips) and the label-only baseline.

- :mod:`r1omni.sft.config`: :class:`SFTConfig` (trl names), its presets and ``config_from_params``.
- :mod:`r1omni.sft.loss`: the completion-only cross-entropy.
- :mod:`r1omni.sft.trainer`: :func:`train_sft` and the stage's metrics.

``python -m r1omni.sft`` (or ``accelerate launch -m r1omni.sft``) trains from the command line.
"""

from r1omni.sft.config import LABEL_ONLY_PRESET, SFT_PRESETS, SFTConfig, config_from_params, preset_for_model
from r1omni.sft.loss import IGNORE_INDEX, all_token_labels, completion_loss, completion_nll
from r1omni.sft.mask_check import prompt_loss_check
from r1omni.sft.trainer import SFTResult, sft_stage_metrics, train_sft

__all__ = [
    "IGNORE_INDEX",
    "LABEL_ONLY_PRESET",
    "SFTConfig",
    "SFTResult",
    "SFT_PRESETS",
    "completion_loss",
    "completion_nll",
    "config_from_params",
    "preset_for_model",
    "sft_stage_metrics",
    "train_sft",
    "all_token_labels",
    "prompt_loss_check",
]
