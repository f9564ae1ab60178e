"""Perception captions: write one from a clip's present cues, read the cues back, score captions.

A caption describes what the face and the voice show, one sentence per modality, in the
cold-start explanations' wording (the same openers, the same cue phrases and synonyms,
``explain.py``) but with no conclusion and so no emotion word. A modality without cues gets
one of the explanations' no-cue sentences ("The face stays mostly relaxed.").

:func:`parse_caption` maps any text to the set of cue ids it names (longest-phrase matching,
:func:`r1omni.data.synth.cues.find_cue_mentions`), so ``parse_caption(describe(c, rng)) ==
set(c)``. :func:`caption_scores` compares parsed captions with the truth: per cue, per
modality and overall precision, recall and F1 (micro-averaged over clips)::

    P = TP / (TP + FP),   R = TP / (TP + FN),   F1 = 2 P R / (P + R)   (0 when undefined)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from r1omni.data.synth.cues import CUES, find_cue_mentions
from r1omni.data.synth.explain import FACE_NONE, FACE_OPENERS, VOICE_NONE, VOICE_OPENERS, modality_sentence

MODALITIES = ("face", "voice")
#: Bumped when the captions :func:`describe` writes for the perception split change (a data
#: folder made with another version is rebuilt). 2: the cues in :data:`CUES` order, so that the
#: tiny base LM does not have to remember which cues it already named (docs/tuning.md).
CAPTION_VERSION = 2


def describe(present: Sequence[str], rng: np.random.Generator, *, ordered: bool = True) -> str:
    """A caption naming exactly the cues in ``present``: a face and a voice sentence (voice
    first 30 % of the time), random opener and synonyms, the cues of each sentence in the fixed
    order of :data:`~r1omni.data.synth.cues.CUES` (``ordered=False``: in random order, as
    caption version 1 wrote them).

    >>> text = describe(["smile", "loud_voice"], np.random.default_rng(0))
    >>> sorted(parse_caption(text))
    ['loud_voice', 'smile']
    >>> find_cue_mentions(describe(["nodding", "smile", "frown"], np.random.default_rng(1)))
    ['smile', 'frown', 'nodding']
    """
    unknown = [c for c in present if c not in CUES]
    if unknown:
        raise ValueError(f"describe: unknown cue ids {unknown}; known: {sorted(CUES)}")
    face = [c for c in present if CUES[c].modality == "face"]
    voice = [c for c in present if CUES[c].modality == "voice"]
    parts = [
        modality_sentence(face, FACE_OPENERS, FACE_NONE, rng, ordered=ordered),
        modality_sentence(voice, VOICE_OPENERS, VOICE_NONE, rng, ordered=ordered),
    ]
    if rng.random() < 0.3:
        parts.reverse()
    return " ".join(parts)


def parse_caption(text: str) -> frozenset[str]:
    """The cue ids a caption (or any text) names; not text -> the empty set.

    >>> sorted(parse_caption("Visually, I see widened eyes. The voice sounds even and ordinary."))
    ['wide_eyes']
    """
    if not isinstance(text, str):
        return frozenset()
    return frozenset(find_cue_mentions(text))


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f1, "tp": tp, "fp": fp, "fn": fn, "support": tp + fn}


def caption_scores(predicted: Iterable[str | Iterable[str]], truth: Iterable[Iterable[str]]) -> dict:
    """Precision / recall / F1 of predicted cues against the true present cues, clip by clip.

    ``predicted``: captions (parsed with :func:`parse_caption`) or sets of cue ids; ``truth``:
    the present cue ids of the same clips (``cues["present"]``). Returns ``{"overall": {...},
    "modality": {"face": {...}, "voice": {...}}, "cue": {cue_id: {...}}}``, each with
    precision, recall, f1, tp, fp, fn and support (= tp + fn).

    >>> s = caption_scores(["I see a smile and an open mouth."], [["smile", "frown"]])
    >>> s["overall"]["precision"], s["overall"]["recall"], s["cue"]["frown"]["fn"]
    (0.5, 0.5, 1)
    """
    predicted, truth = list(predicted), [set(t) for t in truth]
    if len(predicted) != len(truth):
        raise ValueError(f"caption_scores: {len(predicted)} predictions for {len(truth)} clips")
    counts = {c: [0, 0, 0] for c in CUES}  # tp, fp, fn
    for pred, true in zip(predicted, truth):
        pred = parse_caption(pred) if isinstance(pred, str) or pred is None else set(pred)
        unknown = sorted((set(pred) | true) - set(CUES))
        if unknown:
            raise ValueError(f"caption_scores: unknown cue ids {unknown}")
        for c in pred & true:
            counts[c][0] += 1
        for c in pred - true:
            counts[c][1] += 1
        for c in true - pred:
            counts[c][2] += 1

    def total(ids):
        return _prf(*(sum(counts[c][k] for c in ids) for k in range(3)))

    return {
        "overall": total(CUES),
        "modality": {m: total([c for c in CUES if CUES[c].modality == m]) for m in MODALITIES},
        "cue": {c: _prf(*counts[c]) for c in CUES},
    }
