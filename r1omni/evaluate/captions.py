"""What the base model perceives: greedy captions of clips, scored against the clips' true cues.

The base model (notebook 01) is asked the perception question
(:data:`r1omni.settings.PERCEPTION_PROMPT`) and answers with a caption; the cue ids the caption
names (:func:`r1omni.data.synth.caption.parse_caption`) are compared with the clip's
``cues["present"]``: per cue, per modality and overall precision, recall and F1
(:func:`r1omni.data.synth.caption.caption_scores`). Any SynthEmo split can be captioned: the
held-out perception clips, and ``test`` / ``ood`` (their labels are not used).

Captions are written like predictions (:func:`r1omni.evaluate.decode.predict`): resumable, and
keyed on the checkpoint, the settings and the content of the clips.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from r1omni.data.synth.caption import caption_scores, parse_caption
from r1omni.evaluate.decode import EvalConfig, decoding_settings, make_generate_fn, predict, select_examples
from r1omni.settings import PERCEPTION_PROMPT


def caption_record(
    example: dict, completion: str, completion_tokens: int, *, model: str, modalities: str, settings: dict | None = None
) -> dict[str, Any]:
    """One line of a captions file: id, split, the caption, the cue ids it names, the true ones."""
    cues = example.get("cues")
    if not isinstance(cues, dict) or "present" not in cues:
        raise ValueError(f"clip {example.get('id')!r} has no cues['present'] to score a caption against")
    return {
        "id": example["id"],
        "split": example.get("split"),
        "completion": completion,
        "predicted": sorted(parse_caption(completion)),
        "truth": sorted(cues["present"]),
        "completion_tokens": int(completion_tokens),
        "model": model,
        "modalities": modalities,
        "settings": settings or {},
    }


def caption_split(
    model_dir: str | os.PathLike,
    manifest: str | os.PathLike,
    out_path: str | os.PathLike,
    config: EvalConfig,
    *,
    model: Any = None,
    processor: Any = None,
    name: str | None = None,
    progress: bool = True,
) -> tuple[list[dict], dict[str, Any]]:
    """Caption the (seeded subset of the) manifest greedily; return the records and their scores
    (``caption_scores`` plus ``n``)."""
    from r1omni.data.manifest import load_manifest
    from r1omni.model import load_policy

    examples = select_examples(load_manifest(manifest), config.max_examples, config.seed)
    if model is None or processor is None:
        model, processor = load_policy(model_dir)
    model = model.to(config.device).eval()
    settings = {**decoding_settings(model_dir, config, examples), "question": PERCEPTION_PROMPT}
    rows = predict(
        examples,
        make_generate_fn(model, processor, config, question=PERCEPTION_PROMPT),
        out_path,
        batch_size=config.batch_size,
        model=name or Path(model_dir).as_posix(),
        modalities=config.modalities,
        settings=settings,
        on_mismatch=config.on_mismatch,
        progress=progress,
        record_fn=caption_record,
    )
    scores = caption_scores([r["predicted"] for r in rows], [r["truth"] for r in rows])
    return rows, {"n": len(rows), **scores}


def caption_table(scores: dict[str, dict[str, Any]], level: str = "modality") -> pd.DataFrame:
    """Precision / recall / F1 (in %) per split and ``level`` ("overall", "modality" or "cue"),
    from ``{split: caption_split scores}``; a row per (split, item) with its support."""
    rows = []
    for split, s in scores.items():
        items = {"all": s["overall"]} if level == "overall" else s[level]
        for item, prf in items.items():
            rows.append(
                {
                    "split": split,
                    level: item,
                    "precision": 100 * prf["precision"],
                    "recall": 100 * prf["recall"],
                    "f1": 100 * prf["f1"],
                    "support": prf["support"],
                }
            )
    return pd.DataFrame(rows).set_index(["split", level])


def caption_examples(rows: Sequence[dict], n: int = 5) -> pd.DataFrame:
    """The first ``n`` captions next to the truth: the caption, the cues it names, the true cues."""
    return pd.DataFrame(
        [
            {
                "id": r["id"],
                "caption": r["completion"],
                "named": ", ".join(r["predicted"]),
                "truth": ", ".join(r["truth"]),
            }
            for r in rows[:n]
        ]
    )
