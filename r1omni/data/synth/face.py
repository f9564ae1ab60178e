"""Draw SynthEmo's face frames in numpy: identity, expression with onset, head motion.

A clip's face is an *identity* (face shape, skin, hair, clothes, background, position,
scale; drawn per clip by :func:`sample_identity`) plus the emotion's apex face parameters
(``emotions.FACE_PARAMS``). The expression ramps from neutral to apex:

    e(t) = smoothstep((t - onset_start) / onset_dur),   p(t) = p_neutral + e(t) * (p_apex - p_neutral)

and the head nods / shakes with amplitude ``head_nod * e(t)`` / ``head_shake * e(t)``.

Two drawing styles: ``"flat"`` (train/val/test/conflict: filled cartoon, natural skin tones,
gradient background) and ``"sketch"`` (the ood split: ink outlines on hatched paper, a
squarer head, pastel unnatural fills, hatched hair).
"""

from __future__ import annotations

import numpy as np

from r1omni.data.synth import raster as R
from r1omni.data.synth.emotions import NEUTRAL_FACE

STYLES = ("flat", "sketch")
_SKIN_LIGHT, _SKIN_DARK = np.array([244, 214, 190]), np.array([92, 58, 40])
_HAIR = np.array([[25, 20, 18], [90, 55, 30], [200, 160, 90], [150, 60, 25], [150, 150, 150]])
_PASTEL = np.array([[200, 235, 200], [215, 205, 240], [250, 240, 180], [190, 225, 245]])
_INK = np.array([30, 30, 70], dtype=np.float32)

#: Geometry of the drawn face, in units of the head's half-height ``ry`` (``ry = head * s`` px at
#: scale ``s``). The expression strokes are bold and travel far so that every face parameter
#: still moves several pixels at the tiny towers' 64 px input (an earlier geometry moved brows,
#: mouth corners and nose creases by 1-2 px there; see data_cards/synthemo.md).
GEOMETRY = dict(
    head=40.0,  # ry in px at 112 px and scale 1
    hairline=0.72,  # the hair cap covers y < hy - hairline * ry
    pitch_shift=0.25,  # features move by head_pitch * this
    eye_y=0.06,
    eye_w=0.2,
    eye_h=0.26,
    pupil=0.085,
    brow_gap=0.27,
    brow_raise=0.2,
    brow_inner=0.2,
    brow_width=0.13,
    brow_width_sketch=0.14,
    forehead=(0.08, 0.15),
    forehead_width=0.045,  # lines above raised brows (FACS AU1+2)
    furrow_x=0.07,
    furrow_len=0.16,
    furrow_width=0.05,  # vertical furrows between lowered brows (AU4)
    wrinkle_x=0.14,
    wrinkle_dx=0.12,
    wrinkle_y0=0.1,
    wrinkle_y1=0.3,
    wrinkle_width=0.07,
    wrinkle_gap=0.09,
    mouth_y=0.5,
    mouth_w=0.4,
    mouth_bend=0.26,
    mouth_tilt=0.22,
    lip_width=0.07,
    mouth_gap=0.4,
    dimple=0.14,
    dimple_width=0.05,  # cheek crease at the raised mouth corner (smirk)
)
#: A texture cue fades in over this much of its parameter beyond its onset: alpha = clip((v - v0) / RAMP).
CUE_RAMP = 0.5


