"""pass@k: ``n`` sampled completions per clip, and what they say about RLVR.

For every clip, ``n`` completions are sampled at ``temperature`` (1.0: the policy's own
distribution) and scored with the accuracy reward; ``c`` of them are right. The unbiased
pass@k (:func:`r1omni.evaluate.metrics.pass_at_k`) averaged over clips tells *sharpening* from
*new capability* (Yue et al. 2025): RLVR that only raises pass@1, while pass@n stays where the
cold start was, has made the model pick what it could already reach more often; raising pass@n
means it now reaches answers it could not before.

Samples are written like greedy predictions (:func:`r1omni.evaluate.decode.predict`, one line per
sample with id ``<clip id>#<j>``), so a killed run resumes, and a file made from another
checkpoint, other settings or other data is never reused.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from r1omni.evaluate.decode import EvalConfig, GenerateFn, decoding_settings, predict, select_examples
from r1omni.evaluate.metrics import pass_at_k


def pass_at_k_ks(n: int) -> list[int]:
    """The k reported for ``n`` samples: 1, 2, 4, ... up to n (n itself always last).

    >>> pass_at_k_ks(8), pass_at_k_ks(6)
    ([1, 2, 4, 8], [1, 2, 4, 6])
    """
    ks = [1 << i for i in range(n.bit_length()) if 1 << i <= n]
    return ks if ks[-1] == n else [*ks, n]


def make_sample_fn(model: Any, processor: Any, config: EvalConfig, temperature: float) -> GenerateFn:
    """Sampling (not greedy) of a batch of expanded examples; seeded by the batch's first id, so a
    resumed run draws the same samples for the same batch."""
    import zlib

    import torch

    from r1omni.data.media import load_clip

    def generate(batch: list[dict]) -> list[tuple[str, int]]:
        clips = (
            [None] * len(batch)
            if config.modalities == "t"
            else [
                load_clip(e["video_path"], num_frames=config.num_frames, sample_rate=config.sample_rate) for e in batch
            ]
        )
        inputs = processor(clips, modalities=config.modalities).to(config.device)
        generator = torch.Generator(device=config.device).manual_seed(
            config.seed * 1_000_003 + zlib.crc32(batch[0]["id"].encode())
        )
        with torch.no_grad():
            out = model.generate(
                inputs,
                max_new_tokens=config.max_new_tokens,
                do_sample=True,
                temperature=temperature,
                generator=generator,
            )
        lengths = out.completion_mask.sum(dim=1).tolist()
        ids = [row[:n].tolist() for row, n in zip(out.completion_ids, lengths)]
        return list(zip(processor.batch_decode(ids, skip_special_tokens=True), [int(n) for n in lengths]))

    return generate


def sample_split(
    model_dir: str | os.PathLike,
    manifest: str | os.PathLike,
    out_path: str | os.PathLike,
    config: EvalConfig,
    *,
    num_samples: int = 8,
    temperature: float = 1.0,
    model: Any = None,
    processor: Any = None,
    name: str | None = None,
    progress: bool = True,
) -> list[dict]:
    """``num_samples`` sampled completions for every clip of the (seeded subset of the) manifest,
    one prediction record each (id ``<clip id>#<j>``, ``clip_id``, ``sample``)."""
    from r1omni.data.manifest import load_manifest
    from r1omni.model import load_policy

    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    examples = select_examples(load_manifest(manifest), config.max_examples, config.seed)
    if model is None or processor is None:
        model, processor = load_policy(model_dir)
    model = model.to(config.device).eval()
    expanded = [dict(e, id=f"{e['id']}#{j}", clip_id=e["id"], sample=j) for e in examples for j in range(num_samples)]
    settings = {
        **decoding_settings(model_dir, config, examples),
        "num_samples": num_samples,
        "temperature": temperature,
        "seed": config.seed,
    }
    rows = predict(
        expanded,
        make_sample_fn(model, processor, config, temperature),
        out_path,
        batch_size=config.batch_size,
        model=name or Path(model_dir).as_posix(),
        modalities=config.modalities,
        settings=settings,
        on_mismatch=config.on_mismatch,
        progress=progress,
    )
    for row, e in zip(rows, expanded):
        row.setdefault("clip_id", e["clip_id"])
    return rows


def correct_counts(rows: Sequence[dict]) -> tuple[int, list[str], np.ndarray]:
    """``(n, clip ids, right samples per clip)`` from sampled records (rows of one clip share
    ``clip_id``; ``rewards.accuracy`` 1 = right); every clip must have the same ``n``."""
    by_clip: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        by_clip[row.get("clip_id", row["id"].rsplit("#", 1)[0])].append(float(row["rewards"]["accuracy"]))
    sizes = {len(v) for v in by_clip.values()}
    if len(sizes) != 1:
        raise ValueError(f"every clip needs the same number of samples, got {sorted(sizes)}")
    clips = sorted(by_clip)
    return sizes.pop(), clips, np.array([int(sum(by_clip[c])) for c in clips])


def wasted_groups(rows: Sequence[dict]) -> dict[str, Any]:
    """How many GRPO groups would teach nothing, per group size ``k`` (:func:`pass_at_k_ks`), from
    ``n`` sampled completions per clip: ``per_clip`` is the mean over clips of the unbiased
    :func:`~r1omni.evaluate.metrics.all_agree_at_k` (each clip its own difficulty), ``global_p``
    the formula ``p^k + (1 - p)^k`` with one success rate ``p`` for all clips (``mean_p``)."""
    from r1omni.evaluate.metrics import all_agree_at_k, all_agree_rate

    n, clips, correct = correct_counts(rows)
    mean_p = float(correct.mean() / n)
    ks = pass_at_k_ks(n)
    return {
        "n": n,
        "clips": len(clips),
        "mean_p": mean_p,
        "per_clip": {str(k): float(np.mean([all_agree_at_k(n, int(c), k) for c in correct])) for k in ks},
        "global_p": {str(k): all_agree_rate(mean_p, k) for k in ks},
    }


def pass_at_k_summary(rows: Sequence[dict], *, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Mean unbiased pass@k over clips for k in :func:`pass_at_k_ks`, from sampled records (rows of one
    clip share ``clip_id``; ``rewards.accuracy`` 1 = right), with a 95 % bootstrap interval over clips
    and the per-clip numbers of right samples (``correct``) for paired comparisons."""
    n, clips, correct = correct_counts(rows)
    rng = np.random.default_rng(seed)
    boots = rng.integers(0, len(clips), size=(n_boot, len(clips)))
    out: dict[str, Any] = {
        "n": n,
        "clips": len(clips),
        "clip_ids": clips,
        "correct": correct.tolist(),
        "pass_at_k": {},
        "pass_at_k_ci": {},
    }
    for k in pass_at_k_ks(n):
        per_clip = np.array([pass_at_k(n, int(c), k) for c in correct])
        out["pass_at_k"][str(k)] = float(per_clip.mean())
        means = per_clip[boots].mean(axis=1)
        out["pass_at_k_ci"][str(k)] = [float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))]
    return out


def sample_models(
    model_dirs: dict[str, str | os.PathLike],
    manifests: dict[str, str | os.PathLike],
    out_dir: str | os.PathLike,
    config: EvalConfig,
    *,
    num_samples: int | None = None,
    temperature: float | None = None,
    progress: bool = True,
) -> dict[str, dict[str, dict]]:
    """:func:`sample_split` + :func:`pass_at_k_summary` for every checkpoint and split (samples go to
    ``out_dir/<model>_<split>_samples.jsonl``; ``num_samples`` / ``temperature`` default to the
    config's). Returns ``results[model][split]``."""
    num_samples = config.num_samples if num_samples is None else num_samples
    temperature = config.sample_temperature if temperature is None else temperature
    from r1omni.model import load_policy

    results: dict[str, dict[str, dict]] = {}
    for name, model_dir in model_dirs.items():
        model, processor = load_policy(model_dir)
        results[name] = {}
        for split, manifest in manifests.items():
            rows = sample_split(
                model_dir,
                manifest,
                Path(out_dir) / f"{name}_{split}_samples.jsonl",
                config,
                num_samples=num_samples,
                temperature=temperature,
                model=model,
                processor=processor,
                name=name,
                progress=progress,
            )
            results[name][split] = pass_at_k_summary(rows, n_boot=config.n_boot, seed=config.seed)
    return results


def paired_difference_ci(
    before: dict, after: dict, k: int, *, n_boot: int = 1000, seed: int = 0
) -> tuple[float, float, float]:
    """pass@k of ``after`` minus ``before`` on the same clips, with a paired 95 % bootstrap interval."""
    if before["clip_ids"] != after["clip_ids"] or before["n"] != after["n"]:
        raise ValueError("pass@k summaries of different clips or sample counts cannot be paired")
    n = before["n"]
    diff = np.array([pass_at_k(n, a, k) - pass_at_k(n, b, k) for a, b in zip(after["correct"], before["correct"])])
    boots = np.random.default_rng(seed).integers(0, len(diff), size=(n_boot, len(diff)))
    means = diff[boots].mean(axis=1)
    return float(diff.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def pass_at_k_reading(
    results: dict[str, dict[str, dict]],
    *,
    before: str = "cold_start",
    after: str = "rlvr",
    splits: Sequence[str] = ("test", "ood"),
    n_boot: int = 1000,
    seed: int = 0,
) -> str:
    """Sentences, computed from the numbers, saying whether ``after`` raised pass@1 only (sharpening),
    pass@1 while pass@n fell (sharpening that narrowed the reachable answers) or pass@n too (new
    capability), or lowered either, with paired bootstrap intervals of each difference; a difference
    counts only when its 95 % interval excludes 0."""
    if before not in results or after not in results:
        return f"(no pass@k comparison: both {before!r} and {after!r} must be sampled)"
    out = []
    for split in splits:
        if split not in results[before] or split not in results[after]:
            continue
        b, a = results[before][split], results[after][split]
        n = a["n"]
        d1, lo1, hi1 = paired_difference_ci(b, a, 1, n_boot=n_boot, seed=seed)
        dn, lon, hin = paired_difference_ci(b, a, n, n_boot=n_boot, seed=seed)
        up1, down1, upn, downn = lo1 > 0, hi1 < 0, lon > 0, hin < 0
        verdict = (
            "it raised pass@1 and pass@n alike: new capability, not only sharpening"
            if up1 and upn
            else f"it raised pass@1 while pass@n fell: sharpening that narrowed what {before} could reach"
            if up1 and downn
            else f"it raised pass@1 only, with pass@n level: sharpening of what {before} could already reach"
            if up1
            else "it raised pass@n without pass@1"
            if upn
            else "pass@1 and pass@n both fell beyond resampling noise"
            if down1 and downn
            else "pass@1 fell beyond resampling noise"
            if down1
            else "pass@1 did not move beyond resampling noise and pass@n fell"
            if downn
            else "neither pass@1 nor pass@n moved beyond resampling noise"
        )
        out.append(
            f"On {split} ({a['clips']} clips x {n} samples at temperature 1), {after} vs {before}: pass@1 "
            f"{100 * a['pass_at_k']['1']:.1f} vs {100 * b['pass_at_k']['1']:.1f} (difference {100 * d1:+.1f}, "
            f"95% CI [{100 * lo1:+.1f}, {100 * hi1:+.1f}]), pass@{n} {100 * a['pass_at_k'][str(n)]:.1f} vs "
            f"{100 * b['pass_at_k'][str(n)]:.1f} ({100 * dn:+.1f}, [{100 * lon:+.1f}, {100 * hin:+.1f}]): {verdict}."
        )
    return " ".join(out)


def pass_at_k_table(results: dict[str, dict[str, dict]]):
    """pass@k in % as a table: a row per (model, split), a column per k."""
    import pandas as pd

    return pd.DataFrame(
        {
            (m, s): {f"pass@{k}": 100 * v for k, v in r["pass_at_k"].items()}
            for m, per in results.items()
            for s, r in per.items()
        }
    ).T


def pass_at_k_metrics(results: dict[str, dict[str, dict]]) -> dict[str, dict[str, dict]]:
    """The JSON-ready part of :func:`sample_models`' results for ``metrics.json`` (the per-clip
    counts stay in the samples files)."""
    return {
        m: {s: {k: r[k] for k in ("n", "clips", "pass_at_k", "pass_at_k_ci")} for s, r in per.items()}
        for m, per in results.items()
    }
