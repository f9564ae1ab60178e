"""The optional espeak-ng voice: espeak-ng speaks the clip's subtitle with emotional prosody.

``generate(..., voice="espeak")`` (CLI ``--voice espeak``) replaces the numpy voice
(:mod:`r1omni.data.synth.voice`) by espeak-ng, found on ``PATH``. espeak-ng is never a silent
fallback and never silently skipped: asked for and missing, :func:`find_espeak` raises
:class:`EspeakNotFound` saying how to install it.

espeak-ng controls only four of the seven prosody parameters the emotions sample
(``emotions.VOICE_PARAMS``), so only those are *rendered* and can be cues:

===============  ==========================================  ===================================
parameter        espeak-ng control (integer, as passed)      realised value recorded
===============  ==========================================  ===================================
pitch_shift      ``-p P`` (0-99), speaker base ``P_b``       ``T(P) - T(P_b)`` semitones
pitch_range      SSML ``<prosody range="R">`` (0-100)        ``4.0 * R / 50`` semitones
rate             ``-s S`` words/min (80-450)                 ``4.2 * S / 175`` syllables/s
loudness         ``-a A`` (0-200, linear amplitude)          ``20 log10(A / 100)`` dB
===============  ==========================================  ===================================

``T`` is :data:`PITCH_SEMITONES`, F0 (semitones re ``-p 50``) measured with ``librosa.pyin``
on espeak-ng 1.51 (median over the voices en-us+m1, m3, m6, f2, f4); ``-p`` is kept within
[20, 99] where that curve is consistent across voices. The neutral prosody (range 4.0 st, rate
4.2 syl/s, 0 dB) maps to espeak-ng's defaults (range 50, speed 175, amplitude 100).
``jitter``, ``breathiness`` and ``pitch_slope`` have no espeak-ng control: they are kept under
``cues["voice"]["target"]`` (what the emotion asked for) but are not rendered, so their cues
(trembling, breathy, rising/falling intonation) are never present in an espeak clip.

Placement: the utterance starts at ``t0 ~ U(0.08, 0.22)`` s; one longer than the rest of the
clip is cut at the clip's end (``cues["voice"]["cut"]``; slow speech is often cut at 2 s).
espeak-ng's 22,050 Hz output is resampled with ``librosa.resample`` (soxr), scaled by the fixed
:data:`OUTPUT_GAIN` (no per-clip normalisation, so ``-a`` sets the level), given the numpy
voice's faint noise floor and soft limiter. espeak-ng is deterministic for fixed arguments.
"""

from __future__ import annotations

import io
import shutil
import subprocess

import librosa
import numpy as np
import soundfile as sf

from r1omni.data.synth.emotions import NEUTRAL_VOICE
from r1omni.data.synth.voice import DOMAINS, NOISE_FLOOR_RMS

ENGINE = "espeak-ng"
INSTALL_HINT = "install it with `apt-get install espeak-ng` (Debian/Ubuntu) or `brew install espeak-ng` (macOS)"
#: Voice parameters espeak-ng renders (the only voice cues an espeak clip can show).
RENDERED: tuple[str, ...] = ("pitch_shift", "pitch_range", "rate", "loudness")
#: ``-p`` value -> F0 in semitones relative to ``-p 50`` (measured, see the module docstring).
PITCH_SEMITONES: dict[int, float] = {
    20: -4.9,
    30: -2.94,
    40: -1.77,
    50: 0.0,
    60: 1.74,
    70: 3.7,
    80: 5.61,
    90: 7.59,
    99: 9.37,
}
PITCH_LIMITS = (20, 99)
RANGE_LIMITS = (0, 100)
SPEED_LIMITS = (80, 450)
AMPLITUDE_LIMITS = (0, 200)
DEFAULT_RANGE, DEFAULT_SPEED, DEFAULT_AMPLITUDE = 50, 175, 100
#: Fixed gain on espeak-ng's output (RMS about 0.095 at ``-a 100``), near the numpy voice's level.
OUTPUT_GAIN = 0.5
#: espeak-ng variants per domain: male voices for training, female ones (higher F0) for ood.
VARIANTS: dict[str, tuple[str, ...]] = {
    "synth": tuple(f"en-us+m{i}" for i in range(1, 8)),
    "ood": tuple(f"en-us+f{i}" for i in range(1, 6)),
}


class EspeakNotFound(RuntimeError):
    """espeak-ng was asked for (``voice="espeak"``) but is not on ``PATH``."""


def find_espeak() -> str:
    """Path of the espeak-ng executable, or :class:`EspeakNotFound` with how to install it."""
    path = shutil.which(ENGINE)
    if path is None:
        raise EspeakNotFound(
            f"SynthEmo voice 'espeak' needs the {ENGINE} executable, which is not on "
            f"PATH: {INSTALL_HINT}, or use the default voice 'numpy'"
        )
    return path


