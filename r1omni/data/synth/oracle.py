"""Oracle frames: a clip's true face and voice parameters shown as flat grey and colour fields.

A diagnostic rendering (``python -m r1omni.data.synth --render oracle``): the frames no longer
show a face but the clip's own generating parameters, so that what a model learns can be
measured with perception taken out of the question. Audio, records and every random draw are
those of the drawn rendering.

Each parameter is scaled to [0, 1] over its range (``emotions.FACE_RANGE`` / ``VOICE_RANGE``),
``z = (v - lo) / (hi - lo)``, and shown the same in every frame (apex values). The layout is
made for the tiny preset's towers, which see a frame at 64 px through 8 px patches whose
features are averaged over a 2 x 2 grid (``visual_grid``), so it must survive that pooling:

* the frame is split into 4 quadrants (the 2 x 2 pooled tokens);
* a quadrant is tiled with identical tiles of 1/8 of the frame (one patch at the towers'
  input), each made of 2 x 2 flat grey squares of levels ``50 + 150 z`` (4 parameters: after
  the towers' DCT patch embedding they are the DC and the three lowest AC coefficients, so the
  pooled token keeps all four);
* on top of the grey, the whole quadrant is tinted along the two colour-opponent axes
  ``(1, -1, 0)`` and ``(0.5, 0.5, -1)`` by ``50 (z - 0.5)`` (2 more parameters, which the
  patch embedding's two colour channels read).

Quadrants (row-major): top-left 6 face parameters, top-right the other 5, bottom-left 4 voice
parameters, bottom-right the other 3; an unused slot is mid-grey / untinted (z = 0.5), as is a
voice parameter the voice engine did not render (espeak-ng). Everything is linear in ``z``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from r1omni.data.synth.emotions import FACE_PARAMS, FACE_RANGE, VOICE_PARAMS, VOICE_RANGE

#: Parameters per quadrant, each slot list = 4 grey squares then 2 tints (None = unused).
_SLOTS = 6
LAYOUT: tuple[tuple[tuple[str, str] | None, ...], ...] = tuple(
    tuple(chunk) + (None,) * (_SLOTS - len(chunk))
    for chunk in (
        [("face", p) for p in FACE_PARAMS[:6]],
        [("face", p) for p in FACE_PARAMS[6:]],
        [("voice", p) for p in VOICE_PARAMS[:4]],
        [("voice", p) for p in VOICE_PARAMS[4:]],
    )
)
GREY_LOW, GREY_SPAN = 50.0, 150.0
TINT = 50.0
_AXES = np.array([[1.0, -1.0, 0.0], [0.5, 0.5, -1.0]], np.float32)


def scaled(part: str, name: str, params: Mapping[str, float]) -> float:
    """``z`` in [0, 1] of one parameter over its range; 0.5 when the parameter is absent."""
    if name not in params:
        return 0.5
    lo, hi = (FACE_RANGE if part == "face" else VOICE_RANGE)[name]
    return float(np.clip((float(params[name]) - lo) / (hi - lo), 0.0, 1.0))


def oracle_image(face: Mapping[str, float], voice: Mapping[str, float], size: int) -> np.ndarray:
    """One (size, size, 3) uint8 frame showing the parameters (layout in the module docstring)."""
    if size < 16 or size % 2:
        raise ValueError(f"oracle frames need an even size >= 16, got {size}")
    missing = [p for p in FACE_PARAMS if p not in face]
    if missing:
        raise KeyError(f"oracle frame: face parameters {missing} missing (have {sorted(face)})")
    params = {"face": face, "voice": voice}
    z = np.array(
        [[0.5 if slot is None else scaled(slot[0], slot[1], params[slot[0]]) for slot in quad] for quad in LAYOUT],
        np.float32,
    )  # (4 quadrants, 6 slots)
    pix = np.arange(size) + 0.5
    half = pix >= size / 2  # which quadrant row / column
    tile = size / 8
    sub = (pix % tile) >= tile / 2  # which half of its tile
    quad = 2 * half[:, None] + half[None, :]  # (size, size) quadrant index
    square = 2 * sub[:, None] + sub[None, :]  # (size, size) grey square index in the tile
    grey = GREY_LOW + GREY_SPAN * z[quad, square]  # (size, size)
    tint = TINT * (z[quad][..., 4:6] - 0.5) @ _AXES  # (size, size, 3)
    return np.clip(grey[..., None] + tint, 0, 255).round().astype(np.uint8)


def oracle_frames(face: Mapping[str, float], voice: Mapping[str, float], *, num_frames: int, size: int) -> np.ndarray:
    """(num_frames, size, size, 3) uint8: :func:`oracle_image` in every frame."""
    return np.repeat(oracle_image(face, voice, size)[None], num_frames, axis=0)
