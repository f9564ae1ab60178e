"""EMER-style explanations written from a clip's true cues (the cold-start ``<think>`` text).

An explanation has three parts, as in EMER's annotations: what the face shows, what the
voice shows, and the conclusion. It names only cues listed in ``cues["present"]`` (so
:func:`r1omni.data.synth.cues.find_cue_mentions` of an explanation is a subset of the
present cues), with wording drawn at random from a few templates and each cue's synonyms.
When a modality shows no cue, a sentence without any cue phrase says so.

:func:`reasoning_corpus` lists sentences covering every word this module can produce (the
tiny model's tokenizer is trained on it).
"""

from __future__ import annotations

import numpy as np

from r1omni.data.synth.cues import CUES
from r1omni.settings import MAFW_LABELS

FACE_OPENERS: tuple[str, ...] = (
    "In the video, the person shows {cues}.",
    "Looking at the face, I notice {cues}.",
    "The character's face has {cues}.",
    "Visually, I see {cues}.",
)
FACE_NONE: tuple[str, ...] = (
    "The face stays mostly relaxed.",
    "The facial expression does not change much.",
)
VOICE_OPENERS: tuple[str, ...] = (
    "In the audio, the speaker has {cues}.",
    "Listening to the voice, I hear {cues}.",
    "The voice comes with {cues}.",
    "Acoustically, I notice {cues}.",
)
VOICE_NONE: tuple[str, ...] = (
    "The voice sounds even and ordinary.",
    "The speech carries no strong vocal emotion.",
)
CONCLUSIONS: tuple[str, ...] = (
    "Taken together, these clues suggest the emotion is {label}.",
    "Combining the face and the voice, the most obvious emotion is {label}.",
    "Overall, the person most likely feels {label}.",
    "Therefore, I judge the emotion to be {label}.",
)
#: Joiners for the last two items of a list ("a, b and c", "a, b as well as c").
LAST_JOINERS: tuple[str, ...] = (" and ", " as well as ", " along with ")


def join_phrases(phrases: list[str], last_joiner: str = " and ") -> str:
    """Join phrases as English: ``a``, ``a and b``, ``a, b and c``.

    >>> join_phrases(["x", "y", "z"])
    'x, y and z'
    """
    if not phrases:
        raise ValueError("join_phrases needs at least one phrase")
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + last_joiner + phrases[-1]


def modality_sentence(cue_ids: list[str], openers, nones, rng: np.random.Generator, *, ordered: bool = False) -> str:
    """One sentence naming ``cue_ids`` (random synonyms; random order, or with ``ordered`` the
    order of :data:`~r1omni.data.synth.cues.CUES`) with a random opener, or a random no-cue
    sentence from ``nones`` when ``cue_ids`` is empty."""
    if not cue_ids:
        return nones[rng.integers(len(nones))]
    if ordered:
        rank = {c: i for i, c in enumerate(CUES)}
        order = np.argsort([rank[c] for c in cue_ids], kind="stable")
    else:
        order = rng.permutation(len(cue_ids))
    phrases = [CUES[cue_ids[i]].phrases[rng.integers(len(CUES[cue_ids[i]].phrases))] for i in order]
    joined = join_phrases(phrases, LAST_JOINERS[rng.integers(len(LAST_JOINERS))])
    return openers[rng.integers(len(openers))].format(cues=joined)


def explain(label: str, present: list[str], rng: np.random.Generator) -> str:
    """An explanation of ``label`` naming exactly the cues in ``present`` (in random order).

    Face sentence first or voice first at random, then a conclusion naming ``label``.

    >>> text = explain("sad", ["frown", "soft_voice"], np.random.default_rng(0))
    >>> from r1omni.data.synth.cues import find_cue_mentions
    >>> sorted(find_cue_mentions(text)), text.endswith("sad.")
    (['frown', 'soft_voice'], True)
    """
    unknown = [c for c in present if c not in CUES]
    if unknown:
        raise ValueError(f"explain: unknown cue ids {unknown}; known: {sorted(CUES)}")
    face = [c for c in present if CUES[c].modality == "face"]
    voice = [c for c in present if CUES[c].modality == "voice"]
    parts = [
        modality_sentence(face, FACE_OPENERS, FACE_NONE, rng),
        modality_sentence(voice, VOICE_OPENERS, VOICE_NONE, rng),
    ]
    if rng.random() < 0.3:
        parts.reverse()
    parts.append(CONCLUSIONS[rng.integers(len(CONCLUSIONS))].format(label=label))
    return " ".join(parts)


def reasoning_corpus() -> list[str]:
    """Sentences that together contain every word :func:`explain` can produce.

    Every opener with every phrase of every cue of its modality (and a two-item list for
    each joiner), the no-cue sentences, and every conclusion with every MAFW label (a
    superset of DFEW's). Deterministic order.
    """
    corpus: list[str] = []
    for openers, nones, modality in ((FACE_OPENERS, FACE_NONE, "face"), (VOICE_OPENERS, VOICE_NONE, "voice")):
        phrases = [p for c in CUES.values() if c.modality == modality for p in c.phrases]
        for opener in openers:
            for phrase in phrases:
                corpus.append(opener.format(cues=phrase))
            for joiner in LAST_JOINERS:
                corpus.append(opener.format(cues=join_phrases(phrases[:3], joiner)))
        corpus.extend(nones)
    for conclusion in CONCLUSIONS:
        for label in MAFW_LABELS:
            corpus.append(conclusion.format(label=label))
    return corpus
