"""Subtitles: one short, emotionally neutral sentence per clip.

As in RAVDESS ("Kids are talking by the door"), the words carry no emotion: the sentence is
drawn independently of the label from ``subject x verb x place`` (8 x 6 x 8 = 384 sentences),
so any emotion signal must come from the face and the voice.
"""

from __future__ import annotations

import numpy as np

SUBJECTS = (
    "The kids",
    "My neighbours",
    "Two dogs",
    "The students",
    "Our friends",
    "The old man",
    "A young woman",
    "The workers",
)
VERBS = ("are talking", "are sitting", "are waiting", "were standing", "will meet", "keep walking")
PLACES = (
    "by the door",
    "near the station",
    "in the kitchen",
    "at the corner",
    "on the bus",
    "after lunch",
    "behind the school",
    "next to the window",
)


def all_subtitles() -> list[str]:
    """Every sentence the generator can produce, in a fixed order."""
    return [f"{s} {v} {p}." for s in SUBJECTS for v in VERBS for p in PLACES]


def sample_subtitle(rng: np.random.Generator) -> str:
    """One sentence, independent of the clip's emotion.

    >>> sample_subtitle(np.random.default_rng(0)) in all_subtitles()
    True
    """
    return (
        f"{SUBJECTS[rng.integers(len(SUBJECTS))]} {VERBS[rng.integers(len(VERBS))]} "
        f"{PLACES[rng.integers(len(PLACES))]}."
    )
