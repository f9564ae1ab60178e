"""r1omni.grpo.policy_loss equals the loss trl 1.16's GRPOTrainer computes (its own code path).

trl's ``GRPOTrainer._compute_loss`` is called on a trainer object built without ``__init__``
(no model, no dataset): only the attributes ``_compute_loss`` reads are set, from a real
``GRPOConfig`` exactly as ``GRPOTrainer.__init__`` sets them, and its per-token log-prob
method is replaced by one returning our tensors. Loss, gradient and logged metrics are
compared for every loss type at several KL weights (beta 0, R1-Omni's 0.04, 0.1 and 1.0),
with clipping active on both sides.
"""

from __future__ import annotations

import types
from collections import defaultdict

import pytest
import torch
from accelerate import Accelerator
from trl import GRPOConfig, GRPOTrainer

from r1omni.grpo import policy_loss, policy_loss_and_stats

# trl's own GRPOConfig warns about a renamed TrainingArguments field; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:`gradient_checkpointing` is deprecated:FutureWarning")

B, T, MAX_COMPLETION_LENGTH = 6, 5, 9  # the config's limit is wider than this batch's T
BETA, EPS_LOW, EPS_HIGH = 0.04, 0.2, 0.28
BETAS = (0.0, BETA, 0.1, 1.0)  # the KL term must weigh exactly beta, whatever beta is


def _trl_trainer(tmp_path, loss_type: str, use_bias_correction_kl: bool, beta: float = BETA) -> GRPOTrainer:
    args = GRPOConfig(
        output_dir=str(tmp_path), use_cpu=True, bf16=False, report_to="none",
        loss_type=loss_type, beta=beta, epsilon=EPS_LOW, epsilon_high=EPS_HIGH,
        max_completion_length=MAX_COMPLETION_LENGTH, num_generations=2,
        per_device_train_batch_size=2, use_bias_correction_kl=use_bias_correction_kl,
    )  # fmt: skip
    trainer = object.__new__(GRPOTrainer)
    # The attributes GRPOTrainer.__init__ derives from args and _compute_loss reads.
    trainer.args = args
    trainer.loss_type = args.loss_type
    trainer.beta = args.beta
    trainer.epsilon_low = args.epsilon
    trainer.epsilon_high = args.epsilon_high if args.epsilon_high is not None else args.epsilon
    trainer.max_completion_length = args.max_completion_length
    trainer.importance_sampling_level = args.importance_sampling_level
    trainer.off_policy_mask_threshold = args.off_policy_mask_threshold
    trainer.top_entropy_quantile = args.top_entropy_quantile
    trainer.entropy_coef = args.entropy_coef
    trainer.use_adaptive_entropy = False
    trainer._entropy_bonus_enabled = args.entropy_coef != 0.0
    trainer.use_vllm = args.use_vllm
    trainer.vllm_importance_sampling_correction = args.vllm_importance_sampling_correction
    trainer.aux_loss_enabled = False  # a dense (non-MoE) model
    trainer.current_gradient_accumulation_steps = 1
    trainer.accelerator = Accelerator(cpu=True)
    trainer.model = types.SimpleNamespace(training=True)
    trainer._metrics = {"train": defaultdict(list), "eval": defaultdict(list)}
    return trainer


def _inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    logp = (-3 * torch.rand(B, T, generator=g)).requires_grad_()
    # Old and reference policies differ enough that both clip sides are hit.
    old_logp = logp.detach() + 0.6 * torch.randn(B, T, generator=g)
    ref_logp = logp.detach() + 0.5 * torch.randn(B, T, generator=g)
    advantages = torch.randn(B, generator=g)
    lengths = torch.tensor([5, 1, 3, 5, 2, 4])
    mask = (torch.arange(T)[None, :] < lengths[:, None]).long()  # (B, T), ragged
    return logp, old_logp, ref_logp, advantages, mask


