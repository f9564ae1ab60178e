"""Strict video + audio loading: frames and a mono waveform per clip, or a clear error.

R1-Omni (through HumanOmni / VideoLLaMA2) reads 8 frames with decord, sampled at the
midpoints of 8 equal segments of the video, and the audio track with decord at 16 kHz mono.
When the audio cannot be read the original silently feeds 10 s of zeros; this loader never
does: a missing audio stream raises :class:`MediaError` unless ``allow_missing_audio=True``,
and then the clip says so (``audio=None``, ``audio_missing=True``).

How each piece is read:

- Frames come from ``decord.VideoReader`` (RGB, native size).
- Audio comes from PyAV (``av``, the FFmpeg that also ships inside decord's wheel), so any
  container FFmpeg reads works: mp4 / mov / mkv / webm video, m4a, mp3, wav, flac, ogg.
  Every channel is decoded as float; the mono signal is the plain mean of all channels (stereo:
  ``(L + R) / 2``; 5.1: the mean of its six channels), clipped to [-1, 1] (lossy decoders can
  overshoot full scale by a hair), then ``librosa.resample`` converts it to ``sample_rate``.
  (decord 0.6.0's own audio reader is not used: ``mono=False`` returns uninitialised memory now
  and then, its FFmpeg mix-down of 5.1 peaks above 1, and it loses a late stream's start time.)
- :func:`load_clip` puts the audio on the video's timeline: an audio stream that starts
  ``d`` seconds after the first video frame is preceded by ``d`` s of silence, one that starts
  earlier is trimmed; ``Clip.audio_offset`` says by how much.
- Whisper-style log-mel features come from transformers' ``WhisperFeatureExtractor``,
  built locally (no hub access).
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from r1omni.settings import NUM_FRAMES, SAMPLE_RATE

#: A track whose peak absolute amplitude is at or below this (-80 dBFS) counts as silent.
SILENCE_PEAK = 1e-4

#: Audio decoding to less than this fraction of the declared duration counts as truncated.
TRUNCATION_TOLERANCE = 0.9

#: Bumped whenever decoding changes what a clip holds, so caches of decoded clips miss
#: (``r1omni.data.dataset.ClipCache`` keys on it). 2: audio through PyAV, on the video timeline.
LOADER_VERSION = 2

#: PyAV container names for the suffixes :func:`write_clip` can write.
CONTAINER_FORMATS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}


class MediaError(ValueError):
    """A media file that cannot be used: missing, empty, truncated, not media, or lacking audio."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass
class Clip:
    """One decoded clip, ready for a processor."""

    path: str
    """The file it was read from."""
    frames: np.ndarray
    """Sampled RGB frames, uint8, shape (T, H, W, 3) with T = ``num_frames``."""
    audio: np.ndarray | None
    """Mono waveform, float32, shape (N,), at ``sample_rate``; None only when ``audio_missing``."""
    sample_rate: int
    """Sample rate of ``audio`` in Hz."""
    audio_missing: bool
    """True when the file has no audio stream (only possible with ``allow_missing_audio=True``)."""
    audio_silent: bool
    """True when the audio track exists but its peak amplitude is <= ``SILENCE_PEAK``."""
    fps: float
    """Average frame rate of the video stream."""
    duration: float
    """Video duration in seconds (number of frames / fps)."""
    audio_offset: float = 0.0
    """Seconds from the first video frame to the start of the audio stream (> 0: the audio starts
    late and ``audio`` begins with that much silence; < 0: it started early and was trimmed)."""


