"""GRPO's inputs: the prompt records and the rewards of a batch of completions.

The data order is :func:`r1omni.train.loop.data_order` (shared with SFT); the starting policy is
resolved by :func:`r1omni.runs.resolve_init_policy`; reward functions by
:func:`r1omni.rewards.get_reward_funcs`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from r1omni.data.manifest import load_manifest
from r1omni.io import read_jsonl


def load_records(data: Any, policy_kind: str, split: str = "train", max_prompts: int = 0) -> list[dict]:
    """Prompt records: a list of dicts, a ``.jsonl`` manifest, or a directory (``<dir>/<split>.jsonl``).

    Omni policies read manifests with ``load_manifest`` (validated; ``video_path`` resolved);
    text policies need a ``prompt`` field per line. ``max_prompts`` > 0 keeps the first N (more
    than the data holds is an error, never a silent shrink).
    """
    if isinstance(data, (list, tuple)):
        records = [dict(r) for r in data]
    else:
        path = Path(data)
        if path.is_dir():
            path = path / f"{split}.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such manifest (data={data!r}, split={split!r})")
        records = load_manifest(path) if policy_kind == "omni" else read_jsonl(path)
    if not records:
        raise ValueError(f"no prompt records in {data!r}")
    if max_prompts > 0:
        if max_prompts > len(records):
            raise ValueError(f"max_prompts={max_prompts} but {data!r} holds only {len(records)} prompt records")
        records = records[:max_prompts]
    return records


def score(
    reward_funcs: Sequence[Callable],
    names: Sequence[str],
    completions: list[str],
    records: list[dict],
    num_generations: int,
) -> torch.Tensor:
    """Rewards (N, F) of N = len(records) x G completions; record columns become kwargs (trl style)."""
    columns: dict[str, list] = {}
    for key in records[0]:
        if key != "prompt":
            columns[key] = [r.get(key) for r in records for _ in range(num_generations)]
    out = torch.zeros(len(completions), len(reward_funcs))
    for j, (name, fn) in enumerate(zip(names, reward_funcs)):
        values = fn(completions, **columns)
        if len(values) != len(completions):
            raise ValueError(f"reward {name!r} returned {len(values)} values for {len(completions)} completions")
        out[:, j] = torch.tensor([float("nan") if v is None else float(v) for v in values])
    if torch.isnan(out).any():
        raise ValueError("a reward function returned None/NaN; every completion needs a number")
    return out