def _trl_loss(trainer, logp, old_logp, ref_logp, advantages, mask):
    def fake_logps(self, model, input_ids, attention_mask, logits_to_keep, **kwargs):
        assert logits_to_keep == T
        return logp, torch.zeros_like(logp), None  # (logps, entropies, aux_loss)

    trainer._get_per_token_logps_and_entropies = types.MethodType(fake_logps, trainer)
    inputs = {
        "prompt_ids": torch.ones(B, 3, dtype=torch.long),
        "prompt_mask": torch.ones(B, 3, dtype=torch.long),
        "completion_ids": torch.ones(B, T, dtype=torch.long),
        "completion_mask": mask,
        "advantages": advantages,
        "old_per_token_logps": old_logp,
        "ref_per_token_logps": ref_logp,
        "num_items_in_batch": mask.sum(),
    }
    return trainer._compute_loss(None, inputs)


@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("use_bias_correction_kl", [False, True])
@pytest.mark.parametrize("loss_type", ["grpo", "dapo", "dr_grpo"])
def test_policy_loss_matches_trl(tmp_path, loss_type, use_bias_correction_kl, beta):
    trainer = _trl_trainer(tmp_path, loss_type, use_bias_correction_kl, beta)
    for seed in range(3):
        logp, old_logp, ref_logp, advantages, mask = _inputs(seed)
        expected = _trl_loss(trainer, logp, old_logp, ref_logp, advantages, mask)
        (expected_grad,) = torch.autograd.grad(expected, logp)

        ours, stats = policy_loss_and_stats(
            logp, old_logp, ref_logp, advantages, mask, beta=beta, epsilon_low=EPS_LOW,
            epsilon_high=EPS_HIGH, loss_type=loss_type, max_completion_length=MAX_COMPLETION_LENGTH,
            use_bias_correction_kl=use_bias_correction_kl,
        )  # fmt: skip
        (ours_grad,) = torch.autograd.grad(ours, logp)

        torch.testing.assert_close(ours, expected, rtol=0, atol=1e-6)
        torch.testing.assert_close(ours_grad, expected_grad, rtol=0, atol=1e-6)
        logged = {k: v[-1] for k, v in trainer._metrics["train"].items()}
        keys = ("kl",) * (beta != 0) + ("clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean")
        for key in keys:  # trl logs no kl when beta == 0
            assert stats[key].item() == pytest.approx(logged[key], abs=1e-6), key
        # The inputs really exercise clipping on both sides.
        assert logged["clip_ratio/low_mean"] > 0 and logged["clip_ratio/high_mean"] > 0


def test_dr_grpo_uses_the_configured_length_not_the_batch_width(tmp_path):
    trainer = _trl_trainer(tmp_path, "dr_grpo", False)
    logp, old_logp, ref_logp, advantages, mask = _inputs(0)
    expected = _trl_loss(trainer, logp, old_logp, ref_logp, advantages, mask)
    kwargs = dict(beta=BETA, epsilon_low=EPS_LOW, epsilon_high=EPS_HIGH, loss_type="dr_grpo")
    with_limit = policy_loss(
        logp, old_logp, ref_logp, advantages, mask, max_completion_length=MAX_COMPLETION_LENGTH, **kwargs
    )
    batch_width = policy_loss(logp, old_logp, ref_logp, advantages, mask, **kwargs)
    torch.testing.assert_close(with_limit, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(batch_width * T / MAX_COMPLETION_LENGTH, expected, rtol=0, atol=1e-6)
    assert not torch.allclose(batch_width, expected)


def test_on_policy_old_logp_none_matches_trl(tmp_path):
    """num_iterations == 1: trl uses logp.detach() when no old log-probs are given."""
    trainer = _trl_trainer(tmp_path, "grpo", False)
    logp, _, ref_logp, advantages, mask = _inputs(1)
    expected = _trl_loss(trainer, logp, None, ref_logp, advantages, mask)
    ours = policy_loss(logp, None, ref_logp, advantages, mask, beta=BETA, epsilon_low=EPS_LOW,
                       epsilon_high=EPS_HIGH, loss_type="grpo")  # fmt: skip
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-6)
