"""Per-emotion distributions of SynthEmo's face and voice parameters.

Each emotion has a *prototype*: apex values of the face parameters and the voice's prosody
relative to the speaker's baseline. A clip draws an intensity ``s ~ U(0.45, 1.1)`` and

    param = neutral + s * (prototype - neutral) + noise,   noise ~ N(0, sigma_param^2)

clipped to the parameter's range. The noise is large enough that neighbouring emotions
overlap. Fusion matters by design:

- hard from the face, easy from the voice: angry vs disgust (both lowered brows, narrowed
  eyes, a wrinkled nose; angry is loud and fast, disgust soft, slow and falling) and
  fear vs surprise (both raised brows, wide eyes, open mouth; fear trembles, is breathy and
  soft, surprise is loud with rising intonation);
- hard from the voice, easy from the face: happy vs angry (both high pitch, lively,
  loud and fast; the face smiles vs frowns) and sad vs neutral (both low, flat, soft and
  slow-ish; the face frowns with slanted brows and a lowered head vs stays relaxed).

MAFW's four extra classes: contemptuous (smirk, raised chin, falling drawl), disappointed
(a weak sad face, sighing falling voice), helpless (worried brows, breathy soft voice),
anxious (a milder fear face, fast trembling voice).
"""

from __future__ import annotations

import numpy as np

#: Face parameters (apex values). See ``face.py`` for how each is drawn.
FACE_PARAMS: tuple[str, ...] = (
    "brow_raise",  # [-1, 1] brows lowered (-) / raised (+)
    "brow_inner",  # [-1, 1] inner brow corners pulled down (-, V shape) / up (+, worried)
    "eye_open",  # [0, 1] eye opening, 0.5 relaxed
    "mouth_curve",  # [-1, 1] mouth corners down (-) / up (+)
    "mouth_open",  # [0, 1] jaw drop
    "mouth_asym",  # [0, 1] one mouth corner raised (smirk)
    "nose_wrinkle",  # [0, 1] creases beside the nose
    "head_pitch",  # [-1, 1] head lowered (-) / chin up (+)
    "head_nod",  # [0, 1] amplitude of vertical head oscillation
    "head_shake",  # [0, 1] amplitude of horizontal head oscillation
    "onset_dur",  # seconds from neutral to apex
)
#: Voice parameters, relative to the speaker's baseline. See ``voice.py``.
VOICE_PARAMS: tuple[str, ...] = (
    "pitch_shift",  # semitones above the speaker's base F0
    "pitch_range",  # semitones of F0 excursion across syllable accents
    "rate",  # syllables per second
    "loudness",  # dB relative to the reference level
    "jitter",  # relative cycle-to-cycle F0 perturbation (+ 6 Hz tremor of the same size)
    "breathiness",  # [0, 1] aspiration noise mixed into the glottal source
    "pitch_slope",  # semitones of F0 change from the start to the end of the utterance
)

NEUTRAL_FACE = dict(
    brow_raise=0.0,
    brow_inner=0.0,
    eye_open=0.5,
    mouth_curve=0.0,
    mouth_open=0.05,
    mouth_asym=0.0,
    nose_wrinkle=0.0,
    head_pitch=0.0,
    head_nod=0.05,
    head_shake=0.05,
    onset_dur=0.6,
)
NEUTRAL_VOICE = dict(
    pitch_shift=0.0, pitch_range=4.0, rate=4.2, loudness=0.0, jitter=0.01, breathiness=0.25, pitch_slope=-1.0
)

#: Noise standard deviation per parameter (sets how much emotions overlap).
FACE_SIGMA = dict(
    brow_raise=0.33,
    brow_inner=0.33,
    eye_open=0.18,
    mouth_curve=0.3,
    mouth_open=0.18,
    mouth_asym=0.22,
    nose_wrinkle=0.27,
    head_pitch=0.3,
    head_nod=0.18,
    head_shake=0.18,
    onset_dur=0.18,
)
VOICE_SIGMA = dict(
    pitch_shift=1.95, pitch_range=2.4, rate=1.05, loudness=3.3, jitter=0.018, breathiness=0.22, pitch_slope=2.7
)

FACE_RANGE = dict(
    brow_raise=(-1, 1),
    brow_inner=(-1, 1),
    eye_open=(0.05, 1),
    mouth_curve=(-1, 1),
    mouth_open=(0, 1),
    mouth_asym=(0, 1),
    nose_wrinkle=(0, 1),
    head_pitch=(-1, 1),
    head_nod=(0, 1),
    head_shake=(0, 1),
    onset_dur=(0.08, 1.0),
)
VOICE_RANGE = dict(
    pitch_shift=(-6, 9),
    pitch_range=(0.5, 12),
    rate=(1.8, 8),
    loudness=(-12, 10),
    jitter=(0.0, 0.1),
    breathiness=(0, 1),
    pitch_slope=(-8, 9),
)

