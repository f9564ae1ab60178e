"""What tower pretraining regresses: a clip's true generating parameters, read from ``cues`` only.

``face`` (N, 11) apex face parameters (``cues.face``); ``voice`` (N, 8) the voice parameters plus
the absolute pitch (``cues.voice``, ``cues.speaker``); ``frame`` (N, T, 8) the ramped face
parameters at each sampled frame, following the face's own onset (``face.py``)::

    p(t) = p_neutral + e(t) (p_apex - p_neutral),   e(t) = smoothstep((t - onset_start) / onset_dur)

No label is read: the perception split's clips have none.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from r1omni.data.synth.emotions import FACE_PARAMS, NEUTRAL_FACE, VOICE_PARAMS

#: Face parameters that ramp with the expression (targets per frame); head_nod / head_shake are
#: oscillation amplitudes and onset_dur a duration, so they are clip-level only.
RAMPED_PARAMS: tuple[str, ...] = tuple(p for p in FACE_PARAMS if p not in ("head_nod", "head_shake", "onset_dur"))
#: Voice targets: the voice parameters, then the absolute pitch ``pitch_shift + 12 log2(base_f0 /
#: 150 Hz)`` in semitones (what the audio shows; ``pitch_shift`` alone is relative to a speaker
#: baseline the tower cannot hear), read from ``cues.voice`` and ``cues.speaker``.
VOICE_TARGETS: tuple[str, ...] = VOICE_PARAMS + ("abs_pitch",)
#: Reference F0 of ``abs_pitch`` (Hz).
ABS_PITCH_REF_HZ = 150.0


def smoothstep_ramp(t: np.ndarray, onset_start: np.ndarray, onset_dur: np.ndarray) -> np.ndarray:
    """e(t) = smoothstep(clip((t - s) / d, 0, 1)), broadcast over clips: (N, T)."""
    u = np.clip((t - onset_start[:, None]) / np.maximum(onset_dur[:, None], 1e-3), 0.0, 1.0)
    return u * u * (3 - 2 * u)


def _param(records: Sequence[dict], part: str, name: str, where: str) -> np.ndarray:
    out = np.empty(len(records))
    for i, rec in enumerate(records):
        try:
            out[i] = float(rec["cues"][part][name])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{where}: record {rec.get('id')!r} has no numeric cues.{part}.{name}") from None
    return out


def regression_targets(
    records: Sequence[dict], frame_times: torch.Tensor, *, where: str = "records"
) -> dict[str, torch.Tensor]:
    """The regression targets of clips (raw, not standardised), read from ``cues`` only.

    ``face`` (N, 11) apex face parameters, ``voice`` (N, 8) :data:`VOICE_TARGETS`, ``frame`` (N, T, 8)
    the ramped face parameters at each sampled frame (``frame_times`` (N, T) seconds).
    """
    face = np.stack([_param(records, "face", p, where) for p in FACE_PARAMS], 1)
    voice = np.stack([_param(records, "voice", p, where) for p in VOICE_PARAMS], 1)
    base = _param(records, "speaker", "base_f0", where)
    voice = np.concatenate([voice, (voice[:, 0] + 12 * np.log2(base / ABS_PITCH_REF_HZ))[:, None]], 1)
    onset_start = _param(records, "face", "onset_start", where)
    e = smoothstep_ramp(frame_times.numpy().astype(np.float64), onset_start, face[:, FACE_PARAMS.index("onset_dur")])
    neutral = np.array([NEUTRAL_FACE[p] for p in RAMPED_PARAMS])
    apex = face[:, [FACE_PARAMS.index(p) for p in RAMPED_PARAMS]]
    frame = neutral + e[..., None] * (apex - neutral)[:, None, :]  # (N, T, 8)
    return {k: torch.tensor(v, dtype=torch.float32) for k, v in (("face", face), ("voice", voice), ("frame", frame))}
