"""Ablation: WAR/UAR with video+audio, video only, audio only and neither; what each modality carries."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from r1omni.settings import MODALITIES

#: The four input conditions of the ablation, in display order.
MODALITY_SUBSETS: tuple[str, ...] = MODALITIES
MODALITY_NAMES: dict[str, str] = {"av": "video+audio", "v": "video only", "a": "audio only", "t": "neither (text)"}


def modality_ablation(
    model_dir: str | Path,
    manifest: str | Path,
    out_dir: str | Path,
    config: Any = None,
    *,
    subsets: Sequence[str] = MODALITY_SUBSETS,
    model: Any = None,
    processor: Any = None,
    name: str | None = None,
    progress: bool = True,
) -> dict[str, dict]:
    """Run :func:`r1omni.evaluate.evaluate_split` once per modality subset.

    Predictions go to ``out_dir/<name>_<subset>.jsonl`` (resumable). Returns
    ``{subset: summary}``.
    """
    import dataclasses

    from r1omni.evaluate import EvalConfig, evaluate_split

    config = config or EvalConfig()
    bad = [s for s in subsets if s not in MODALITY_SUBSETS]
    if bad:
        raise ValueError(f"unknown modality subsets {bad}; expected some of {MODALITY_SUBSETS}")
    name = name or Path(model_dir).name
    if model is None or processor is None:
        from r1omni.model import load_policy

        model, processor = load_policy(model_dir)
    out = {}
    for subset in subsets:
        cfg = dataclasses.replace(config, modalities=subset)
        out[subset] = evaluate_split(
            model_dir,
            manifest,
            Path(out_dir) / f"{name}_{subset}.jsonl",
            cfg,
            model=model,
            processor=processor,
            name=name,
            progress=progress,
        )
    return out


def ablation_table(results: dict[str, dict]) -> pd.DataFrame:
    """Rows = modality subset; columns WAR, UAR (%) and per-class recall (%)."""
    rows = {}
    for subset, m in results.items():
        row = {"WAR": 100 * m["war"], "UAR": 100 * m["uar"]}
        row.update({f"recall {c}": 100 * r for c, r in m["per_class_recall"].items()})
        rows[MODALITY_NAMES.get(subset, subset)] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def modality_reliance(results: dict[str, dict]) -> dict[str, float]:
    """WAR lost (percentage points) when a modality is removed from "av".

    ``video_carries = WAR(av) - WAR(a)``, ``audio_carries = WAR(av) - WAR(v)``, and the gain of
    both over text alone ``media_carries = WAR(av) - WAR(t)`` (only for subsets that were run).
    """
    w = {s: 100 * m["war"] for s, m in results.items()}
    out = {}
    if "av" in w and "a" in w:
        out["video_carries"] = w["av"] - w["a"]
    if "av" in w and "v" in w:
        out["audio_carries"] = w["av"] - w["v"]
    if "av" in w and "t" in w:
        out["media_carries"] = w["av"] - w["t"]
    return out
