"""One SynthEmo clip: sample its parameters, draw the face, synthesise the voice, write the mp4.

Everything about a clip follows from its :class:`ClipSpec` (``entropy`` seeds its own random
generator), so clips can be made in any order, in any process, with the same result.

An emotional clip draws its parameters from its emotions (``emotions.py``); a perception clip
(``spec.perception``) draws them without any emotion (``perception.py``) and gets a caption
instead of a label. ``render="oracle"`` replaces the drawn face by flat fields showing the
true parameters (``oracle.py``); it draws no random numbers, so everything else is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from r1omni.data.manifest import make_record
from r1omni.data.synth.caption import describe
from r1omni.data.synth.cues import cue_words, present_cues
from r1omni.data.synth.emotions import sample_face, sample_intensity, sample_voice
from r1omni.data.synth.espeak import find_espeak, render_espeak, sample_espeak_speaker
from r1omni.data.synth.explain import explain
from r1omni.data.synth.face import render_face, sample_identity
from r1omni.data.synth.oracle import oracle_frames
from r1omni.data.synth.perception import perception_record, sample_free_face, sample_free_voice
from r1omni.data.synth.subtitles import sample_subtitle
from r1omni.data.synth.voice import render_voice, sample_speaker
from r1omni.data.synth.writer import write_clip


@dataclass(frozen=True)
class ClipSpec:
    """What to generate for one clip."""

    id: str
    """Clip id, also the file name ``clips/<id>.mp4``."""
    split: str
    """Manifest split: train, val, test, ood, conflict, coldstart or perception."""
    face_label: str | None
    """Emotion the face shows (the record's ``label``); None for a perception clip."""
    voice_label: str | None
    """Emotion the voice shows (differs from ``face_label`` only in the conflict split); None
    for a perception clip."""
    domain: str
    """``"synth"`` (flat drawing, training voices) or ``"ood"`` (sketch drawing, ood voices)."""
    entropy: tuple[int, ...]
    """Seed material for ``np.random.default_rng``: (seed, split code, index)."""
    explain: bool = False
    """Write an EMER-style ``<think>`` explanation into the gpt turn (coldstart)."""
    perception: bool = False
    """An emotion-free perception clip: parameters drawn uniformly over the span of ``labels``'
    emotions, no label, a caption as the target (``perception.py``)."""
    labels: tuple[str, ...] = ()
    """The set's labels (a perception clip's parameter span); unused for emotional clips."""


@dataclass(frozen=True)
class MediaFormat:
    """Clip format shared by every clip of a set."""

    size: int = 112
    """Frame height and width in pixels (even)."""
    fps: int = 10
    """Frames per second."""
    duration: float = 2.0
    """Clip length in seconds."""
    sample_rate: int = 16_000
    """Audio sample rate (Hz); mono AAC."""


VOICES = ("numpy", "espeak")
#: Frame renderings: ``drawn`` (the face) or ``oracle`` (the true parameters as flat fields).
RENDERS = ("drawn", "oracle")


def make_clip(
    spec: ClipSpec,
    out_dir: str | Path,
    fmt: MediaFormat = MediaFormat(),
    voice_engine: str = "numpy",
    espeak_path: str | None = None,
    render: str = "drawn",
) -> dict:
    """Generate ``out_dir/clips/<id>.mp4`` and return its manifest record.

    ``voice_engine``: ``"numpy"`` (``voice.py``) or ``"espeak"`` (espeak-ng says the subtitle,
    ``espeak.py``; ``espeak_path`` is its executable, found on PATH when None). Both make the
    same random draws up to the voice (the numpy speaker is drawn, and unused, for espeak), so
    faces, subtitles and target prosody are the same for both engines at the same seed.
    ``render``: ``"drawn"`` (the face) or ``"oracle"`` (:func:`oracle.oracle_frames`; same random
    draws, so the same audio and record).
    """
    if voice_engine not in VOICES:
        raise ValueError(f"unknown SynthEmo voice {voice_engine!r}; expected one of {VOICES}")
    if render not in RENDERS:
        raise ValueError(f"unknown SynthEmo rendering {render!r}; expected one of {RENDERS}")
    rng = np.random.default_rng(list(spec.entropy))
    style = "sketch" if spec.domain == "ood" else "flat"
    identity = sample_identity(rng, style)
    speaker = sample_speaker(rng, spec.domain)
    if spec.perception:
        face_intensity = voice_intensity = None
        face = sample_free_face(spec.labels, rng)
        voice = sample_free_voice(spec.labels, rng)
    else:
        face_intensity, voice_intensity = sample_intensity(rng), sample_intensity(rng)
        face = sample_face(spec.face_label, face_intensity, rng)
        voice = sample_voice(spec.voice_label, voice_intensity, rng)
    # the expression starts early enough to reach its apex by 70% of the clip
    latest = max(0.1, 0.7 * fmt.duration - face["onset_dur"])
    onset_start = round(float(rng.uniform(0.1, latest)), 4)
    motion_phase = float(rng.uniform(0, 2 * np.pi))
    subtitle = sample_subtitle(rng)

    num_frames = int(round(fmt.duration * fmt.fps))
    if render == "drawn":
        frames = render_face(
            identity,
            face,
            onset_start=onset_start,
            num_frames=num_frames,
            fps=fmt.fps,
            size=fmt.size,
            motion_phase=motion_phase,
        )
    if voice_engine == "numpy":
        audio, timing = render_voice(speaker, voice, rng, duration=fmt.duration, sample_rate=fmt.sample_rate)
        voice = {**voice, **timing}
    else:  # only the parameters espeak-ng renders can be cues: see espeak.py
        speaker = sample_espeak_speaker(rng, spec.domain)
        audio, voice = render_espeak(
            subtitle,
            speaker,
            voice,
            rng,
            executable=espeak_path or find_espeak(),
            duration=fmt.duration,
            sample_rate=fmt.sample_rate,
        )
    if render == "oracle":  # after the voice: it shows the realised (e.g. espeak-ng) prosody
        frames = oracle_frames(face, voice, num_frames=num_frames, size=fmt.size)
    video = f"clips/{spec.id}.mp4"
    write_clip(Path(out_dir) / video, frames, audio, fps=fmt.fps, sample_rate=fmt.sample_rate)

    present = present_cues(face, voice)
    cues = {
        "face": {**face, "onset_start": onset_start},
        "voice": voice,
        "words": cue_words(present),
        "present": present,
        "intensity": {"face": face_intensity, "voice": voice_intensity},
        "appearance": identity,
        "speaker": speaker,
    }
    if spec.perception:
        del cues["intensity"]  # no emotion, so no intensity
        return perception_record(
            id=spec.id, video=video, subtitle=subtitle, cues=cues, caption=describe(present, rng), domain=spec.domain
        )
    think = explain(spec.face_label, present, rng) if spec.explain else None
    return make_record(
        id=spec.id,
        video=video,
        label=spec.face_label,
        split=spec.split,
        subtitle=subtitle,
        cues=cues,
        think=think,
        face_label=spec.face_label,
        voice_label=spec.voice_label,
        domain=spec.domain,
    )