def sample_identity(rng: np.random.Generator, style: str = "flat") -> dict:
    """Per-clip appearance, JSON-friendly (lists and rounded floats)."""
    if style not in STYLES:
        raise ValueError(f"unknown face style {style!r}; expected one of {STYLES}")
    r = lambda lo, hi: round(float(rng.uniform(lo, hi)), 3)  # noqa: E731
    tone = rng.uniform(0, 1)
    skin = (1 - tone) * _SKIN_LIGHT + tone * _SKIN_DARK + rng.normal(0, 6, 3)
    if style == "sketch":
        skin = _PASTEL[rng.integers(len(_PASTEL))] + rng.normal(0, 6, 3)
    bg_a, bg_b = rng.uniform(60, 230, 3), rng.uniform(60, 230, 3)
    return dict(
        style=style,
        skin=np.clip(skin, 0, 255).round().tolist(),
        hair=np.clip(_HAIR[rng.integers(len(_HAIR))] + rng.normal(0, 8, 3), 0, 255).round().tolist(),
        hair_style=int(rng.integers(3)),
        shirt=rng.uniform(30, 220, 3).round().tolist(),
        bg_top=bg_a.round().tolist(),
        bg_bottom=bg_b.round().tolist(),
        offset_x=r(-7, 7),
        offset_y=r(-5, 6),
        scale=r(0.85, 1.1),
        aspect=r(0.74, 0.92),
        eye_sep=r(0.88, 1.12),
        mouth_width=r(0.85, 1.15),
        iris=rng.uniform(20, 110, 3).round().tolist(),
    )


def expression_curve(t: np.ndarray, onset_start: float, onset_dur: float) -> np.ndarray:
    """Smoothstep ramp e(t) in [0, 1] from ``onset_start`` over ``onset_dur`` seconds."""
    u = np.clip((t - onset_start) / max(onset_dur, 1e-3), 0.0, 1.0)
    return u * u * (3 - 2 * u)


def _background(identity: dict, X, Y, size: int) -> np.ndarray:
    top, bottom = np.asarray(identity["bg_top"], np.float32), np.asarray(identity["bg_bottom"], np.float32)
    w = (Y / size)[..., None]
    canvas = (1 - w) * top + w * bottom
    if identity["style"] == "sketch":  # pale paper with diagonal hatching
        canvas = 0.25 * canvas + 0.75 * 245.0
        hatch = (np.sin((X + Y) * 0.9) > 0.85).astype(np.float32) * 0.35
        R.paint(canvas, hatch, _INK)
    return canvas.astype(np.float32)


