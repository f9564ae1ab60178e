"""Strict media loading: every container, rate and channel layout, and every kind of bad file.

The test media are made here with PyAV (through ``write_clip``) in a temporary directory.
Frame i of every test video is a flat colour with red = 10 * i, so the sampled frame
indices can be read back from the pixels; the audio is a 440 Hz tone of amplitude 0.5.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st

from r1omni.data.media import (
    Clip,
    MediaError,
    load_audio,
    load_clip,
    log_mel,
    sample_frame_indices,
    write_clip,
)

T, FPS, SECONDS, TONE_HZ = 20, 10, 2.0, 440.0


def _frames(t: int = T, h: int = 48, w: int = 64) -> np.ndarray:
    frames = np.zeros((t, h, w, 3), np.uint8)
    frames[..., 0] = (10 * np.arange(t, dtype=np.uint8))[:, None, None]
    frames[..., 1] = 128
    return frames


def _tone(rate: int, seconds: float = SECONDS, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)


def _dominant_hz(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.argmax(spectrum) * rate / len(audio))


# (suffix, video codec, audio codec, native rate, channels)
CONTAINERS = [
    (".mp4", "libx264", "aac", 16000, 1),
    (".mov", "libx264", "aac", 44100, 2),
    (".mkv", "libx264", "aac", 22050, 1),
    (".webm", "libvpx", "vorbis", 44100, 2),
    (".webm", "libvpx-vp9", "libopus", 48000, 1),
]


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    files = {}
    for suffix, vcodec, acodec, rate, channels in CONTAINERS:
        tone = _tone(rate)
        audio = tone if channels == 1 else np.stack([tone, tone])
        name = f"{vcodec}_{acodec}_{rate}_{channels}ch{suffix}"
        files[name] = write_clip(
            root / name, _frames(), audio, fps=FPS, sample_rate=rate, video_codec=vcodec, audio_codec=acodec
        )
    files["noaudio"] = write_clip(root / "noaudio.mp4", _frames(), None, fps=FPS)
    files["silent"] = write_clip(root / "silent.mp4", _frames(), np.zeros(32000, np.float32), fps=FPS)
    files["left_only"] = write_clip(
        root / "left_only.mov",
        _frames(),
        np.stack([_tone(44100), np.zeros(88200, np.float32)]),
        fps=FPS,
        sample_rate=44100,
    )
    good = files["noaudio"].read_bytes()
    files["truncated"] = root / "truncated.mp4"
    files["truncated"].write_bytes(write_clip(root / "full.mp4", _frames(), _tone(16000)).read_bytes()[:6000])
    files["text"] = root / "notes.mp4"
    files["text"].write_text("this is not a video\n")
    files["empty"] = root / "empty.mp4"
    files["empty"].write_bytes(b"")
    files["audio_only"] = root / "audio_only.mp4"
    sf.write(root / "tone.wav", _tone(16000), 16000)
    files["audio_only"].write_bytes((root / "tone.wav").read_bytes())
    files["garbage"] = root / "garbage.mkv"
    files["garbage"].write_bytes(good[:16] + bytes(range(256)) * 8)
    return files


@pytest.mark.parametrize("spec", CONTAINERS, ids=lambda s: f"{s[0]}-{s[1]}-{s[2]}-{s[3]}Hz-{s[4]}ch")
def test_load_clip_every_container(media, spec):
    suffix, vcodec, acodec, rate, channels = spec
    clip = load_clip(media[f"{vcodec}_{acodec}_{rate}_{channels}ch{suffix}"])
    assert isinstance(clip, Clip)
    assert clip.frames.dtype == np.uint8 and clip.frames.shape == (8, 48, 64, 3)
    # frames come from the segment midpoints (s = 19 / 8: round(s * (i + 0.5))), readable from the red channel
    expected = 10 * np.array([1, 4, 6, 8, 11, 13, 15, 18])
    assert np.abs(clip.frames[:, 24, 32, 0].astype(int) - expected).max() <= 8
    assert clip.fps == pytest.approx(FPS) and clip.duration == pytest.approx(SECONDS)
    # mono float32 at 16 kHz, the same tone, the same level (channel mean, not a sum)
    assert clip.audio.dtype == np.float32 and clip.audio.ndim == 1 and clip.sample_rate == 16000
    assert abs(len(clip.audio) / 16000 - SECONDS) < 0.15
    assert _dominant_hz(clip.audio, 16000) == pytest.approx(TONE_HZ, abs=2)
    assert np.abs(clip.audio).max() == pytest.approx(0.5, abs=0.05)
    assert np.isfinite(clip.audio).all()
    assert not clip.audio_missing and not clip.audio_silent


def test_load_clip_other_sample_rate_and_frame_count(media):
    clip = load_clip(media["libx264_aac_44100_2ch.mov"], num_frames=4, sample_rate=8000)
    assert clip.frames.shape[0] == 4 and clip.sample_rate == 8000
    # midpoints of 4 segments of s = 19 / 4 frames: 2.375, 7.125, 11.875, 16.625
    assert np.abs(clip.frames[:, 24, 32, 0].astype(int) - 10 * np.array([2, 7, 12, 17])).max() <= 8
    assert abs(len(clip.audio) / 8000 - SECONDS) < 0.15
    assert _dominant_hz(clip.audio, 8000) == pytest.approx(TONE_HZ, abs=2)


def test_stereo_is_the_channel_mean(media):
    """Left = tone, right = silence: the mono track equals the mean of the decoded channels
    (decoded independently here with PyAV), resampled to 16 kHz."""
    import av
    import librosa

    path = media["left_only"]
    with av.open(str(path)) as container:
        channels = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)  # (2, N)
    assert channels.shape[0] == 2 and np.abs(channels[1]).max() < 1e-3 < np.abs(channels[0]).max()
    reference = librosa.resample(channels.mean(axis=0), orig_sr=44100, target_sr=16000)
    clip = load_clip(path)
    n = min(len(reference), len(clip.audio))
    assert abs(len(reference) - len(clip.audio)) <= 2
    np.testing.assert_allclose(clip.audio[:n], reference[:n], atol=1e-4)


def test_missing_audio_raises_unless_allowed(media):
    with pytest.raises(MediaError, match="no audio stream") as err:
        load_clip(media["noaudio"])
    assert str(media["noaudio"]) in str(err.value)
    clip = load_clip(media["noaudio"], allow_missing_audio=True)
    assert clip.audio is None and clip.audio_missing and not clip.audio_silent
    assert clip.frames.shape == (8, 48, 64, 3)


def test_silent_track_is_flagged_not_missing(media):
    clip = load_clip(media["silent"])
    assert clip.audio is not None and len(clip.audio) > 0
    assert clip.audio_silent and not clip.audio_missing


@pytest.mark.parametrize(
    "name,reason",
    [
        ("truncated", "truncated"),
        ("text", "not a readable media file"),
        ("empty", "empty file"),
        ("garbage", "not a readable media file"),
        ("audio_only", "no video stream"),
    ],
)
def test_bad_files_raise_media_error(media, name, reason):
    with pytest.raises(MediaError, match=reason) as err:
        load_clip(media[name], allow_missing_audio=True)
    assert isinstance(err.value, ValueError)
    assert err.value.path == str(media[name]) and str(media[name]) in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        load_clip(tmp_path / "absent.mp4")
    with pytest.raises(MediaError, match="not a regular file"):
        load_clip(tmp_path)


def test_sample_frame_indices_matches_videollama2():
    assert sample_frame_indices(20, 8).tolist() == [1, 4, 6, 8, 11, 13, 15, 18]  # by hand: round(2.375 * (i + .5))
    assert sample_frame_indices(1, 3).tolist() == [0, 0, 0]
    # VideoLLaMA2 / HumanOmni frame_sample(mode="uniform"), written out long-hand
    for total in (1, 2, 7, 8, 9, 16, 50, 301):
        seg = (total - 1) / 8
        ref = [int(np.round((seg * i + seg * (i + 1)) / 2 + 1e-6)) for i in range(8)]
        assert sample_frame_indices(total, 8).tolist() == ref


@given(total=st.integers(1, 5000), n=st.integers(1, 64))
def test_sample_frame_indices_properties(total, n):
    idx = sample_frame_indices(total, n)
    assert len(idx) == n and idx.min() >= 0 and idx.max() <= total - 1
    assert np.all(np.diff(idx) >= 0)
    if total >= 2 * n:  # enough frames: all distinct
        assert len(set(idx.tolist())) == n


@pytest.mark.parametrize("bad", [0, -3])
def test_sample_frame_indices_rejects(bad):
    with pytest.raises(ValueError):
        sample_frame_indices(bad, 8)


@pytest.mark.parametrize("fmt,rate,channels", [("wav", 44100, 2), ("flac", 22050, 1), ("wav", 16000, 1)])
def test_load_audio(tmp_path, fmt, rate, channels):
    tone = _tone(rate)
    data = tone if channels == 1 else np.stack([tone, tone], axis=1)
    path = tmp_path / f"tone.{fmt}"
    sf.write(path, data, rate)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) == pytest.approx(16000 * SECONDS, abs=2)
    assert _dominant_hz(audio, 16000) == pytest.approx(TONE_HZ, abs=2)
    assert np.abs(audio).max() == pytest.approx(0.5, abs=0.02)


def test_load_audio_bad_files(tmp_path, media):
    with pytest.raises(MediaError, match="no such file"):
        load_audio(tmp_path / "absent.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(MediaError, match="empty file"):
        load_audio(tmp_path / "empty.wav")
    with pytest.raises(MediaError, match="not a readable media file"):
        load_audio(media["text"])


def test_log_mel_whisper_layout():
    tone = _tone(16000, amp=0.3)
    full = log_mel(tone)
    assert full.shape == (128, 3000) and full.dtype == np.float32  # padded to 30 s
    short = log_mel(tone, n_mels=80, padding="longest")
    assert short.shape == (80, 200)  # 2 s / 10 ms hop
    # Whisper's normalisation: values lie within 8 log10 units below the max, scaled by 1/4
    assert full.max() - full.min() <= 2.0 + 1e-5
    # the tone's energy sits in the mel band around 440 Hz (low bins), not in the top bins
    band = short[:, 20:180].mean(axis=1)
    assert int(np.argmax(band)) < 20


def test_log_mel_rejects_missing_and_stereo_audio():
    with pytest.raises(ValueError, match="audio_missing"):
        log_mel(None)
    with pytest.raises(ValueError, match="mono"):
        log_mel(np.zeros((2, 100), np.float32))


def test_write_clip_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="suffix"):
        write_clip(tmp_path / "x.avi", _frames())
    with pytest.raises(ValueError, match="uint8"):
        write_clip(tmp_path / "x.mp4", _frames().astype(np.float32))


# ----------------------------------------------------------------------------- what real corpora contain
def _write_audio_only(path, wave: np.ndarray, rate: int, codec: str, fmt: str) -> None:
    """An audio-only file (m4a = AAC in the ipod container, mp3) written with PyAV."""
    from fractions import Fraction

    import av

    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        step = stream.codec_context.frame_size or 1152
        for start in range(0, wave.size, step):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(wave[None, start : start + step]), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


@pytest.mark.parametrize("suffix,codec,fmt", [(".m4a", "aac", "ipod"), (".mp3", "libmp3lame", "mp3")])
def test_load_audio_reads_compressed_audio_containers(tmp_path, suffix, codec, fmt):
    path = tmp_path / f"voice{suffix}"
    _write_audio_only(path, _tone(44100), 44100, codec, fmt)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) == pytest.approx(16000 * SECONDS, rel=0.1)  # codec padding adds a few ms
    assert _dominant_hz(audio, 16000) == pytest.approx(TONE_HZ, abs=2)
    # AAC rings where the tone stops abruptly; the bulk of the track keeps its amplitude
    assert np.percentile(np.abs(audio), 99) == pytest.approx(0.5, abs=0.05) and np.abs(audio).max() <= 1.0


def test_load_audio_reads_the_audio_track_of_a_video(media):
    audio = load_audio(media["libx264_aac_44100_2ch.mov"])
    assert _dominant_hz(audio, 16000) == pytest.approx(TONE_HZ, abs=2)
    with pytest.raises(MediaError, match="noaudio.mp4: the file has no audio stream"):
        load_audio(media["noaudio"])


def test_a_late_audio_track_is_put_on_the_video_timeline(tmp_path):
    """The audio stream starts 1.5 s after the first frame: the tone must sit 1.5 s into the clip."""
    late = write_clip(tmp_path / "late.mp4", _frames(30), _tone(16000, seconds=1.0), fps=FPS, audio_start=1.5)
    clip = load_clip(late)
    assert clip.audio_offset == pytest.approx(1.5, abs=0.07)  # AAC priming: the stream starts 1024 samples early
    onset = int(np.argmax(np.abs(clip.audio) > 0.1)) / 16000  # first loud sample, in seconds of the clip
    assert onset == pytest.approx(1.5, abs=0.03)
    assert np.abs(clip.audio[: int(1.4 * 16000)]).max() < 1e-3  # silence before the voice starts
    on_time = load_clip(write_clip(tmp_path / "on_time.mp4", _frames(30), _tone(16000), fps=FPS))
    assert on_time.audio_offset == 0.0
    assert int(np.argmax(np.abs(on_time.audio) > 0.1)) / 16000 < 0.1


def test_an_early_audio_track_is_trimmed_to_the_first_frame():
    from r1omni.data.media import _on_video_timeline

    wave = np.arange(10, dtype=np.float32)
    assert _on_video_timeline(wave, -0.25, 8, "x").tolist() == list(range(2, 10))  # 2 samples before frame 0
    assert _on_video_timeline(wave, 0.25, 8, "x")[:3].tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(MediaError, match="ends .* before the first video frame"):
        _on_video_timeline(wave, -2.0, 8, "x")


def test_a_5_1_track_is_averaged_and_stays_within_full_scale(tmp_path):
    """A loud 5.1 track: decoded AAC channels overshoot full scale (the centre channel of a 0.9
    sine peaks near 1.5 here; FFmpeg's default mix-down of such a file peaked at 1.17 and more).
    The clip's audio is the plain channel mean, clipped to [-1, 1]."""
    from r1omni.data.media import _decode_audio, downmix

    loud = np.stack([0.9 * np.sin(2 * np.pi * 220 * np.arange(32000) / 16000)] * 6).astype(np.float32)
    path = write_clip(tmp_path / "surround.mp4", _frames(), loud, fps=FPS)
    track = _decode_audio(path, need_video=True)
    assert track.samples.shape[0] == 6 and np.abs(track.samples).max() > 1.0  # the decoder overshoots
    clip = load_clip(path)
    assert np.abs(clip.audio).max() <= 1.0
    np.testing.assert_array_equal(clip.audio, np.clip(track.samples.mean(axis=0), -1, 1))
    assert downmix(np.array([[1.2, -1.4], [1.0, -1.0]])).tolist() == [1.0, -1.0]
