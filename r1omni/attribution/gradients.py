"""Gradient attribution of the answer's log-probability to video, audio and text input embeddings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

from r1omni.progress import progress_bar
from r1omni.settings import ANSWER_CLOSE, ANSWER_OPEN

#: Token groups of the gradient attribution, in display order.
GROUPS: tuple[str, ...] = ("video", "audio", "text")


def gradient_x_input(f: Callable, x: torch.Tensor) -> torch.Tensor:
    """Gradient x input per position: ``a_i = sum_d x_{i,d} * df/dx_{i,d}``.

    ``f`` maps embeddings (B, L, D) to one scalar per sample (B,); ``x`` is (L, D).
    Returns ``a`` of shape (L,).
    """
    import torch

    x = x.detach().unsqueeze(0).requires_grad_(True)  # (1, L, D)
    (grad,) = torch.autograd.grad(f(x).sum(), x)
    return (grad * x).sum(-1)[0].detach()  # (L,)


def integration_nodes(steps: int, schedule: str = "uniform", t_min: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Trapezoid nodes ``0 = t_0 < ... < t_{m-1} = 1`` and weights for ``int_0^1 g(t) dt``.

    "uniform": evenly spaced. "log": ``0`` then ``m-1`` points geometrically spaced from
    ``t_min`` to 1, for integrands that change over many scales near 0.

    >>> t, w = integration_nodes(3)
    >>> t.tolist(), w.tolist()
    ([0.0, 0.5, 1.0], [0.25, 0.5, 0.25])
    """
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    if schedule == "uniform":
        t = np.linspace(0.0, 1.0, steps)
    elif schedule == "log":
        t = np.concatenate([[0.0], np.geomspace(t_min, 1.0, steps - 1)])
    else:
        raise ValueError(f"schedule must be 'uniform' or 'log', got {schedule!r}")
    gaps = np.diff(t)  # (m-1,)
    w = np.zeros_like(t)
    w[:-1] += gaps / 2
    w[1:] += gaps / 2
    return t, w


def integrated_gradients(
    f: Callable,
    x: torch.Tensor,
    baseline: torch.Tensor | None = None,
    *,
    steps: int = 32,
    schedule: str = "uniform",
    chunk: int = 8,
) -> tuple[torch.Tensor, float]:
    """Integrated gradients, ``a_i = sum_d (x - x')_{i,d} int_0^1 df/dx_{i,d}(x' + t (x - x')) dt``.

    The integral is a trapezoid sum over :func:`integration_nodes` (``schedule`` "log" for
    an LM with a zero baseline: RMSNorm makes ``f`` change over many scales of ``t`` near 0,
    where the norm of ``t x`` passes ``sqrt(eps)``). ``x`` (L, D); ``baseline`` ``x'`` (L, D)
    defaults to zeros; ``f`` maps (B, L, D) -> (B,). Returns ``(a (L,), f(x) - f(x'))``;
    completeness says ``a.sum() ~= f(x) - f(x')`` (the error shrinks as ``steps`` grows).
    """
    import torch

    x = x.detach()
    baseline = torch.zeros_like(x) if baseline is None else baseline.detach()
    diff = x - baseline  # (L, D)
    t_np, w_np = integration_nodes(steps, schedule)
    ts = torch.tensor(t_np, dtype=x.dtype, device=x.device)  # (m,) points on the path
    ws = torch.tensor(w_np, dtype=x.dtype, device=x.device)  # (m,) quadrature weights
    total = torch.zeros_like(x)
    for start in range(0, steps, chunk):
        t = ts[start : start + chunk].view(-1, 1, 1)  # (c, 1, 1)
        xs = (baseline.unsqueeze(0) + t * diff.unsqueeze(0)).requires_grad_(True)  # (c, L, D)
        (grad,) = torch.autograd.grad(f(xs).sum(), xs)  # (c, L, D)
        total += (ws[start : start + chunk].view(-1, 1, 1) * grad).sum(0)
    with torch.no_grad():
        delta = float(f(x.unsqueeze(0))[0] - f(baseline.unsqueeze(0))[0])
    return (diff * total).sum(-1).detach(), delta