#: Apex prototypes: label -> (face overrides, voice overrides); unspecified = neutral.
PROTOTYPES: dict[str, tuple[dict, dict]] = {
    "neutral": ({}, {}),
    "happy": (
        dict(brow_raise=0.15, eye_open=0.42, mouth_curve=0.85, mouth_open=0.3, head_pitch=0.1, head_nod=0.45),
        dict(pitch_shift=4.0, pitch_range=8.0, rate=5.6, loudness=5.0, pitch_slope=0.5),
    ),
    "angry": (
        dict(
            brow_raise=-0.8,
            brow_inner=-0.55,
            eye_open=0.3,
            mouth_curve=-0.45,
            mouth_open=0.25,
            nose_wrinkle=0.4,
            head_shake=0.3,
        ),
        dict(pitch_shift=3.6, pitch_range=7.5, rate=5.6, loudness=6.0, jitter=0.02, breathiness=0.15, pitch_slope=0.0),
    ),
    "disgust": (
        dict(
            brow_raise=-0.65,
            brow_inner=-0.4,
            eye_open=0.32,
            mouth_curve=-0.5,
            mouth_open=0.2,
            mouth_asym=0.15,
            nose_wrinkle=0.55,
            head_pitch=-0.1,
            head_shake=0.3,
        ),
        dict(
            pitch_shift=-2.5, pitch_range=4.0, rate=3.0, loudness=-3.5, jitter=0.015, breathiness=0.4, pitch_slope=-4.5
        ),
    ),
    "surprise": (
        dict(brow_raise=0.9, brow_inner=0.2, eye_open=0.93, mouth_open=0.7, head_pitch=0.2, onset_dur=0.15),
        dict(pitch_shift=5.5, pitch_range=9.0, rate=4.6, loudness=4.5, pitch_slope=5.5),
    ),
    "fear": (
        dict(
            brow_raise=0.75,
            brow_inner=0.45,
            eye_open=0.9,
            mouth_curve=-0.2,
            mouth_open=0.55,
            head_pitch=-0.05,
            head_shake=0.25,
            onset_dur=0.3,
        ),
        dict(pitch_shift=5.0, pitch_range=4.5, rate=6.3, loudness=-2.5, jitter=0.06, breathiness=0.65, pitch_slope=0.5),
    ),
    "sad": (
        dict(brow_raise=-0.1, brow_inner=0.75, eye_open=0.3, mouth_curve=-0.65, head_pitch=-0.65),
        dict(pitch_shift=-1.8, pitch_range=2.4, rate=3.4, loudness=-3.0, breathiness=0.4, pitch_slope=-2.0),
    ),
    # MAFW's extra classes.
    "contemptuous": (
        dict(brow_raise=0.15, brow_inner=-0.15, eye_open=0.42, mouth_curve=0.15, mouth_asym=0.75, head_pitch=0.45),
        dict(pitch_shift=-1.0, pitch_range=5.0, rate=3.2, loudness=-1.0, pitch_slope=-4.0),
    ),
    "disappointed": (
        dict(brow_inner=0.4, eye_open=0.4, mouth_curve=-0.4, mouth_asym=0.1, head_pitch=-0.35, head_shake=0.25),
        dict(pitch_shift=-2.0, pitch_range=3.5, rate=3.2, loudness=-3.0, breathiness=0.65, pitch_slope=-5.0),
    ),
    "helpless": (
        dict(
            brow_raise=0.35,
            brow_inner=0.65,
            eye_open=0.5,
            mouth_curve=-0.3,
            mouth_open=0.2,
            head_pitch=-0.2,
            head_shake=0.3,
        ),
        dict(pitch_shift=0.5, pitch_range=4.5, rate=3.6, loudness=-4.0, jitter=0.02, breathiness=0.7, pitch_slope=-2.0),
    ),
    "anxious": (
        dict(brow_raise=0.35, brow_inner=0.5, eye_open=0.72, mouth_curve=-0.2, mouth_open=0.15, head_shake=0.4),
        dict(pitch_shift=3.0, pitch_range=3.0, rate=6.2, loudness=-1.0, jitter=0.05, breathiness=0.45, pitch_slope=1.0),
    ),
}

#: Pairs that are hard from one modality and easy from the other (DFEW labels).
FACE_HARD_PAIRS: tuple[tuple[str, str], ...] = (("angry", "disgust"), ("fear", "surprise"))
VOICE_HARD_PAIRS: tuple[tuple[str, str], ...] = (("happy", "angry"), ("sad", "neutral"))


def _sample(
    label: str, which: int, neutral: dict, sigma: dict, ranges: dict, intensity: float, rng: np.random.Generator
) -> dict[str, float]:
    if label not in PROTOTYPES:
        raise ValueError(f"unknown SynthEmo emotion {label!r}; known: {sorted(PROTOTYPES)}")
    proto = {**neutral, **PROTOTYPES[label][which]}
    out = {}
    for name in neutral:  # fixed order: one rng draw per parameter
        value = neutral[name] + intensity * (proto[name] - neutral[name]) + sigma[name] * rng.standard_normal()
        lo, hi = ranges[name]
        out[name] = round(float(np.clip(value, lo, hi)), 4)
    return out


def sample_face(label: str, intensity: float, rng: np.random.Generator) -> dict[str, float]:
    """Apex face parameters for one clip of ``label`` (keys: :data:`FACE_PARAMS`)."""
    return _sample(label, 0, NEUTRAL_FACE, FACE_SIGMA, FACE_RANGE, intensity, rng)


def sample_voice(label: str, intensity: float, rng: np.random.Generator) -> dict[str, float]:
    """Prosody parameters for one clip of ``label`` (keys: :data:`VOICE_PARAMS`)."""
    return _sample(label, 1, NEUTRAL_VOICE, VOICE_SIGMA, VOICE_RANGE, intensity, rng)


def sample_intensity(rng: np.random.Generator) -> float:
    """How strongly a clip expresses its emotion (scales the distance from neutral)."""
    return round(float(rng.uniform(0.45, 1.1)), 4)
