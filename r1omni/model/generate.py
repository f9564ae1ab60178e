"""Batched sampling for the omni model with a KV cache: what GRPO rollouts need.

Each row of the (left-padded) prompt batch is repeated ``num_return_sequences`` times, the media
are encoded once, then tokens are drawn one at a time::

    p(y_t | y_<t, x) = softmax(z_t / temperature)  restricted to the top-p nucleus
    y_t = argmax z_t                               when do_sample=False (greedy)

Positions come from the attention mask, so left padding leaves every row's tokens where they
would be alone. Media placeholder tokens are never sampled (they would have no media to splice).
A row stops at its first eos; later slots hold the pad id and are 0 in ``completion_mask``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from r1omni.model.batch import OmniBatch, completion_mask_from_eos, position_ids_from_mask, repeat_batch
from r1omni.model.tokenizer import MEDIA_TOKENS


@dataclass
class GenerationResult:
    """Output of :func:`generate`; N = batch size x num_return_sequences."""

    prompt_ids: torch.Tensor
    """(N, P) left-padded prompt ids (placeholders expanded)."""
    prompt_mask: torch.Tensor
    """(N, P) 1 on real prompt tokens."""
    completion_ids: torch.Tensor
    """(N, C) sampled ids, pad id after a row's first eos; C <= max_new_tokens."""
    completion_mask: torch.Tensor
    """(N, C) 1 up to and including the first eos, 0 after."""
    batch: OmniBatch
    """The input batch repeated ``num_return_sequences`` times (row order a, a, b, b, ...)."""


def top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Set logits outside the smallest set whose probability reaches ``top_p`` to -inf (B, V).

    >>> top_p_filter(torch.log(torch.tensor([[0.5, 0.3, 0.2]])), 0.7).isinf().tolist()
    [[False, False, True]]
    """
    if top_p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = sorted_logits.softmax(-1)
    drop = probs.cumsum(-1) - probs >= top_p  # mass before this token already reaches top_p
    drop[..., 0] = False  # always keep the best token
    return logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))


def next_tokens(
    logits: torch.Tensor, *, do_sample: bool, temperature: float, top_p: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(B, V) logits -> (B,) next token ids."""
    if not do_sample:
        return logits.argmax(-1)
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 when sampling; got {temperature}")
    probs = top_p_filter(logits / temperature, top_p).softmax(-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate(
    model,
    batch: dict,
    *,
    max_new_tokens: int,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    num_return_sequences: int = 1,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
) -> GenerationResult:
    """Sample completions for every prompt of ``batch`` (see the module docstring)."""
    if "labels" in batch:
        raise ValueError("generate: the batch holds targets (labels); build it without targets=")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1; got {max_new_tokens}")
    if not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1]; got {top_p}")
    batch = repeat_batch(batch, num_return_sequences)
    ids = model.config.token_ids
    eos, pad = ids["eos"], ids["pad"]
    forbidden = torch.tensor([ids[k] for k in MEDIA_TOKENS], device=model.device)
    lm = model.lm

    prompt_ids = batch["input_ids"].to(model.device)  # (N, P)
    prompt_mask = batch["attention_mask"].to(model.device)
    if bool((prompt_mask[:, -1] == 0).any()):
        raise ValueError("generate: prompts must be left-padded (last column all real tokens)")
    x = model.embed(prompt_ids, model.media_embeds(prompt_ids, batch))  # (N, P, H)
    mask = prompt_mask
    positions = position_ids_from_mask(mask)  # (N, P)
    out = lm(inputs_embeds=x, attention_mask=mask, position_ids=positions, use_cache=use_cache, logits_to_keep=1)
    past = out.past_key_values if use_cache else None
    logits = out.logits[:, -1]  # (N, V)
    next_pos = positions[:, -1:] + 1  # (N, 1)

    n = prompt_ids.shape[0]
    finished = torch.zeros(n, dtype=torch.bool, device=model.device)
    tokens: list[torch.Tensor] = []
    for step in range(max_new_tokens):
        logits = logits.float()
        logits[:, forbidden] = float("-inf")
        tok = next_tokens(logits, do_sample=do_sample, temperature=temperature, top_p=top_p, generator=generator)
        tok = torch.where(finished, torch.full_like(tok, pad), tok)  # (N,)
        tokens.append(tok)
        finished |= tok == eos
        if bool(finished.all()) or step == max_new_tokens - 1:
            break
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
        if use_cache:
            out = lm(
                input_ids=tok[:, None], attention_mask=mask, position_ids=next_pos, past_key_values=past, use_cache=True
            )
            past = out.past_key_values
        else:
            x = torch.cat([x, lm.get_input_embeddings()(tok[:, None])], dim=1)
            positions = torch.cat([positions, next_pos], dim=1)
            out = lm(inputs_embeds=x, attention_mask=mask, position_ids=positions, use_cache=False, logits_to_keep=1)
        logits = out.logits[:, -1]
        next_pos = next_pos + 1

    completion_ids = torch.stack(tokens, dim=1)  # (N, C)
    return GenerationResult(
        prompt_ids=prompt_ids,
        prompt_mask=prompt_mask,
        completion_ids=completion_ids,
        completion_mask=completion_mask_from_eos(completion_ids, eos),
        batch=batch,
    )
