"""SynthEmo's emotion-free perception split: faces and voices drawn without any emotion.

The ``perception`` split (``perception.jsonl``) is the unlabelled material of the base model:
its clips are made like the training clips (same identities, the training drawing style, the
training voices) but every face and voice parameter is drawn *independently*, uniformly over
the span the set's emotions reach::

    span(p) = [max(lo_p, min_{e, s} c_e,s(p) - 2 sigma_p),  min(hi_p, max_{e, s} c_e,s(p) + 2 sigma_p)]
    c_e,s(p) = neutral_p + s * (prototype_e(p) - neutral_p),   s in {0.45, 1.1} (the intensity range)
    p ~ U(span(p)),  independently for every parameter p

with ``[lo_p, hi_p]`` the parameter's range and ``sigma_p`` its noise (``emotions.py``). No
emotion is drawn, so no parameter depends on another and no label exists: a record has no
``label`` field, its target is a ``caption`` naming the present cues (``caption.py``), and
its question is :data:`r1omni.settings.PERCEPTION_PROMPT`.

Size: :func:`perception_size` = ``round(2000 * per_class / 100)`` clips (2,000 at the default).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from r1omni.data.synth.emotions import (
    FACE_RANGE,
    FACE_SIGMA,
    NEUTRAL_FACE,
    NEUTRAL_VOICE,
    PROTOTYPES,
    VOICE_RANGE,
    VOICE_SIGMA,
)
from r1omni.settings import AUDIO_TOKEN, PERCEPTION_PROMPT, PERCEPTION_SPLIT, VIDEO_TOKEN

SPLIT = PERCEPTION_SPLIT
#: Perception clips at the default ``per_class`` (100).
PERCEPTION_AT_DEFAULT = 2000
#: Intensity range of the emotional splits (``emotions.sample_intensity``).
INTENSITY_RANGE = (0.45, 1.1)
#: Half-widths of the span beyond the prototypes' reach, in noise standard deviations.
SPAN_SIGMAS = 2.0


def perception_size(per_class: int) -> int:
    """Clips in the perception split: proportional to ``per_class``, 2,000 at 100.

    >>> perception_size(100), perception_size(1)
    (2000, 20)
    """
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    return max(1, round(PERCEPTION_AT_DEFAULT * per_class / 100))


def _span(
    neutral: dict, sigma: dict, ranges: dict, which: int, labels: Sequence[str]
) -> dict[str, tuple[float, float]]:
    unknown = [label for label in labels if label not in PROTOTYPES]
    if unknown or not labels:
        raise ValueError(f"perception span: unknown SynthEmo emotions {unknown}; known: {sorted(PROTOTYPES)}")
    out = {}
    for name in neutral:
        centres = [
            neutral[name] + s * ({**neutral, **PROTOTYPES[label][which]}[name] - neutral[name])
            for label in labels
            for s in INTENSITY_RANGE
        ]
        lo, hi = ranges[name]
        out[name] = (
            max(lo, min(centres) - SPAN_SIGMAS * sigma[name]),
            min(hi, max(centres) + SPAN_SIGMAS * sigma[name]),
        )
    return out


@lru_cache(maxsize=8)
def face_span(labels: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    """``{face parameter: (low, high)}`` the emotions ``labels`` span (module docstring)."""
    return _span(NEUTRAL_FACE, FACE_SIGMA, FACE_RANGE, 0, labels)


@lru_cache(maxsize=8)
def voice_span(labels: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    """``{voice parameter: (low, high)}`` the emotions ``labels`` span (module docstring)."""
    return _span(NEUTRAL_VOICE, VOICE_SIGMA, VOICE_RANGE, 1, labels)


def _draw(span: dict[str, tuple[float, float]], rng: np.random.Generator) -> dict[str, float]:
    return {name: round(float(rng.uniform(lo, hi)), 4) for name, (lo, hi) in span.items()}  # fixed order


def sample_free_face(labels: Sequence[str], rng: np.random.Generator) -> dict[str, float]:
    """Apex face parameters drawn independently and uniformly over :func:`face_span`."""
    return _draw(face_span(tuple(labels)), rng)


def sample_free_voice(labels: Sequence[str], rng: np.random.Generator) -> dict[str, float]:
    """Prosody parameters drawn independently and uniformly over :func:`voice_span`."""
    return _draw(voice_span(tuple(labels)), rng)


def perception_conversations(caption: str) -> list[dict[str, str]]:
    """The two-turn conversation of a perception clip: the describe question, then the caption."""
    return [
        {"from": "human", "value": f"{VIDEO_TOKEN}\n{AUDIO_TOKEN}\n{PERCEPTION_PROMPT}"},
        {"from": "gpt", "value": caption},
    ]


def perception_record(*, id: str, video: str, subtitle: str, cues: dict, caption: str, domain: str = "synth") -> dict:
    """One ``perception.jsonl`` line: no ``label`` (nor ``face_label`` / ``voice_label``)."""
    return {
        "id": id,
        "video": video,
        "split": SPLIT,
        "subtitle": subtitle,
        "cues": cues,
        "caption": caption,
        "conversations": perception_conversations(caption),
        "domain": domain,
    }