def group_shares(attr: torch.Tensor, groups: Sequence[str]) -> dict[str, float]:
    """``share_g = sum_{i in g} |a_i| / sum_i |a_i|`` for g in :data:`GROUPS` (sums to 1) and the
    signed sums ``signed_g = sum_{i in g} a_i`` (positive: the group raises the answer's log-prob)."""
    a = np.asarray(attr.detach().float().cpu() if hasattr(attr, "detach") else attr, dtype=np.float64)
    groups = np.asarray(groups)
    if a.shape != groups.shape:
        raise ValueError(f"attribution has shape {a.shape} but groups has {groups.shape}")
    unknown = sorted(set(groups.tolist()) - set(GROUPS))
    if unknown:
        raise ValueError(f"unknown token groups {unknown}; expected {GROUPS}")
    total = np.abs(a).sum()
    out = {g: float(np.abs(a[groups == g]).sum() / total) if total > 0 else float("nan") for g in GROUPS}
    out.update({f"signed_{g}": float(a[groups == g].sum()) for g in GROUPS})
    return out


def answer_token_span(processor: Any, completion_ids: Sequence[int]) -> list[int]:
    """Indices of the completion tokens that spell the text inside ``<answer>...</answer>``
    (tokens overlapping the block's content, located by decoding prefixes); [] without a block."""
    tok = processor.tokenizer
    ends = [
        len(tok.decode(list(completion_ids[: k + 1]), skip_special_tokens=False)) for k in range(len(completion_ids))
    ]
    text = tok.decode(list(completion_ids), skip_special_tokens=False)
    open_at = text.find(ANSWER_OPEN)
    close_at = text.find(ANSWER_CLOSE, open_at + len(ANSWER_OPEN)) if open_at >= 0 else -1
    if open_at < 0 or close_at < 0:
        return []
    lo, hi = open_at + len(ANSWER_OPEN), close_at
    starts = [0] + ends[:-1]
    return [k for k, (a, b) in enumerate(zip(starts, ends)) if a < hi and b > lo and b > a]


