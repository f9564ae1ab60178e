"""GRPO's math as small pure functions (DeepSeekMath's GRPO, as used by R1-Omni).

Notation (trl / GRPO paper names): a batch holds ``B = prompts x G`` completions, ``G =
num_generations`` per prompt, consecutive in the batch; ``T`` completion tokens (padded);
``logp`` = log pi_theta(o_t | q, o_<t), ``old_logp`` = log pi_theta_old (the policy that
sampled), ``ref_logp`` = log pi_ref (frozen reference); ``mask`` (B, T) is 1 on real
completion tokens.

The objective minimised (one term per token, then aggregated by ``loss_type``):

    ratio_t     = exp(logp_t - old_logp_t)
    surrogate_t = -min(ratio_t * A, clip(ratio_t, 1 - epsilon_low, 1 + epsilon_high) * A)
    kl_t        = exp(ref_logp_t - logp_t) - (ref_logp_t - logp_t) - 1          (k3 estimator)
    loss_t      = surrogate_t + beta * kl_t

:func:`policy_loss` is checked against trl 1.16's ``GRPOTrainer._compute_loss`` in
``tests/test_grpo_trl_equivalence.py``.
"""

from __future__ import annotations

from typing import Literal

import torch

from r1omni.settings import LOSS_TYPES, SCALE_REWARDS  # noqa: F401  (re-exported with the math)

Scale = Literal["group", "batch", "none"]
LossType = Literal["grpo", "dapo", "dr_grpo"]


# ----------------------------------------------------------------------------- advantages
def group_advantages(
    rewards: torch.Tensor, num_generations: int, scale: Scale = "group", eps: float = 1e-4
) -> torch.Tensor:
    """Group-relative advantages ``A_i = (r_i - mean_group(r)) / (std_group(r) + eps)``.

    ``rewards`` (B,) holds ``B / num_generations`` groups of consecutive completions. The mean
    is always the group's; the std (Bessel-corrected, ``n - 1``) is the group's for
    ``scale="group"`` (GRPO, R1-Omni), the whole batch's for ``"batch"`` (as trl), and no
    division at all for ``"none"`` (Dr. GRPO). A group whose rewards are all equal gets
    advantage 0 for every member. With one generation per prompt the std is taken as 0.

    >>> group_advantages(torch.tensor([1.0, 0.0, 2.0, 2.0]), num_generations=2)
    tensor([ 0.7070, -0.7070,  0.0000,  0.0000])
    """
    if rewards.dim() != 1 or num_generations < 1 or rewards.numel() % num_generations:
        raise ValueError(
            f"rewards must be 1-D with a length divisible by num_generations={num_generations}; "
            f"got shape {tuple(rewards.shape)}"
        )
    grouped = rewards.view(-1, num_generations)  # (P, G)
    mean = grouped.mean(dim=1, keepdim=True).expand_as(grouped).reshape(-1)  # (B,)
    # A group of equal rewards is exactly 0 (the float mean of equal values can be off by
    # one ulp, which 1 / eps would blow up to ~1e-12).
    constant = (grouped == grouped[:, :1]).all(dim=1, keepdim=True).expand_as(grouped).reshape(-1)  # (B,)
    centred = torch.where(constant, torch.zeros_like(rewards), rewards - mean)  # (B,)
    if scale == "none":
        return centred
    if scale == "group":
        std = group_std(rewards, num_generations)  # (B,)
    elif scale == "batch":
        std = rewards.std() if rewards.numel() > 1 else rewards.new_zeros(())
        std = std.expand_as(rewards)  # (B,)
    else:
        raise ValueError(f"scale must be 'group', 'batch' or 'none'; got {scale!r}")
    return centred / (std + eps)


def group_std(rewards: torch.Tensor, num_generations: int) -> torch.Tensor:
    """Bessel-corrected std of each group, repeated for each member: (B,) -> (B,).

    0 for groups of one. ``(group_std(r, G) == 0).float().mean()`` is trl's logged
    ``frac_reward_zero_std``: the share of groups that teach nothing.

    >>> group_std(torch.tensor([1.0, 0.0, 2.0, 2.0]), 2)
    tensor([0.7071, 0.7071, 0.0000, 0.0000])
    """
    grouped = rewards.view(-1, num_generations)  # (P, G)
    if num_generations == 1:
        return torch.zeros_like(rewards)
    return grouped.std(dim=1, keepdim=True).expand_as(grouped).reshape(-1)  # (B,)


