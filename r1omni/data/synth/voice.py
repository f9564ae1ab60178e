"""A speech-like voice in numpy: glottal pulses through formant filters, with emotional prosody.

Source-filter synthesis, per clip:

1. Syllables: ``n = round(rate * speech_time)`` syllables of jittered length, each a short
   noise burst (consonant) then a voiced vowel (one of a, e, i, o, u) under a raised-cosine
   envelope.
2. F0 contour in semitones over the speaker's base F0 ``f_b``:
   ``st(t) = pitch_shift + pitch_slope * (tau - 1/2) + accent_syllable(t)``, accents drawn
   in ``[-pitch_range/2, pitch_range/2]`` and smoothed; then
   ``f0(t) = f_b * 2^(st/12) * (1 + jitter * (n(t) + sin(2 pi 6 t)))`` with ``n`` low-passed
   unit noise (cycle-to-cycle jitter plus a 6 Hz tremor).
3. Glottal flow (raised cosine over the open quotient ``oq`` of each period), differentiated
   (lip radiation), mixed with aspiration noise in proportion to ``breathiness``.
4. Vocal tract: three two-pole formant resonators per vowel, scaled by the speaker's
   ``formant_scale`` (a shorter tract = higher formants).
5. Level: the speech is normalised to a reference RMS and scaled by ``10^(loudness/20)``,
   then passed through a soft limiter ``0.99 tanh(x / 0.99)``; a faint noise floor keeps the
   track from being digitally silent.

The ood speaker has another timbre and pitch range (higher F0, higher formants, a smoother
glottal pulse): see :func:`sample_speaker`.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve, lfilter

#: Formant frequencies (Hz) of five vowels for an adult tract (formant_scale = 1).
VOWELS: dict[str, tuple[float, float, float]] = {
    "a": (730, 1090, 2440),
    "e": (530, 1840, 2480),
    "i": (270, 2290, 3010),
    "o": (570, 840, 2410),
    "u": (300, 870, 2240),
}
BANDWIDTHS = (80.0, 100.0, 130.0)
REFERENCE_RMS = 0.05
NOISE_FLOOR_RMS = 0.0015
DOMAINS = ("synth", "ood")


def sample_speaker(rng: np.random.Generator, domain: str = "synth") -> dict:
    """Per-clip voice identity: base F0 (Hz), formant scale, open quotient, consonant colour.

    synth: F0 95-220 Hz, formant scale 0.88-1.12, open quotient 0.45-0.6 (a buzzy pulse).
    ood: F0 240-330 Hz, formant scale 1.22-1.38, open quotient 0.75-0.9 (a smooth, flute-like
    pulse): a different timbre and a pitch range the training voices never reach.
    """
    if domain not in DOMAINS:
        raise ValueError(f"unknown voice domain {domain!r}; expected one of {DOMAINS}")
    r = lambda lo, hi: round(float(rng.uniform(lo, hi)), 3)  # noqa: E731
    if domain == "synth":
        return dict(
            domain=domain,
            base_f0=round(float(np.exp(rng.uniform(np.log(95), np.log(220)))), 2),
            formant_scale=r(0.88, 1.12),
            open_quotient=r(0.45, 0.6),
            consonant_hz=r(2500, 5000),
        )
    return dict(
        domain=domain,
        base_f0=r(240, 330),
        formant_scale=r(1.22, 1.38),
        open_quotient=r(0.75, 0.9),
        consonant_hz=r(3000, 6000),
    )


def _resonator(freq: float, bandwidth: float, sr: int) -> np.ndarray:
    """Denominator of a two-pole resonator: ``1 - 2 r cos(theta) z^-1 + r^2 z^-2``."""
    r = np.exp(-np.pi * bandwidth / sr)
    return np.array([1.0, -2 * r * np.cos(2 * np.pi * freq / sr), r * r])


def _vowel_filter(vowel: str, scale: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Cascade of three formant resonators as one (b, a) with unit gain at DC."""
    a = np.array([1.0])
    for f, bw in zip(VOWELS[vowel], BANDWIDTHS):
        a = np.convolve(a, _resonator(min(f * scale, 0.45 * sr), bw, sr))
    return np.array([a.sum()]), a


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    kernel = np.hanning(max(3, width))
    return fftconvolve(x, kernel / kernel.sum(), mode="same")


