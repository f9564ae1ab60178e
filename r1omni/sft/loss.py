"""The completion-only cross-entropy of SFT (R1-Omni's cold start and the label-only baseline).

    L(theta) = - (1 / N) * sum_{i in batch} sum_{t in completion_i} log p_theta(y_{i,t} | x_i, y_{i,<t})

where ``N`` is the number of completion tokens in the whole (global, accumulated) batch: the
prompt (media placeholders + question) carries label -100 and never contributes.
"""

from __future__ import annotations

import math  # noqa: F401  (used by the doctest)

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


def completion_nll(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed next-token negative log-likelihood over completion tokens, and their count.

    ``logits[:, t]`` predicts ``labels[:, t + 1]``; positions with label -100 (prompt,
    padding) are skipped. logits (B, L, V), labels (B, L) -> (scalar sum, scalar count).
    """
    shift_logits = logits[:, :-1, :]  # (B, L-1, V)
    shift_labels = labels[:, 1:]  # (B, L-1)
    nll = F.cross_entropy(
        shift_logits.reshape(-1, shift_logits.size(-1)).float(),
        shift_labels.reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )
    return nll, (shift_labels != IGNORE_INDEX).sum()


def completion_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over completion tokens (labels != -100).

    >>> logits = torch.zeros(1, 3, 4); labels = torch.tensor([[-100, 2, -100]])
    >>> round(completion_loss(logits, labels).item(), 4) == round(math.log(4), 4)
    True
    """
    nll, count = completion_nll(logits, labels)
    if count == 0:
        raise ValueError("batch has no completion tokens (every label is -100)")
    return nll / count


def all_token_labels(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Labels that count every real token, prompt included (padding stays -100): what the loss
    would see without the completion mask. input_ids, attention_mask (B, L) -> (B, L).

    >>> all_token_labels(torch.tensor([[0, 5, 6]]), torch.tensor([[0, 1, 1]])).tolist()
    [[-100, 5, 6]]
    """
    return input_ids.masked_fill(attention_mask == 0, IGNORE_INDEX)