def espeak_version(executable: str) -> str:
    """First line of ``espeak-ng --version`` (recorded in ``synthemo.json``)."""
    out = subprocess.run([executable, "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[0].split("  Data at")[0].strip()


def sample_espeak_speaker(rng: np.random.Generator, domain: str = "synth") -> dict:
    """Per-clip espeak-ng identity: a variant of :data:`VARIANTS` and a base ``-p`` in [42, 52]."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown voice domain {domain!r}; expected one of {DOMAINS}")
    variants = VARIANTS[domain]
    return dict(
        domain=domain,
        engine=ENGINE,
        voice=variants[int(rng.integers(len(variants)))],
        base_pitch=int(rng.integers(42, 53)),
    )


def _semitones(p: float) -> float:
    return float(np.interp(p, list(PITCH_SEMITONES), list(PITCH_SEMITONES.values())))


def _clip_int(x: float, limits: tuple[int, int]) -> int:
    return int(np.clip(round(x), *limits))


def espeak_controls(speaker: dict, v: dict) -> dict[str, int]:
    """espeak-ng's integer controls for target prosody ``v`` (``emotions.VOICE_PARAMS``)."""
    target_st = _semitones(speaker["base_pitch"]) + v["pitch_shift"]
    pitch = np.interp(target_st, list(PITCH_SEMITONES.values()), list(PITCH_SEMITONES))
    return dict(
        pitch=_clip_int(pitch, PITCH_LIMITS),
        range=_clip_int(DEFAULT_RANGE * v["pitch_range"] / NEUTRAL_VOICE["pitch_range"], RANGE_LIMITS),
        speed=_clip_int(DEFAULT_SPEED * v["rate"] / NEUTRAL_VOICE["rate"], SPEED_LIMITS),
        amplitude=_clip_int(DEFAULT_AMPLITUDE * 10 ** (v["loudness"] / 20), AMPLITUDE_LIMITS),
    )


def realised_prosody(speaker: dict, controls: dict[str, int]) -> dict[str, float]:
    """The :data:`RENDERED` parameters that ``controls`` really give (inverse of the mapping)."""
    return dict(
        pitch_shift=round(_semitones(controls["pitch"]) - _semitones(speaker["base_pitch"]), 4),
        pitch_range=round(NEUTRAL_VOICE["pitch_range"] * controls["range"] / DEFAULT_RANGE, 4),
        rate=round(NEUTRAL_VOICE["rate"] * controls["speed"] / DEFAULT_SPEED, 4),
        loudness=round(20 * np.log10(max(controls["amplitude"], 1) / DEFAULT_AMPLITUDE), 4),
    )


def speak(text: str, speaker: dict, controls: dict[str, int], *, executable: str) -> tuple[np.ndarray, int]:
    """Run espeak-ng on ``text``; return its mono float32 output and sample rate (22,050 Hz)."""
    if "<" in text or ">" in text or "&" in text:
        raise ValueError(f"subtitle {text!r}: '<', '>' and '&' are not allowed (espeak-ng reads SSML)")
    ssml = f'<speak><prosody range="{controls["range"]}">{text}</prosody></speak>'
    cmd = [
        executable,
        "--stdout",
        "-m",
        "-z",
        "-v",
        speaker["voice"],
        "-p",
        str(controls["pitch"]),
        "-s",
        str(controls["speed"]),
        "-a",
        str(controls["amplitude"]),
        ssml,
    ]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0 or not proc.stdout:
        raise RuntimeError(
            f"{ENGINE} failed (exit {proc.returncode}) on {text!r}: {proc.stderr.decode(errors='replace').strip()}"
        )
    audio, sr = sf.read(io.BytesIO(proc.stdout), dtype="float32")
    return (audio.mean(axis=1) if audio.ndim == 2 else audio), int(sr)


def render_espeak(
    text: str,
    speaker: dict,
    v: dict,
    rng: np.random.Generator,
    *,
    executable: str,
    duration: float = 2.0,
    sample_rate: int = 16_000,
) -> tuple[np.ndarray, dict]:
    """Audio (N,) float32 in [-1, 1] of espeak-ng saying ``text`` with prosody ``v``.

    Returns the audio and ``cues["voice"]``: the realised :data:`RENDERED` parameters, the
    controls passed, the target prosody, ``speech_start``/``speech_end`` (s, within the clip),
    ``spoken_seconds`` (the whole utterance) and ``cut`` (whether the clip's end cut it).
    """
    controls = espeak_controls(speaker, v)
    raw, raw_sr = speak(text, speaker, controls, executable=executable)
    speech = librosa.resample(raw.astype(np.float64), orig_sr=raw_sr, target_sr=sample_rate)
    n = int(round(duration * sample_rate))
    start = int(round(rng.uniform(0.08, 0.22) * sample_rate))
    used = speech[: n - start]
    track = np.zeros(n)
    track[start : start + len(used)] = OUTPUT_GAIN * used
    track += NOISE_FLOOR_RMS * rng.standard_normal(n)
    audio = (0.99 * np.tanh(track / 0.99)).astype(np.float32)
    record = {
        **realised_prosody(speaker, controls),
        "engine": ENGINE,
        "rendered": list(RENDERED),
        "espeak": controls,
        "target": dict(v),
        "speech_start": round(start / sample_rate, 4),
        "speech_end": round((start + len(used)) / sample_rate, 4),
        "spoken_seconds": round(len(speech) / sample_rate, 4),
        "cut": len(used) < len(speech),
    }
    return audio, record