def render_voice(
    speaker: dict, v: dict, rng: np.random.Generator, *, duration: float = 2.0, sample_rate: int = 16_000
) -> tuple[np.ndarray, dict]:
    """Audio (N,) float32 in [-1, 1] for prosody ``v`` (``emotions.VOICE_PARAMS``).

    Returns the audio and the realised timing ``{"speech_start", "speech_end", "syllables"}``.
    """
    sr, n = sample_rate, int(round(duration * sample_rate))
    t = np.arange(n) / sr
    t0, t1 = rng.uniform(0.08, 0.22), duration - rng.uniform(0.08, 0.22)
    n_syl = max(2, int(round(v["rate"] * (t1 - t0))))
    lengths = rng.uniform(0.75, 1.25, n_syl)
    bounds = t0 + (t1 - t0) * np.concatenate([[0], np.cumsum(lengths) / lengths.sum()])

    # F0 contour (semitones), syllable accents smoothed over ~60 ms
    tau = np.clip((t - t0) / (t1 - t0), 0, 1)
    accents = rng.uniform(-0.5, 0.5, n_syl) * v["pitch_range"]
    syl_index = np.clip(np.searchsorted(bounds, t, side="right") - 1, 0, n_syl - 1)
    st = v["pitch_shift"] + v["pitch_slope"] * (tau - 0.5) + _smooth(accents[syl_index], int(0.06 * sr))
    wobble = _smooth(rng.standard_normal(n), int(sr / 60))
    wobble /= wobble.std() + 1e-9
    f0 = speaker["base_f0"] * 2 ** (st / 12) * (1 + v["jitter"] * (wobble + np.sin(2 * np.pi * 6 * t)))

    # glottal source: differentiated raised-cosine flow, plus aspiration noise
    phase = np.cumsum(f0 / sr) % 1.0
    oq = speaker["open_quotient"]
    flow = np.where(phase < oq, 0.5 * (1 - np.cos(2 * np.pi * phase / oq)), 0.0)
    pulses = np.diff(flow, prepend=0.0)
    pulses /= np.abs(pulses).max() + 1e-9
    noise = rng.standard_normal(n) * (0.3 + flow)
    b = v["breathiness"]
    source = (1 - b) * pulses + b * 0.35 * noise

    # syllable by syllable: consonant burst, then a filtered vowel under its envelope
    speech = np.zeros(n)
    vowels = list(VOWELS)
    for k in range(n_syl):
        a_idx, b_idx = int(bounds[k] * sr), int(bounds[k + 1] * sr)
        cons = int(min(0.3 * (b_idx - a_idx), 0.035 * sr)) if rng.random() < 0.6 else 0
        if cons > 8:
            burst = lfilter([1.0], _resonator(speaker["consonant_hz"], 1500.0, sr), rng.standard_normal(cons))
            speech[a_idx : a_idx + cons] += 0.02 * burst * np.hanning(cons)
        seg = slice(a_idx + cons, b_idx)
        num, den = _vowel_filter(vowels[rng.integers(len(vowels))], speaker["formant_scale"], sr)
        voiced = lfilter(num, den, source[seg])
        speech[seg] += voiced * np.hanning(len(voiced)) * rng.uniform(0.7, 1.0)

    active = speech[int(t0 * sr) : int(t1 * sr)]
    speech *= REFERENCE_RMS / (np.sqrt(np.mean(active**2)) + 1e-9) * 10 ** (v["loudness"] / 20)
    speech += NOISE_FLOOR_RMS * rng.standard_normal(n)
    audio = (0.99 * np.tanh(speech / 0.99)).astype(np.float32)
    return audio, {"speech_start": round(float(t0), 4), "speech_end": round(float(t1), 4), "syllables": n_syl}
