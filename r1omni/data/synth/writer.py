"""Write one SynthEmo clip: H.264 video + AAC audio (mono, 16 kHz) in an mp4, via PyAV.

Encoding is deterministic: single-threaded libx264 and FFmpeg's native AAC encoder with the
``bitexact`` flags on codecs and muxer (no encoder version string, no creation time), so the
same frames and samples give the same bytes. Frames are converted to yuv420p here (BT.601
limited range, 2x2 chroma averaging) into zero-filled planes: with FFmpeg's own conversion the
row padding of the chroma planes (56 used bytes in a 64-byte row at 112 px) is uninitialised
memory, and libx264's lookahead reads it, so the bitstream varied from run to run. The file is
written to a temporary sibling and moved into place, so a reader never sees half a clip.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from r1omni.io import atomic_open

AUDIO_CODEC = "aac"
VIDEO_CODEC = "libx264"
#: libx264 options: constant quality, one thread, no B-frames, and no lookahead (rate-control
#: lookahead, macroblock tree, scene-cut detection): at 112 px the lookahead made the
#: bitstream vary from run to run even single-threaded.
X264_OPTIONS = {
    "crf": "18",
    "preset": "veryfast",
    "threads": "1",
    "bframes": "0",
    "x264-params": "threads=1:sliced-threads=0:rc-lookahead=0:mbtree=0:scenecut=0",
}
AUDIO_BITRATE = 48_000
#: FFmpeg's AAC encoder: the "fast" coder is 2-3x cheaper than the default two-loop search.
AAC_OPTIONS = {"aac_coder": "fast"}
#: FFmpeg's AAC encoder takes 1024-sample frames.
AAC_FRAME = 1024


def write_clip(
    path: str | os.PathLike, frames: np.ndarray, audio: np.ndarray, *, fps: int, sample_rate: int = 16_000
) -> Path:
    """Encode ``frames`` (T, H, W, 3) uint8 and mono ``audio`` (N,) float32 in [-1, 1] to ``path``.

    H and W must be even (yuv420p). Raises ValueError naming ``path`` on bad shapes or dtypes.
    """
    path = Path(path)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"{path}: frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise ValueError(f"{path}: frame height and width must be even, got {frames.shape[1:3]}")
    if audio.ndim != 1 or not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"{path}: audio must be mono float (N,), got {audio.dtype} {audio.shape}")
    if not np.all(np.isfinite(audio)) or np.abs(audio).max(initial=0.0) > 1.0:
        raise ValueError(f"{path}: audio samples must be finite and within [-1, 1]")
    audio = audio.astype(np.float32)
    with atomic_open(path, "wb") as fh:
        with av.open(fh, "w", format="mp4", options={"fflags": "+bitexact"}) as container:
            _encode(container, frames, audio, fps, sample_rate)
    return path


#: BT.601 limited-range RGB -> YCbCr matrix (rows Y, U, V) and offsets.
_YUV_MATRIX = (
    np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]], np.float32) / 255
)
_YUV_OFFSET = np.array([16, 128, 128], np.float32)


def rgb_to_yuv420p(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(..., H, W, 3) uint8 RGB -> Y (..., H, W), U and V (..., H/2, W/2), uint8, BT.601 limited.

    ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255``,
    ``U = 128 + (-37.797 R - 74.203 G + 112 B) / 255``, ``V = 128 + (112 R - 93.786 G - 18.214 B) / 255``,
    chroma averaged over 2x2 blocks.
    """
    x = rgb.astype(np.float32)

    def row(c, k):  # elementwise (not BLAS) so the result never depends on threading
        m = _YUV_MATRIX[k]
        return c[..., 0] * m[0] + c[..., 1] * m[1] + c[..., 2] * m[2] + _YUV_OFFSET[k]

    y = row(x, 0)  # (..., H, W)
    # chroma is linear in RGB, so average RGB over 2x2 blocks first: (..., H/2, W/2, 3)
    quad = (x[..., 0::2, 0::2, :] + x[..., 1::2, 0::2, :] + x[..., 0::2, 1::2, :] + x[..., 1::2, 1::2, :]) / 4
    u, v = row(quad, 1), row(quad, 2)

    def q(c):
        return np.clip(np.rint(c), 0, 255).astype(np.uint8)

    return q(y), q(u), q(v)


def yuv420p_frame(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> av.VideoFrame:
    """A yuv420p ``av.VideoFrame`` from planes (H, W), (H/2, W/2), (H/2, W/2), row padding zeroed."""
    frame = av.VideoFrame(y.shape[1], y.shape[0], "yuv420p")
    for plane, data in zip(frame.planes, (y, u, v)):
        rows = np.zeros((plane.height, plane.line_size), np.uint8)
        rows[:, : plane.width] = data
        plane.update(rows)
    return frame


def _encode(container, frames: np.ndarray, audio: np.ndarray, fps: int, sample_rate: int) -> None:
    vstream = container.add_stream(VIDEO_CODEC, rate=fps, options=dict(X264_OPTIONS))
    vstream.width, vstream.height = frames.shape[2], frames.shape[1]
    vstream.pix_fmt = "yuv420p"
    vstream.codec_context.flags |= av.codec.context.Flags.bitexact
    astream = container.add_stream(AUDIO_CODEC, rate=sample_rate, options=dict(AAC_OPTIONS))
    astream.layout = "mono"
    astream.bit_rate = AUDIO_BITRATE
    astream.codec_context.flags |= av.codec.context.Flags.bitexact

    planes = rgb_to_yuv420p(frames)  # all frames at once
    for i in range(len(frames)):
        frame = yuv420p_frame(*(p[i] for p in planes))
        frame.pts = i
        frame.time_base = Fraction(1, fps)
        container.mux(vstream.encode(frame))
    container.mux(vstream.encode(None))

    for start in range(0, len(audio), AAC_FRAME):
        chunk = audio[start : start + AAC_FRAME][None, :]
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="flt", layout="mono")
        frame.sample_rate = sample_rate
        frame.pts = start
        frame.time_base = Fraction(1, sample_rate)
        container.mux(astream.encode(frame))
    container.mux(astream.encode(None))
