"""What the completion mask changes: the SFT loss with and without the prompt tokens, on one batch.

Notebook 02's exercise 3 asks what the loss would be if the prompt (media placeholders and the
fixed question) were counted too. :func:`prompt_loss_check` computes both on the same clips:

    L_completion = sum_{t in completion} nll_t / N_completion        (what SFT minimises)
    L_all        = sum_{t in prompt or completion} nll_t / (N_prompt + N_completion)

and the mean over prompt tokens alone. For a model trained with the mask the prompt is never
learnt, so counting it *raises* the loss; only a model also trained on the prompt would find it
cheap (it is the same for every clip) and see its loss diluted toward 0.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from r1omni.data.dataset import ManifestDataset, OmniCollator
from r1omni.sft.loss import all_token_labels, completion_nll


def prompt_loss_check(policy: Any, manifest: str | os.PathLike, *, num_examples: int = 8) -> dict[str, float]:
    """Completion-only and all-token cross-entropy of ``policy`` (a policy dir, a preset or a
    ``(model, processor)`` pair) on the first ``num_examples`` clips of ``manifest``.

    Returns ``completion_loss``, ``all_token_loss``, ``prompt_loss`` (nats per prompt token; the
    first token of each sequence has no prediction and is skipped), and the token counts
    ``completion_tokens`` and ``prompt_tokens``.
    """
    from r1omni.model import load_initial_policy

    model, processor = load_initial_policy(policy)
    dataset = ManifestDataset(manifest, target="conversation", limit=num_examples)
    batch = OmniCollator(processor, with_targets=True)([dataset[i] for i in range(len(dataset))])
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(**inputs).logits  # (B, L, V)
    model.train(was_training)
    comp_nll, comp_n = completion_nll(logits, batch["labels"])
    all_nll, all_n = completion_nll(logits, all_token_labels(batch["input_ids"], batch["attention_mask"]))
    prompt_n = int(all_n - comp_n)
    if int(comp_n) == 0 or prompt_n <= 0:
        raise ValueError(f"{manifest}: the batch has no completion or no prompt tokens to compare")
    return {
        "completion_loss": float(comp_nll / comp_n),
        "all_token_loss": float(all_nll / all_n),
        "prompt_loss": float((all_nll - comp_nll) / prompt_n),
        "completion_tokens": int(comp_n),
        "prompt_tokens": prompt_n,
    }