def sample_frame_indices(total_frames: int, num_frames: int = NUM_FRAMES) -> np.ndarray:
    """Uniform midpoint sampling as in R1-Omni (VideoLLaMA2's ``frame_sample(mode="uniform")``).

    The index range [0, total_frames - 1] is cut into ``num_frames`` equal segments of size
    ``s = (total_frames - 1) / num_frames``; frame i is the rounded midpoint ``round(s * (i + 0.5))``.
    Short videos repeat frames, so the result always has ``num_frames`` entries.

    >>> sample_frame_indices(50, 8).tolist()
    [3, 9, 15, 21, 28, 34, 40, 46]
    >>> sample_frame_indices(3, 4).tolist()
    [0, 1, 1, 2]
    """
    if total_frames < 1:
        raise ValueError(f"total_frames must be >= 1, got {total_frames}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    seg_size = (total_frames - 1) / num_frames
    idx = np.round(seg_size * (np.arange(num_frames) + 0.5) + 1e-6).astype(np.int64)
    return np.clip(idx, 0, total_frames - 1)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise MediaError(path, "no such file")
    if not path.is_file():
        raise MediaError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")


@dataclass
class _Track:
    """The decoded audio stream of a file: (C, N) float32 at the native rate, and its timing."""

    samples: np.ndarray
    rate: int
    start: float
    """Start of the audio stream relative to the first video frame (0 without a video stream)."""


def _start_seconds(stream) -> float:
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def _decode_audio(path: Path, *, need_video: bool) -> _Track | None:
    """Decode the first audio stream of ``path`` (None when it has none). ``need_video``: a file
    without a video stream raises. A file FFmpeg cannot parse, a track that decodes to nothing, to
    non-finite samples, or to less than :data:`TRUNCATION_TOLERANCE` of its declared duration
    raises :class:`MediaError` naming the file."""
    import av

    try:
        with av.open(str(path)) as container:
            if need_video and not container.streams.video:
                raise MediaError(path, "no video stream in the container (an audio file? use load_audio)")
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            rate = int(stream.codec_context.sample_rate or stream.rate)
            declared = None
            if stream.duration is not None and stream.time_base is not None:
                declared = float(stream.duration * stream.time_base)  # the stream's own, not the container's
            video = container.streams.video[0] if container.streams.video else None
            start = _start_seconds(stream) - (_start_seconds(video) if video is not None else _start_seconds(stream))
            resampler = av.AudioResampler(format="fltp")  # planar float, same layout and rate
            chunks = []
            for frame in container.decode(stream):
                chunks += [out.to_ndarray() for out in resampler.resample(frame)]
            chunks += [out.to_ndarray() for out in resampler.resample(None)]
    except av.error.FFmpegError as err:
        raise MediaError(path, f"not a readable media file, or truncated ({err})") from None
    if not chunks or sum(c.shape[1] for c in chunks) == 0:
        raise MediaError(path, "the audio track decodes to 0 samples (truncated?)")
    samples = np.concatenate(chunks, axis=1).astype(np.float32, copy=False)  # (C, N)
    decoded_s = samples.shape[1] / rate
    if declared is not None and decoded_s < TRUNCATION_TOLERANCE * declared:
        raise MediaError(
            path, f"truncated audio track: {decoded_s:.2f} s decoded of the {declared:.2f} s the container declares"
        )
    if not np.all(np.isfinite(samples)):
        raise MediaError(path, "the audio track decodes to non-finite samples")
    return _Track(samples, rate, start)


def downmix(samples: np.ndarray) -> np.ndarray:
    """(C, N) channels -> (N,) mono: the plain mean of the channels, clipped to [-1, 1].

    >>> downmix(np.array([[1.0, 0.5], [1.0, -0.5]])).tolist()
    [1.0, 0.0]
    """
    return np.clip(np.asarray(samples, dtype=np.float32).mean(axis=0), -1.0, 1.0)


def _resample(mono: np.ndarray, native_rate: int, sample_rate: int) -> np.ndarray:
    """(N,) float at ``native_rate`` -> (M,) float32 at ``sample_rate`` (librosa, soxr_hq)."""
    mono = np.asarray(mono, dtype=np.float32)
    if native_rate != sample_rate:
        import librosa

        mono = librosa.resample(mono, orig_sr=native_rate, target_sr=sample_rate)
    return np.ascontiguousarray(mono, dtype=np.float32)


def _decord_reason(err: Exception) -> str:
    """decord's message without its ``[hh:mm:ss] /src/file.cc:123:`` prefix."""
    return re.sub(r"\[[\d:]+\] \S+:\d+: ", "", str(err).strip())[-200:]


def _on_video_timeline(mono: np.ndarray, offset: float, sample_rate: int, path: Path) -> np.ndarray:
    """Pad a late audio start with silence, trim what lies before the first video frame."""
    shift = int(round(abs(offset) * sample_rate))
    if offset > 0:
        return np.concatenate([np.zeros(shift, dtype=np.float32), mono])
    if shift >= mono.size:
        raise MediaError(
            path, f"the audio track ends {(shift - mono.size) / sample_rate:.2f} s before the first video frame"
        )
    return np.ascontiguousarray(mono[shift:])


def load_clip(
    path: str | os.PathLike,
    num_frames: int = NUM_FRAMES,
    sample_rate: int = SAMPLE_RATE,
    allow_missing_audio: bool = False,
) -> Clip:
    """Read ``num_frames`` midpoint-sampled frames and the mono audio track of a video file.

    Raises :class:`MediaError` (naming the file and the reason) for a missing, empty,
    truncated or non-media file, and for a video without an audio stream unless
    ``allow_missing_audio`` (then ``audio is None`` and ``audio_missing`` is True).
    """
    from decord import VideoReader

    path = Path(path)
    _check_file(path)
    track = _decode_audio(path, need_video=True)
    if track is None and not allow_missing_audio:
        raise MediaError(path, "the file has no audio stream (pass allow_missing_audio=True to accept it)")
    try:
        reader = VideoReader(str(path), num_threads=1)
        total = len(reader)
        if total < 1:
            raise MediaError(path, "the video stream has 0 frames")
        fps = float(reader.get_avg_fps())
        frames = reader.get_batch(sample_frame_indices(total, num_frames).tolist()).asnumpy()
    except MediaError:
        raise
    except Exception as err:
        raise MediaError(path, f"cannot decode the video stream ({_decord_reason(err)})") from None
    frames = np.ascontiguousarray(frames, dtype=np.uint8)  # (T, H, W, 3)
    if frames.ndim != 4 or frames.shape[0] != num_frames or frames.shape[-1] != 3:
        raise MediaError(path, f"decoded frames have shape {frames.shape}, expected ({num_frames}, H, W, 3)")

    audio, offset = None, 0.0
    if track is not None:
        offset = track.start
        audio = _on_video_timeline(
            _resample(downmix(track.samples), track.rate, sample_rate), offset, sample_rate, path
        )
    return Clip(
        path=str(path),
        frames=frames,
        audio=audio,
        sample_rate=int(sample_rate),
        audio_missing=audio is None,
        audio_silent=audio is not None and float(np.abs(audio).max(initial=0.0)) <= SILENCE_PEAK,
        fps=fps,
        duration=total / fps if fps > 0 else 0.0,
        audio_offset=offset,
    )


def load_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read the audio of any file FFmpeg reads (wav, flac, ogg, mp3, m4a, or a video's audio
    track) as mono float32 at ``sample_rate``: the mean of its channels, clipped to [-1, 1],
    resampled with librosa. Raises :class:`MediaError` naming the file when it is missing, empty,
    cannot be decoded, or has no audio stream."""
    path = Path(path)
    _check_file(path)
    track = _decode_audio(path, need_video=False)
    if track is None:
        raise MediaError(path, "the file has no audio stream")
    return _resample(downmix(track.samples), track.rate, sample_rate)


@functools.lru_cache(maxsize=4)
def whisper_feature_extractor(n_mels: int = 128, sample_rate: int = SAMPLE_RATE):
    """A local ``WhisperFeatureExtractor`` (128 mels as whisper-large-v3, 80 as older Whisper)."""
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor(feature_size=n_mels, sampling_rate=sample_rate)


def log_mel(
    audio: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    feature_extractor=None,
    *,
    n_mels: int = 128,
    padding: str = "max_length",
) -> np.ndarray:
    """Whisper-style log-mel features of a mono waveform, float32 (n_mels, frames).

    Whisper's recipe: 25 ms Hann window, 10 ms hop (160 samples at 16 kHz), mel filter bank,
    ``log10(max(mel, 1e-10))``, clamp to (max - 8), then ``(x + 4) / 4``. With the default
    ``padding="max_length"`` the waveform is padded / cut to 30 s, i.e. 3000 frames, as the
    Whisper encoder expects; ``padding="longest"`` keeps only the clip's own frames.
    """
    if audio is None:
        raise ValueError("log_mel needs a waveform; the clip has no audio (audio_missing)")
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"log_mel expects mono audio of shape (N,), got {audio.shape}")
    fe = feature_extractor or whisper_feature_extractor(n_mels, sample_rate)
    if fe.sampling_rate != sample_rate:
        raise ValueError(f"feature extractor expects {fe.sampling_rate} Hz audio, got {sample_rate} Hz")
    feats = fe(audio, sampling_rate=sample_rate, return_tensors="np", padding=padding)["input_features"]
    return feats[0].astype(np.float32)  # (n_mels, frames)


#: Channel layouts :func:`write_clip` can write, by channel count.
LAYOUTS: dict[int, str] = {1: "mono", 2: "stereo", 6: "5.1"}


def write_clip(
    path: str | os.PathLike,
    frames: np.ndarray,
    audio: np.ndarray | None = None,
    *,
    fps: int = 10,
    sample_rate: int = SAMPLE_RATE,
    video_codec: str = "libx264",
    audio_codec: str = "aac",
    pix_fmt: str = "yuv420p",
    audio_start: float = 0.0,
) -> Path:
    """Encode RGB frames (T, H, W, 3) uint8 and optional audio ((N,) or (C, N) float in [-1, 1])
    into a container chosen by the suffix (.mp4, .mov, .mkv, .webm) with PyAV, atomically.

    Used to make test media and small demo clips. ``audio=None`` writes a video without an
    audio stream. webm needs ``video_codec="libvpx"``/``"libvpx-vp9"`` and ``audio_codec``
    ``"vorbis"``/``"libopus"``. ``audio_start`` > 0 starts the audio stream that many seconds after
    the first frame (as some real files do). Audio may have 1, 2 or 6 channels (:data:`LAYOUTS`).
    """
    import av

    from r1omni.io import atomic_open

    path = Path(path)
    fmt = CONTAINER_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unsupported suffix; expected one of {sorted(CONTAINER_FORMATS)}")
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    with atomic_open(path, "wb") as fh:
        with av.open(fh, mode="w", format=fmt) as container:
            vstream = container.add_stream(video_codec, rate=fps)
            vstream.height, vstream.width = frames.shape[1], frames.shape[2]
            vstream.pix_fmt = pix_fmt
            astream = None
            if audio is not None:
                wave = np.atleast_2d(np.asarray(audio, dtype=np.float32))  # (C, N)
                astream = container.add_stream(audio_codec, rate=sample_rate)
                if wave.shape[0] not in LAYOUTS:
                    raise ValueError(f"audio with {wave.shape[0]} channels; write_clip writes {sorted(LAYOUTS)}")
                astream.layout = LAYOUTS[wave.shape[0]]
                if audio_codec == "vorbis":
                    astream.codec_context.options = {"strict": "experimental"}
            for frame in frames:
                container.mux(vstream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            container.mux(vstream.encode())
            if astream is not None:
                step = astream.codec_context.frame_size or 1024
                delay = int(round(audio_start * sample_rate))
                for start in range(0, wave.shape[1], step):
                    chunk = np.ascontiguousarray(wave[:, start : start + step])
                    aframe = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=astream.layout.name)
                    aframe.sample_rate, aframe.pts = sample_rate, start + delay
                    aframe.time_base = Fraction(1, sample_rate)
                    container.mux(astream.encode(aframe))
                container.mux(astream.encode())
    return path