# ----------------------------------------------------------------------------- log-probs
def selective_log_softmax(logits: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``log_softmax(logits)[..., index]`` without materialising the full log-softmax.

    ``log p(index) = logits[index] - logsumexp(logits)``, computed one row of the batch at a
    time so the peak extra memory is one (T, V) slice, not (B, T, V).
    logits (B, T, V), index (B, T) -> (B, T). Half-precision inputs go through float32.

    >>> logits = torch.tensor([[[0.0, 0.0], [2.0, 0.0]]])
    >>> selective_log_softmax(logits, torch.tensor([[0, 0]]))
    tensor([[-0.6931, -0.1269]])
    """
    selected = torch.gather(logits, dim=-1, index=index.unsqueeze(-1)).squeeze(-1)  # (B, T)
    logsumexp = torch.stack([torch.logsumexp(row.float(), dim=-1) for row in logits])  # (B, T)
    return selected.float() - logsumexp


def per_token_logps(logits: torch.Tensor, completion_ids: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Per-token log-probs of the completion under the model, from full-sequence logits.

    ``logits`` (B, P + C, V) come from the model run on ``cat(prompt_ids, completion_ids)``;
    position t predicts token t + 1, so the completion's C tokens are scored by positions
    ``P - 1 .. P + C - 2``. Logits are divided by the sampling ``temperature`` first (as trl
    does). completion_ids (B, C) -> (B, C).

    >>> logits = torch.zeros(1, 3, 4)  # uniform over 4 tokens
    >>> per_token_logps(logits, torch.tensor([[1, 2]]))
    tensor([[-1.3863, -1.3863]])
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive; got {temperature}")
    num_completion = completion_ids.size(1)
    logits = logits[:, -num_completion - 1 : -1, :]  # (B, C, V)
    if temperature != 1.0:
        logits = logits / temperature
    return selective_log_softmax(logits, completion_ids)  # (B, C)


def token_entropy(logits: torch.Tensor, chunk_size: int = 128) -> torch.Tensor:
    """Shannon entropy (nats) of each next-token distribution: ``H = -sum_v p_v log p_v``.

    Chunked over rows to bound memory. logits (..., V) -> (...).

    >>> token_entropy(torch.zeros(2, 4))  # uniform over 4: log 4
    tensor([1.3863, 1.3863])
    """
    flat = logits.reshape(-1, logits.size(-1))  # (N, V)
    out = []
    for chunk in flat.split(chunk_size, dim=0):
        logp = torch.log_softmax(chunk.float(), dim=-1)  # (n, V)
        out.append(-(logp.exp() * logp).sum(-1))  # (n,)
    return torch.cat(out).reshape(logits.shape[:-1])


# ----------------------------------------------------------------------------- per-token terms
def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(pi_theta || pi_ref), per token (always >= 0).

    ``kl_t = exp(ref_logp_t - logp_t) - (ref_logp_t - logp_t) - 1``, unbiased for tokens
    sampled from pi_theta. (B, T), (B, T) -> (B, T).

    >>> k3_kl(torch.tensor([-1.0, -2.0]), torch.tensor([-1.0, -1.0]))
    tensor([0.0000, 0.7183])
    """
    delta = ref_logp - logp  # (B, T)
    return torch.exp(delta) - delta - 1


def clipped_surrogate(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    epsilon_low: float,
    epsilon_high: float,
) -> torch.Tensor:
    """PPO's clipped surrogate, negated to a loss, per token.

    ``ratio_t = exp(logp_t - old_logp_t)``;
    ``loss_t = -min(ratio_t A, clip(ratio_t, 1 - epsilon_low, 1 + epsilon_high) A)``.
    logp, old_logp (B, T); advantages (B,) or (B, T) -> (B, T).

    >>> clipped_surrogate(torch.tensor([[0.0]]), torch.tensor([[0.0]]), torch.tensor([2.0]), 0.2, 0.2)
    tensor([[-2.]])
    """
    advantages = _per_token(advantages)  # (B, 1) or (B, T)
    ratio = torch.exp(logp - old_logp)  # (B, T)
    clipped = torch.clamp(ratio, 1 - epsilon_low, 1 + epsilon_high)  # (B, T)
    return -torch.min(ratio * advantages, clipped * advantages)


# ----------------------------------------------------------------------------- aggregations
def aggregate_grpo(per_token_loss: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """GRPO: token mean within each sequence, then mean over sequences.

    ``L = 1/B sum_i (1/|o_i|) sum_t loss_it``. Long completions weigh each token less.
    (B, T), (B, T) -> ().

    >>> aggregate_grpo(torch.tensor([[1.0, 1.0], [4.0, 0.0]]), torch.tensor([[1, 1], [1, 0]]))
    tensor(2.5000)
    """
    mask = mask.to(per_token_loss.dtype)
    per_sequence = (per_token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)  # (B,)
    return per_sequence.mean()


def aggregate_dapo(
    per_token_loss: torch.Tensor, mask: torch.Tensor, num_items: float | torch.Tensor | None = None
) -> torch.Tensor:
    """DAPO: sum over all tokens of the batch / number of tokens (a token-level mean).

    ``L = sum_i sum_t loss_it / sum_i |o_i|``. ``num_items`` overrides the token count, e.g.
    with the global count over processes and accumulation steps, as trl's
    ``num_items_in_batch``. (B, T), (B, T) -> ().

    >>> aggregate_dapo(torch.tensor([[1.0, 1.0], [4.0, 0.0]]), torch.tensor([[1, 1], [1, 0]]))
    tensor(2.)
    """
    mask = mask.to(per_token_loss.dtype)
    count = mask.sum() if num_items is None else torch.as_tensor(num_items, dtype=per_token_loss.dtype)
    return (per_token_loss * mask).sum() / count.clamp(min=1.0)


def aggregate_dr_grpo(
    per_token_loss: torch.Tensor, mask: torch.Tensor, max_completion_length: int | None = None
) -> torch.Tensor:
    """Dr. GRPO: sum over all tokens / (sequences x max completion length), a constant.

    ``L = sum_i sum_t loss_it / (B * max_completion_length)``. ``max_completion_length`` is
    the generation limit from the config (as trl), not the padded width T of this batch,
    which is shorter whenever every completion stopped early; None uses T.
    (B, T), (B, T) -> ().

    >>> aggregate_dr_grpo(torch.tensor([[1.0, 1.0], [4.0, 0.0]]), torch.tensor([[1, 1], [1, 0]]), 4)
    tensor(0.7500)
    """
    mask = mask.to(per_token_loss.dtype)
    length = per_token_loss.size(1) if max_completion_length is None else max_completion_length
    return (per_token_loss * mask).sum() / (per_token_loss.size(0) * length)


# ----------------------------------------------------------------------------- the loss
def policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor | None,
    ref_logp: torch.Tensor | None,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    beta: float,
    epsilon_low: float,
    epsilon_high: float,
    loss_type: LossType,
    max_completion_length: int | None = None,
    num_items: float | torch.Tensor | None = None,
    use_bias_correction_kl: bool = False,
) -> torch.Tensor:
    """GRPO's loss for one batch: scalar to minimise. See :func:`policy_loss_and_stats`.

    >>> logp = torch.log(torch.tensor([[0.5, 0.25]]))
    >>> policy_loss(logp, None, logp, torch.tensor([1.0]), torch.ones(1, 2),
    ...             beta=0.04, epsilon_low=0.2, epsilon_high=0.2, loss_type="grpo")
    tensor(-1.)
    """
    loss, _ = policy_loss_and_stats(
        logp, old_logp, ref_logp, advantages, mask, beta=beta, epsilon_low=epsilon_low,
        epsilon_high=epsilon_high, loss_type=loss_type, max_completion_length=max_completion_length,
        num_items=num_items, use_bias_correction_kl=use_bias_correction_kl,
    )  # fmt: skip
    return loss


def policy_loss_and_stats(
    logp: torch.Tensor,
    old_logp: torch.Tensor | None,
    ref_logp: torch.Tensor | None,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    beta: float,
    epsilon_low: float,
    epsilon_high: float,
    loss_type: LossType,
    max_completion_length: int | None = None,
    num_items: float | torch.Tensor | None = None,
    use_bias_correction_kl: bool = False,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """GRPO's loss ``aggregate(surrogate_t + beta * kl_t)`` and detached stats for logging.

    Args:
        logp: (B, T) log-probs under the policy being trained (carries the gradient).
        old_logp: (B, T) log-probs under the sampling policy; None means on-policy
            (``logp.detach()``, ratio 1, as trl with ``num_iterations=1``).
        ref_logp: (B, T) log-probs under the frozen reference; may be None when ``beta == 0``.
        advantages: (B,) or (B, T), e.g. from :func:`group_advantages`.
        mask: (B, T) 1 on completion tokens, 0 on padding.
        beta: KL weight (R1-Omni: 0.04; 0 drops the KL term and ``ref_logp``).
        epsilon_low, epsilon_high: clip range ``[1 - epsilon_low, 1 + epsilon_high]``.
        loss_type: "grpo", "dapo" or "dr_grpo" (see the ``aggregate_*`` functions).
        max_completion_length: the generation limit, for "dr_grpo" (None: T).
        num_items: token count for "dapo" (None: ``mask.sum()``).
        use_bias_correction_kl: multiply ``kl_t`` by ``ratio_t`` (trl's option of that name,
            default True in trl 1.16; False here, as in R1-Omni's trl 0.14).

    Stats (0-dim tensors, token means over ``mask`` as trl logs them): ``kl`` (also with
    beta = 0 when ``ref_logp`` is given),
    ``clip_ratio/low_mean`` (ratio below ``1 - epsilon_low`` with A < 0),
    ``clip_ratio/high_mean`` (above ``1 + epsilon_high`` with A > 0),
    ``clip_ratio/region_mean`` (either), ``ratio_mean``; and ``surrogate`` (the loss with
    beta = 0, aggregated the same way).

    >>> logp = torch.log(torch.tensor([[0.5, 0.9]]))
    >>> loss, stats = policy_loss_and_stats(
    ...     logp, torch.zeros(1, 2), logp, torch.tensor([1.0]), torch.ones(1, 2),
    ...     beta=0.04, epsilon_low=0.2, epsilon_high=0.2, loss_type="grpo")
    >>> round(loss.item(), 4), stats["clip_ratio/low_mean"].item(), stats["kl"].item()
    (-0.7, 0.0, 0.0)
    """
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}; got {loss_type!r}")
    if beta != 0.0 and ref_logp is None:
        raise ValueError(f"ref_logp is required when beta != 0 (beta={beta})")
    old_logp = logp.detach() if old_logp is None else old_logp
    surrogate = clipped_surrogate(logp, old_logp, advantages, epsilon_low, epsilon_high)  # (B, T)
    per_token = surrogate
    kl = None
    if beta != 0.0:
        kl = k3_kl(logp, ref_logp)  # (B, T)
        if use_bias_correction_kl:
            kl = kl * torch.exp(logp - old_logp)
        per_token = surrogate + beta * kl  # (B, T)

    def aggregate(x: torch.Tensor) -> torch.Tensor:
        if loss_type == "grpo":
            return aggregate_grpo(x, mask)
        if loss_type == "dapo":
            return aggregate_dapo(x, mask, num_items)
        return aggregate_dr_grpo(x, mask, max_completion_length)

    loss = aggregate(per_token)
    with torch.no_grad():
        if kl is None and ref_logp is not None:  # beta == 0: still report the KL for the logs
            kl = k3_kl(logp, ref_logp)
        stats = _loss_stats(logp, old_logp, advantages, mask, kl, epsilon_low, epsilon_high)
        stats["surrogate"] = aggregate(surrogate)
    return loss, stats


def _loss_stats(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    kl: torch.Tensor | None,
    epsilon_low: float,
    epsilon_high: float,
) -> dict[str, torch.Tensor]:
    mask = mask.to(logp.dtype)
    advantages = _per_token(advantages)

    def masked_mean(x: torch.Tensor) -> torch.Tensor:
        x = x.to(mask.dtype).expand_as(mask)
        return (x * mask).sum() / mask.sum().clamp(min=1.0)

    ratio = torch.exp(logp - old_logp)  # (B, T)
    low = (ratio < 1 - epsilon_low) & (advantages < 0)
    high = (ratio > 1 + epsilon_high) & (advantages > 0)
    stats = {
        "clip_ratio/low_mean": masked_mean(low),
        "clip_ratio/high_mean": masked_mean(high),
        "clip_ratio/region_mean": masked_mean(low | high),
        "ratio_mean": masked_mean(ratio),
    }
    if kl is not None:
        stats["kl"] = masked_mean(kl)
    return {k: v.detach() for k, v in stats.items()}


def _per_token(advantages: torch.Tensor) -> torch.Tensor:
    """(B,) -> (B, 1) so it broadcasts over tokens; (B, T) is kept."""
    return advantages.unsqueeze(1) if advantages.dim() == 1 else advantages
