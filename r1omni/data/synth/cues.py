"""SynthEmo's observable cues: what a viewer could name in a clip, and how to find them in text.

A *cue* is a named, thresholded view of one generating parameter: ``wide_eyes`` is present
when the face's ``eye_open`` parameter is above 0.72 at the expression's apex. Every
SynthEmo record lists the cues that are really present in ``cues["present"]``; the
explanation generator (:mod:`r1omni.data.synth.explain`) only names present cues, and
:func:`find_cue_mentions` recovers the cue ids named in any free text (for the grounding
reward and for checking explanations).

Each cue has a few interchangeable phrases (noun phrases, no articles). Phrases are unique
across cues, so a phrase names exactly one cue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Cue:
    """One observable cue."""

    id: str
    """Stable identifier, e.g. ``"wide_eyes"``."""
    modality: Literal["face", "voice"]
    """Which stream shows it: the drawn face or the voice."""
    param: str
    """The generating parameter it reads (a key of ``cues["face"]`` or ``cues["voice"]``)."""
    above: bool
    """True: present when ``param > threshold``; False: present when ``param < threshold``."""
    threshold: float
    """The decision threshold on ``param``."""
    phrases: tuple[str, ...]
    """Interchangeable wordings (noun phrases, lower case, no article); the first is canonical."""

    def is_present(self, value: float) -> bool:
        """Whether a parameter value shows this cue."""
        return value > self.threshold if self.above else value < self.threshold


def _cue(id, modality, param, op, threshold, *phrases):
    return Cue(id, modality, param, op == ">", float(threshold), tuple(phrases))


#: Every cue, by id. Face parameters are apex values; voice parameters are relative to the
#: speaker's own baseline (semitones, syllables per second, dB), see ``emotions.py``.
CUES: dict[str, Cue] = {
    c.id: c
    for c in (
        # --- face -----------------------------------------------------------------------------
        _cue(
            "raised_brows",
            "face",
            "brow_raise",
            ">",
            0.35,
            "raised eyebrows",
            "lifted brows",
            "eyebrows pulled up high",
        ),
        _cue("lowered_brows", "face", "brow_raise", "<", -0.35, "lowered eyebrows", "furrowed brows", "knitted brows"),
        _cue(
            "worried_brows",
            "face",
            "brow_inner",
            ">",
            0.35,
            "inner brow corners raised",
            "slanted worried brows",
            "brows tilted up in the middle",
        ),
        _cue("wide_eyes", "face", "eye_open", ">", 0.72, "wide open eyes", "widened eyes", "staring eyes"),
        _cue("narrowed_eyes", "face", "eye_open", "<", 0.35, "narrowed eyes", "squinting eyes", "half closed eyes"),
        _cue("smile", "face", "mouth_curve", ">", 0.35, "smile", "upturned mouth corners", "smiling lips"),
        _cue("frown", "face", "mouth_curve", "<", -0.3, "downturned mouth corners", "frowning mouth", "drooping lips"),
        _cue("open_mouth", "face", "mouth_open", ">", 0.4, "open mouth", "dropped jaw", "parted lips"),
        _cue("smirk", "face", "mouth_asym", ">", 0.4, "one sided smirk", "lopsided mouth", "mouth raised on one side"),
        _cue("wrinkled_nose", "face", "nose_wrinkle", ">", 0.4, "wrinkled nose", "creased nose", "nose scrunched up"),
        _cue("head_down", "face", "head_pitch", "<", -0.35, "lowered head", "head bowed down", "downcast gaze"),
        _cue("chin_up", "face", "head_pitch", ">", 0.35, "raised chin", "head tilted back", "chin lifted up"),
        _cue("nodding", "face", "head_nod", ">", 0.3, "nodding", "repeated nods", "bobbing head"),
        _cue(
            "head_shake", "face", "head_shake", ">", 0.3, "head shaking", "side to side head movement", "restless head"
        ),
        _cue(
            "sudden_onset",
            "face",
            "onset_dur",
            "<",
            0.25,
            "sudden change of expression",
            "abrupt expression onset",
            "expression that appears at once",
        ),
        # --- voice ----------------------------------------------------------------------------
        _cue("high_pitch", "voice", "pitch_shift", ">", 2.5, "high pitch", "raised pitch", "elevated tone"),
        _cue("low_pitch", "voice", "pitch_shift", "<", -1.5, "low pitch", "deep tone", "lowered pitch"),
        _cue(
            "wide_pitch_range",
            "voice",
            "pitch_range",
            ">",
            6.5,
            "wide pitch range",
            "lively melody",
            "strongly varying pitch",
        ),
        _cue(
            "flat_pitch",
            "voice",
            "pitch_range",
            "<",
            2.5,
            "flat intonation",
            "monotone delivery",
            "little pitch variation",
        ),
        _cue("fast_speech", "voice", "rate", ">", 5.0, "fast speaking rate", "rapid speech", "hurried delivery"),
        _cue("slow_speech", "voice", "rate", "<", 3.2, "slow speaking rate", "unhurried speech", "dragging delivery"),
        _cue("loud_voice", "voice", "loudness", ">", 3.0, "loud volume", "forceful voice", "raised voice"),
        _cue("soft_voice", "voice", "loudness", "<", -3.0, "soft volume", "quiet voice", "hushed speech"),
        _cue("trembling_voice", "voice", "jitter", ">", 0.035, "trembling voice", "shaky voice", "quivering tone"),
        _cue("breathy_voice", "voice", "breathiness", ">", 0.5, "breathy voice", "airy tone", "sighing quality"),
        _cue(
            "rising_intonation",
            "voice",
            "pitch_slope",
            ">",
            3.0,
            "rising intonation",
            "pitch rising at the end",
            "upward inflection",
        ),
        _cue(
            "falling_intonation",
            "voice",
            "pitch_slope",
            "<",
            -3.0,
            "falling intonation",
            "pitch dropping at the end",
            "downward inflection",
        ),
    )
}

FACE_CUES: tuple[str, ...] = tuple(k for k, c in CUES.items() if c.modality == "face")
VOICE_CUES: tuple[str, ...] = tuple(k for k, c in CUES.items() if c.modality == "voice")

_WORD = re.compile(r"[a-z]+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _build_trie() -> dict:
    trie: dict = {}
    for cue in CUES.values():
        for phrase in cue.phrases:
            node = trie
            for word in _words(phrase):
                node = node.setdefault(word, {})
            if "$" in node and node["$"] != cue.id:
                raise ValueError(f"cue phrase {phrase!r} names both {node['$']} and {cue.id}")
            node["$"] = cue.id
    return trie


_TRIE = _build_trie()
_MAX_PHRASE_WORDS = max(len(_words(p)) for c in CUES.values() for p in c.phrases)


def find_cue_mentions(text: str) -> list[str]:
    """Cue ids named in ``text``, in order of first mention, each once.

    Matching is on lower-cased words (punctuation and hyphens are word breaks), taking the
    longest phrase at each position, so the cost is O(len(text) * longest phrase in words).
    Negation is not interpreted: "no smile" still names ``smile``.

    >>> find_cue_mentions("The eyebrows are raised? No: raised eyebrows, a SMILE and a smile.")
    ['raised_brows', 'smile']
    >>> find_cue_mentions("Inner brow corners raised; the voice has a high-pitch, shaky voice.")
    ['worried_brows', 'high_pitch', 'trembling_voice']
    """
    words = _words(text)
    found: dict[str, None] = {}
    i = 0
    while i < len(words):
        node, best, best_end = _TRIE, None, i + 1
        for j in range(i, min(len(words), i + _MAX_PHRASE_WORDS)):
            node = node.get(words[j])
            if node is None:
                break
            if "$" in node:
                best, best_end = node["$"], j + 1
        if best is not None:
            found.setdefault(best, None)
            i = best_end
        else:
            i += 1
    return list(found)


def present_cues(face: Mapping[str, float], voice: Mapping[str, float]) -> list[str]:
    """Cue ids present given a clip's face and voice parameters, in :data:`CUES` order.

    A missing parameter is an error (naming it), never silently treated as absent. A voice
    whose ``voice["rendered"]`` lists the parameters its engine really rendered (the espeak-ng
    voice, :mod:`r1omni.data.synth.espeak`) shows no cue on any other voice parameter.
    """
    out = []
    rendered = voice.get("rendered")
    for cue in CUES.values():
        params = face if cue.modality == "face" else voice
        if cue.modality == "voice" and rendered is not None and cue.param not in rendered:
            continue
        if cue.param not in params:
            raise KeyError(f"cue {cue.id}: {cue.modality} parameter {cue.param!r} missing (have {sorted(params)})")
        if cue.is_present(float(params[cue.param])):
            out.append(cue.id)
    return out


def cue_words(present: Iterable[str]) -> dict[str, list[str]]:
    """Canonical phrases of present cues, split by modality (the record's ``cues["words"]``)."""
    words: dict[str, list[str]] = {"face": [], "voice": []}
    for cue_id in present:
        cue = CUES[cue_id]
        words[cue.modality].append(cue.phrases[0])
    return words