def clip_attribution(
    model: Any,
    processor: Any,
    clip: Any,
    *,
    method: str = "integrated_gradients",
    steps: int = 64,
    max_new_tokens: int = 96,
    modalities: str = "av",
    completion: str | None = None,
) -> dict[str, Any]:
    """Attribute the log-probability of one clip's answer to its input positions.

    The model decodes greedily (or, with ``completion``, that text is teacher-forced);
    ``f(x) = sum_{t in answer} log p(y_t | y_<t)`` is taken over the tokens inside ``<answer>...</answer>``,
    as a function of the LM input embeddings ``x`` (L, H) *after* the projected media are spliced in;
    integrated gradients use the zero baseline and the "log" schedule of :func:`integration_nodes`.
    Returns the :func:`group_shares` (video / audio / text tokens), ``reasoning_share`` (part of the text share on the
    generated ``<think>`` tokens), ``log_prob`` = f(x), ``sum_attr`` and, for integrated
    gradients, ``delta`` = f(x) - f(0) (completeness: sum_attr ~= delta). A completion without an
    answer block returns ``{"skipped": reason}``.
    """
    import torch

    from r1omni.model.batch import position_ids_from_mask

    if method not in ("integrated_gradients", "gradient_x_input"):
        raise ValueError(f"method must be 'integrated_gradients' or 'gradient_x_input', got {method!r}")
    batch = processor([clip], modalities=modalities).to(model.device)
    prompt_ids, prompt_mask = batch["input_ids"][0], batch["attention_mask"][0]  # (P,), (P,)
    if completion is None:
        with torch.no_grad():
            gen = model.generate(batch, max_new_tokens=max_new_tokens, do_sample=False)
        comp_ids = gen.completion_ids[0, : int(gen.completion_mask[0].sum())]  # (C,)
    else:
        comp_ids = torch.tensor(
            processor.tokenizer(completion, add_special_tokens=False)["input_ids"],
            dtype=torch.long,
            device=prompt_ids.device,
        )
    span = answer_token_span(processor, comp_ids.tolist())
    if not span:
        return {"skipped": "no <answer> block in the completion"}
    p = prompt_ids.shape[0]
    ids = torch.cat([prompt_ids, comp_ids]).unsqueeze(0)  # (1, L)
    mask = torch.cat([prompt_mask, torch.ones_like(comp_ids)]).unsqueeze(0)  # (1, L)
    targets = torch.tensor([p + k for k in span], device=ids.device)  # (k,) answer positions
    with torch.no_grad():
        x = model.embed(ids, model.media_embeds(ids, batch.media()))[0]  # (L, H)

    def f(xs):  # (S, L, H) -> (S,) log p(answer tokens)
        am = mask.expand(xs.shape[0], -1)
        logits = model.lm(
            inputs_embeds=xs, attention_mask=am, position_ids=position_ids_from_mask(am), use_cache=False
        ).logits  # (S, L, V)
        logp = torch.log_softmax(logits[:, targets - 1].float(), dim=-1)  # (S, k, V)
        return logp.gather(-1, ids[0, targets].expand(xs.shape[0], -1).unsqueeze(-1)).squeeze(-1).sum(-1)

    if method == "integrated_gradients":
        attr, delta = integrated_gradients(f, x, steps=steps, schedule="log")
    else:
        attr, delta = gradient_x_input(f, x), float("nan")
    ids0 = ids[0].tolist()
    vid, aud = model.config.token_ids["video"], model.config.token_ids["audio"]
    real = mask[0].bool().tolist()
    groups = ["video" if i == vid else "audio" if i == aud else "text" for i in ids0]
    keep = [k for k, r in enumerate(real) if r]
    shares = group_shares(attr[keep], [groups[k] for k in keep])
    a = attr.abs()
    with torch.no_grad():
        log_prob = float(f(x.unsqueeze(0))[0])
    total = float(a.sum())
    reasoning = (
        float(a[p : p + span[0]].sum()) / total if total > 0 else float("nan")
    )  # generated text before the answer
    return {
        **shares,
        "reasoning_share": reasoning,
        "log_prob": log_prob,
        "sum_attr": float(attr.sum()),
        "delta": delta,
        "method": method,
        "answer": processor.tokenizer.decode(comp_ids[span].tolist()).strip(),
    }


def gradient_attribution(
    model: Any,
    processor: Any,
    examples: Sequence[dict],
    *,
    method: str = "integrated_gradients",
    steps: int = 64,
    max_new_tokens: int = 96,
    modalities: str = "av",
    num_frames: int | None = None,
    progress: bool = True,
) -> dict:
    """:func:`clip_attribution` over manifest records; returns :func:`gradient_summary`."""
    from r1omni.data.media import load_clip
    from r1omni.settings import NUM_FRAMES

    per_clip = []
    for ex in progress_bar(examples, desc=f"attribution ({method})", disable=not progress):
        clip = load_clip(ex["video_path"], num_frames=num_frames or NUM_FRAMES)
        row = clip_attribution(
            model, processor, clip, method=method, steps=steps, max_new_tokens=max_new_tokens, modalities=modalities
        )
        per_clip.append({"id": ex["id"], "label": ex["label"], **row})
    return gradient_summary(per_clip)


def gradient_summary(per_clip: Sequence[dict]) -> dict[str, Any]:
    """Mean shares over the clips that had an answer (video, audio, text, reasoning_share), the
    number attributed (``n``) and skipped, the mean completeness error
    ``|sum_attr - delta| / |delta|`` (integrated gradients only) and the per-clip rows."""
    done = [r for r in per_clip if "skipped" not in r]
    out: dict[str, Any] = {"n": len(done), "skipped": len(per_clip) - len(done), "per_clip": list(per_clip)}
    for key in (*GROUPS, "reasoning_share", "log_prob"):
        out[key] = float(np.mean([r[key] for r in done])) if done else float("nan")
    errs = [abs(r["sum_attr"] - r["delta"]) / max(abs(r["delta"]), 1e-12) for r in done if np.isfinite(r["delta"])]
    out["completeness_error"] = float(np.mean(errs)) if errs else float("nan")
    return out
