"""Reasoning grounding: what the ``<think>`` text says against the clip's true SynthEmo cues."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from r1omni.settings import ANSWER_OPEN, KNOWN_LABELS, THINK_CLOSE, THINK_OPEN

#: The canonical labels the reasoning may conclude (longest first, so "contemptuous" wins over shorter words).
_LABEL_WORDS = sorted(KNOWN_LABELS, key=len, reverse=True)
_LABEL_RE = re.compile(r"\b(" + "|".join(map(re.escape, _LABEL_WORDS)) + r")\b", re.IGNORECASE)


def think_text(completion: str) -> str | None:
    """The text inside the first ``<think>...</think>`` (or before ``<answer>`` when the closing
    tag is missing); ``None`` when there is no ``<think>`` at all."""
    start = completion.find(THINK_OPEN)
    if start < 0:
        return None
    rest = completion[start + len(THINK_OPEN) :]
    for stop in (THINK_CLOSE, ANSWER_OPEN):
        end = rest.find(stop)
        if end >= 0:
            return rest[:end]
    return rest


def reasoning_label(completion: str) -> str | None:
    """The last emotion label the ``<think>`` text names (its conclusion), or None.

    >>> reasoning_label("<think>The brows drop, so they look sad.</think><answer>angry</answer>")
    'sad'
    >>> reasoning_label("<answer>angry</answer>") is None
    True
    """
    named = _LABEL_RE.findall(think_text(completion) or "")
    return named[-1].lower() if named else None


def answer_agreement(concluded: str | None, answer: str | None) -> str:
    """ "agree" / "contradict" between the reasoning's conclusion and the parsed answer, or
    "no label" (the reasoning names none) / "no answer" (the answer does not parse)."""
    if concluded is None:
        return "no label"
    if answer is None:
        return "no answer"
    return "agree" if concluded == answer else "contradict"


def hedging_summary(records: Sequence[dict]) -> dict[str, float]:
    """What a policy writes, read for reward hacking: one dict over records with ``completion``
    and ``label`` (preview or prediction rows).

    - ``strict_accuracy`` (:func:`r1omni.rewards.accuracy_reward`) and ``lenient_accuracy``
      (:func:`r1omni.rewards.hacks.substring_accuracy_reward`: the label anywhere pays);
    - ``contradiction_rate``: among completions whose reasoning concludes a label and whose answer
      parses, the share where the two differ (hedging: one label in ``<think>``, another in
      ``<answer>``, which doubles the lenient reward's chance and never costs it);
    - ``think_rate``, ``mean_labels_named`` (distinct labels anywhere in the text), ``mean_words``.

    >>> rows = [{"completion": "<think>so sad</think><answer>angry</answer>", "label": "sad"},
    ...         {"completion": "<think>so sad</think><answer>sad</answer>", "label": "sad"}]
    >>> s = hedging_summary(rows)
    >>> (s["strict_accuracy"], s["lenient_accuracy"], s["contradiction_rate"], s["mean_labels_named"])
    (0.5, 1.0, 0.5, 1.5)
    """
    from r1omni.rewards import accuracy_reward, parse_answer
    from r1omni.rewards.hacks import substring_accuracy_reward

    if not records:
        raise ValueError("no records to read for hedging")
    texts = [r["completion"] for r in records]
    labels = [r["label"] for r in records]
    agreement = [answer_agreement(reasoning_label(t), parse_answer(t)) for t in texts]
    labelled = [a for a in agreement if a in ("agree", "contradict")]
    n = len(records)
    return {
        "n": n,
        "strict_accuracy": float(np.mean(accuracy_reward(texts, label=labels))),
        "lenient_accuracy": float(np.mean(substring_accuracy_reward(texts, label=labels))),
        "contradiction_rate": labelled.count("contradict") / len(labelled) if labelled else float("nan"),
        "labelled": len(labelled),
        "think_rate": sum(think_text(t) is not None for t in texts) / n,
        "mean_labels_named": float(np.mean([len({m.lower() for m in _LABEL_RE.findall(t)}) for t in texts])),
        "mean_words": float(np.mean([len(t.split()) for t in texts])),
    }


def grounding_record(record: dict) -> dict[str, Any]:
    """Grounding of one prediction's reasoning against the clip's true cues.

    Returns: has_think, mentions (cue ids), face / voice (mentioned cue ids per modality),
    mode ("both", "visual", "audio", "none"), hallucinated (mentioned but not in
    ``cues["present"]``), covered (present cues that are mentioned), reasoning_label (the last
    emotion label named in the reasoning, or None) and agreement ("agree", "contradict",
    "no label", "no answer").
    """
    from r1omni.data.synth.cues import CUES, find_cue_mentions

    cues = record.get("cues") or {}
    if "present" not in cues:
        raise ValueError(f"prediction record {record.get('id')!r} has no cues['present'] (not a SynthEmo record?)")
    present = set(cues["present"])
    think = think_text(record["completion"])
    mentions = find_cue_mentions(think) if think else []
    face = [c for c in mentions if CUES[c].modality == "face"]
    voice = [c for c in mentions if CUES[c].modality == "voice"]
    mode = "both" if face and voice else "visual" if face else "audio" if voice else "none"
    concluded = reasoning_label(record["completion"])
    agreement = answer_agreement(concluded, record["answer"])
    return {
        "id": record["id"],
        "has_think": think is not None,
        "mentions": mentions,
        "face": face,
        "voice": voice,
        "mode": mode,
        "hallucinated": [c for c in mentions if c not in present],
        "covered": [c for c in present if c in mentions],
        "n_present": len(present),
        "reasoning_label": concluded,
        "agreement": agreement,
    }


def grounding_summary(records: Sequence[dict]) -> dict[str, float]:
    """Rates over clips (and over mentions for the hallucination rate).

    - ``think_rate``: clips with a ``<think>`` block; ``visual_rate`` / ``audio_rate``: clips
      whose reasoning names at least one face / voice cue; ``both_rate``, ``none_rate``.
    - ``hallucination_rate``: hallucinated mentions / all mentions (NaN with no mentions);
      ``clips_with_hallucination_rate``; per modality ``face_hallucination_rate`` /
      ``voice_hallucination_rate``.
    - ``cue_recall``: mentioned true cues / present cues, pooled.
    - ``agreement_rate`` / ``contradiction_rate``: among clips whose reasoning names a label and
      whose answer parses; ``no_label_rate`` over all clips.
    """
    if not records:
        raise ValueError("no prediction records to ground")
    g = [grounding_record(r) for r in records]
    n = len(g)

    def ratio(num: float, den: float) -> float:
        return float(num / den) if den else float("nan")

    mentions = sum(len(x["mentions"]) for x in g)
    face_m, voice_m = sum(len(x["face"]) for x in g), sum(len(x["voice"]) for x in g)
    hall = [set(x["hallucinated"]) for x in g]
    labelled = [x for x in g if x["agreement"] in ("agree", "contradict")]
    modes = Counter(x["mode"] for x in g)
    return {
        "n": n,
        "think_rate": ratio(sum(x["has_think"] for x in g), n),
        "visual_rate": ratio(modes["visual"] + modes["both"], n),
        "audio_rate": ratio(modes["audio"] + modes["both"], n),
        "both_rate": ratio(modes["both"], n),
        "none_rate": ratio(modes["none"], n),
        "mean_mentions": ratio(mentions, n),
        "hallucination_rate": ratio(sum(len(h) for h in hall), mentions),
        "clips_with_hallucination_rate": ratio(sum(bool(h) for h in hall), n),
        "face_hallucination_rate": ratio(sum(len(h & set(x["face"])) for h, x in zip(hall, g)), face_m),
        "voice_hallucination_rate": ratio(sum(len(h & set(x["voice"])) for h, x in zip(hall, g)), voice_m),
        "cue_recall": ratio(sum(len(x["covered"]) for x in g), sum(x["n_present"] for x in g)),
        "agreement_rate": ratio(sum(x["agreement"] == "agree" for x in labelled), len(labelled)),
        "contradiction_rate": ratio(sum(x["agreement"] == "contradict" for x in labelled), len(labelled)),
        "no_label_rate": ratio(sum(x["agreement"] == "no label" for x in g), n),
    }