def draw_frame(identity: dict, p: dict, phase: tuple[float, float], background: np.ndarray, size: int) -> np.ndarray:
    """One frame (size, size, 3) float32 for face parameters ``p`` at this instant.

    ``phase`` = (dx, dy) head displacement in pixels from nodding / shaking. Each part is
    drawn only inside its bounding box (``raster.box``).
    """
    X, Y = R.grid(size)
    sketch = identity["style"] == "sketch"
    canvas = background.copy()
    s = identity["scale"] * size / 112
    G = GEOMETRY
    ry = G["head"] * s
    rx = ry * identity["aspect"]
    hx = size / 2 + identity["offset_x"] * s + phase[0]
    hy = size / 2 + 2 + identity["offset_y"] * s + phase[1]
    skin, hair = np.asarray(identity["skin"], np.float32), np.asarray(identity["hair"], np.float32)
    line = _INK if sketch else skin * 0.55
    power = 4.0 if sketch else 2.0

    def ellipse(cx, cy, ex, ey, color, pw=2.0, outline=0.0):
        sl = R.box(size, cx - ex, cy - ey, cx + ex, cy + ey)
        mask = (
            R.ring(X[sl], Y[sl], cx, cy, ex, ey, outline, pw)
            if outline
            else R.ellipse(X[sl], Y[sl], cx, cy, ex, ey, pw)
        )
        R.paint(canvas[sl], mask, color)
        return sl, mask

    def stroke(x0, y0, x1, y1, width, color, alpha=1.0):
        sl = R.box(size, min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1), pad=width + 2)
        R.paint(canvas[sl], alpha * R.segment(X[sl], Y[sl], x0, y0, x1, y1, width), color)

    # body, hair behind the head, neck, head
    ellipse(
        size / 2 + phase[0] * 0.3, size + 8 * s, 46 * s, 30 * s, np.float32(250) if sketch else identity["shirt"], power
    )
    if identity["hair_style"] == 1:
        ellipse(hx, hy + 0.25 * ry, rx * 1.22, ry * 1.25, hair, power)
    ellipse(hx, hy + 0.9 * ry, 0.35 * rx, 0.5 * ry, skin * 0.92, power)
    ellipse(hx, hy, rx, ry, skin, power)
    if sketch:
        ellipse(hx, hy, rx, ry, _INK, power, outline=1.8 * s)
    # hair on top: the head's upper cap (plus a bun for style 2)
    sl = R.box(size, hx - 1.1 * rx, hy - 1.4 * ry, hx + 1.1 * rx, hy - (G["hairline"] - 0.05) * ry)
    Xs, Ys = X[sl], Y[sl]
    cap = R.ellipse(Xs, Ys, hx, hy - 0.1 * ry, rx * 1.06, ry * 0.98, power) * R.coverage(Ys - (hy - G["hairline"] * ry))
    if identity["hair_style"] == 2:
        cap = np.maximum(cap, R.ellipse(Xs, Ys, hx, hy - 1.05 * ry, 0.35 * rx, 0.3 * ry))
    if sketch:
        cap = cap * (0.35 + 0.65 * (np.sin((Xs - Ys) * 1.3) > 0))
    R.paint(canvas[sl], cap, _INK if sketch else hair)

    # features shift down when the head is lowered, up when the chin is raised
    fy = hy - p["head_pitch"] * G["pitch_shift"] * ry
    eye_y = fy - G["eye_y"] * ry
    ew = G["eye_w"] * rx
    eh = max(0.03, p["eye_open"]) * G["eye_h"] * ry
    for side in (-1, 1):
        ex = hx + side * 0.38 * rx * identity["eye_sep"]
        sl, sclera = ellipse(ex, eye_y, ew, eh, np.float32(250 if not sketch else 255))
        pupil = R.ellipse(X[sl], Y[sl], ex, eye_y, G["pupil"] * ry, G["pupil"] * ry) * sclera
        R.paint(canvas[sl], pupil, _INK if sketch else identity["iris"])
        ellipse(ex, eye_y, ew, eh, line, outline=1.0 * s)
        # brows: raised / lowered as a whole, inner corner up (worried) or down (angry V)
        by = eye_y - G["brow_gap"] * ry - p["brow_raise"] * G["brow_raise"] * ry
        inner_y = by - p["brow_inner"] * G["brow_inner"] * ry
        stroke(
            hx + side * 0.12 * rx,
            inner_y,
            hx + side * 0.6 * rx,
            by + 0.02 * ry,
            G["brow_width_sketch" if sketch else "brow_width"] * ry,
            _INK if sketch else hair * 0.8,
        )
        # nose wrinkles beside the bridge: two creases per side
        wrinkle = float(np.clip((p["nose_wrinkle"] - 0.15) / CUE_RAMP, 0, 1))
        if wrinkle > 0:
            for k in range(2):
                wx = hx + side * (G["wrinkle_x"] + k * G["wrinkle_gap"]) * rx
                stroke(
                    wx,
                    eye_y + G["wrinkle_y0"] * ry,
                    wx + side * G["wrinkle_dx"] * rx,
                    eye_y + G["wrinkle_y1"] * ry,
                    G["wrinkle_width"] * ry,
                    line * 0.85,
                    wrinkle,
                )
    # raised brows crease the forehead, lowered brows furrow between them
    brow_y = eye_y - G["brow_gap"] * ry - p["brow_raise"] * G["brow_raise"] * ry
    lines = float(np.clip((p["brow_raise"] - 0.1) / CUE_RAMP, 0, 1))
    if lines > 0:
        for dy in G["forehead"]:
            stroke(
                hx - 0.4 * rx, brow_y - dy * ry, hx + 0.4 * rx, brow_y - dy * ry, G["forehead_width"] * ry, line, lines
            )
    furrow = float(np.clip((-p["brow_raise"] - 0.1) / CUE_RAMP, 0, 1))
    if furrow > 0:
        for side in (-1, 1):
            fx = hx + side * G["furrow_x"] * rx
            stroke(fx, brow_y - 0.02 * ry, fx, brow_y + G["furrow_len"] * ry, G["furrow_width"] * ry, line, furrow)
    stroke(hx, eye_y + 0.06 * ry, hx + 0.04 * rx, eye_y + 0.33 * ry, 1.6 * s, line)

    # mouth: a parabola bent by mouth_curve, tilted by mouth_asym, opened by mouth_open
    my, mw = fy + G["mouth_y"] * ry, G["mouth_w"] * rx * identity["mouth_width"]
    bend, tilt = -p["mouth_curve"] * G["mouth_bend"] * ry, -p["mouth_asym"] * G["mouth_tilt"] * ry
    sl = R.box(size, hx - mw, my - 0.55 * ry, hx + mw, my + 0.75 * ry)
    Xs, Ys = X[sl], Y[sl]
    top = R.parabola_y(Xs, hx, my, mw, bend, tilt)
    u = (Xs - hx) / mw
    gap = p["mouth_open"] * G["mouth_gap"] * ry * np.clip(1 - u * u, 0, 1)
    lips = R.curve(Xs, Ys, hx, my, mw, bend, G["lip_width"] * ry, tilt)
    if p["mouth_open"] > 0.08:  # dark opening; the lower lip follows it
        R.paint(canvas[sl], R.between(Xs, Ys, hx, mw, top, top + gap), _INK if sketch else np.float32([90, 20, 30]))
        lower = R.coverage(np.maximum(np.abs(Ys - (top + gap)) - G["lip_width"] / 2 * ry, np.abs(Xs - hx) - mw))
        lips = np.maximum(lips, lower)
    R.paint(canvas[sl], lips, _INK if sketch else np.float32([150, 60, 60]))
    # a smirk creases the cheek beside the raised (right) mouth corner
    dimple = float(np.clip((p["mouth_asym"] - 0.1) / CUE_RAMP, 0, 1))
    if dimple > 0:
        cx, cy = hx + mw + 0.04 * rx, my + tilt - 0.02 * ry
        stroke(cx, cy - G["dimple"] * ry, cx + 0.03 * rx, cy + 0.03 * ry, G["dimple_width"] * ry, line, dimple)
    return canvas


def render_face(
    identity: dict,
    apex: dict,
    *,
    onset_start: float,
    num_frames: int,
    fps: float,
    size: int = 112,
    motion_phase: float = 0.0,
) -> np.ndarray:
    """Frames (num_frames, size, size, 3) uint8 of one clip.

    ``apex``: face parameters at the expression's apex (``emotions.FACE_PARAMS``);
    ``motion_phase``: phase (radians) of the head oscillations.
    """
    X, Y = R.grid(size)
    background = _background(identity, X, Y, size)
    t = np.arange(num_frames) / fps
    e = expression_curve(t, onset_start, apex["onset_dur"])
    s = identity["scale"] * size / 112
    frames = np.empty((num_frames, size, size, 3), np.uint8)
    for k in range(num_frames):
        p = {name: NEUTRAL_FACE[name] + e[k] * (apex[name] - NEUTRAL_FACE[name]) for name in NEUTRAL_FACE}
        dx = 7 * s * apex["head_shake"] * e[k] * np.sin(2 * np.pi * 2.6 * t[k] + motion_phase)
        dy = 5 * s * apex["head_nod"] * e[k] * np.sin(2 * np.pi * 2.0 * t[k] + 1.3 * motion_phase)
        dy += -p["head_pitch"] * 3 * s  # the whole head dips a little when lowered
        frames[k] = np.clip(draw_frame(identity, p, (dx, dy), background, size), 0, 255).round()
    return frames
