"""SynthEmo: manifests, splits, cues and explanations, determinism, decodable clips.

The espeak-ng voice tests run when espeak-ng is on PATH and are skipped (with the reason) otherwise;
the error for espeak asked for but missing is tested always.
"""

from __future__ import annotations

import re
from pathlib import Path

import av
import decord
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r1omni.data.manifest import REQUIRED_FIELDS, answer_target
from r1omni.data.synth import SPLITS, EspeakNotFound, SynthConfig, generate, plan, split_sizes
from r1omni.data.synth import espeak as espeak_voice
from r1omni.data.synth.clip import make_clip
from r1omni.data.synth.cues import CUES, VOICE_CUES, find_cue_mentions, present_cues
from r1omni.data.synth.emotions import NEUTRAL_FACE, NEUTRAL_VOICE, sample_voice
from r1omni.data.synth.explain import explain, reasoning_corpus
from r1omni.data.synth.separability import pair_separability, separability
from r1omni.data.synth.voice import render_voice, sample_speaker
from r1omni.io import read_json, read_jsonl
from r1omni.settings import DFEW_LABELS, MAFW_LABELS, PROMPT

PER_CLASS = 1


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthemo")
    generate(out, per_class=PER_CLASS, seed=7, workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def records(synth_dir) -> dict[str, list[dict]]:
    return {split: read_jsonl(synth_dir / f"{split}.jsonl") for split in SPLITS}


def test_every_split_has_the_planned_size(records):
    assert {s: len(r) for s, r in records.items()} == split_sizes(PER_CLASS, len(DFEW_LABELS))


def test_manifest_lines_have_every_field(synth_dir, records):
    ids = set()
    for split, rows in records.items():
        for rec in rows:
            for key in (*REQUIRED_FIELDS, "face_label", "voice_label", "domain"):
                assert key in rec, f"{split}:{rec.get('id')} lacks {key}"
            assert rec["split"] == split
            assert rec["label"] in DFEW_LABELS and rec["voice_label"] in DFEW_LABELS
            assert rec["label"] == rec["face_label"]
            assert (synth_dir / rec["video"]).is_file() and not Path(rec["video"]).is_absolute()
            assert rec["subtitle"].endswith(".") and len(rec["subtitle"].split()) >= 4
            human, gpt = rec["conversations"]
            assert human["from"] == "human" and human["value"].endswith(PROMPT)
            assert gpt["from"] == "gpt"
            if split == "coldstart":
                assert re.fullmatch(r"<think>[^<>]+</think><answer>(\w+)</answer>", gpt["value"])
                assert gpt["value"].endswith(answer_target(rec["label"]))
            else:
                assert gpt["value"] == answer_target(rec["label"])
            cues = rec["cues"]
            assert set(cues) >= {"face", "voice", "words", "present"}
            assert cues["present"] == present_cues(cues["face"], cues["voice"])
            assert sorted(cues["words"]["face"] + cues["words"]["voice"]) == sorted(
                CUES[c].phrases[0] for c in cues["present"]
            )
            ids.add(rec["id"])
    assert len(ids) == sum(len(r) for r in records.values()), "clip ids must be unique"


def test_conflict_face_and_voice_disagree_elsewhere_agree(records):
    conflict = records["conflict"]
    assert conflict and all(r["face_label"] != r["voice_label"] for r in conflict)
    assert {r["face_label"] for r in conflict} == set(DFEW_LABELS)
    for split in ("train", "val", "test", "ood", "coldstart"):
        assert all(r["face_label"] == r["voice_label"] for r in records[split])


def test_ood_is_another_drawing_style_and_voice(records):
    for split, rows in records.items():
        for rec in rows:
            ood = split == "ood"
            assert rec["domain"] == ("ood" if ood else "synth")
            assert rec["cues"]["appearance"]["style"] == ("sketch" if ood else "flat")
            f0 = rec["cues"]["speaker"]["base_f0"]
            assert (f0 >= 240) if ood else (f0 <= 220)


def test_explanations_name_exactly_the_present_cues(records):
    for rec in records["coldstart"]:
        think = rec["conversations"][1]["value"].split("</think>")[0]
        assert sorted(find_cue_mentions(think)) == sorted(rec["cues"]["present"]), rec["id"]
        assert think.rstrip(".").endswith(rec["label"])


@settings(max_examples=60, deadline=None)
@given(st.sets(st.sampled_from(sorted(CUES))), st.integers(0, 2**32 - 1), st.sampled_from(MAFW_LABELS))
def test_explain_mentions_only_given_cues_and_uses_corpus_words(present, seed, label):
    text = explain(label, sorted(present), np.random.default_rng(seed))
    assert sorted(find_cue_mentions(text)) == sorted(present)
    vocab = {w for s in reasoning_corpus() for w in re.findall(r"[\w']+", s)}
    assert set(re.findall(r"[\w']+", text)) <= vocab


def test_find_cue_mentions():
    for cue_id, cue in CUES.items():
        for phrase in cue.phrases:
            assert find_cue_mentions(f"We see {phrase.upper()}!") == [cue_id]
    assert find_cue_mentions("nothing here, the face stays mostly relaxed") == []
    assert find_cue_mentions("inner brow corners raised, then raised eyebrows") == ["worried_brows", "raised_brows"]
    assert find_cue_mentions("a smile " * 1000) == ["smile"]


def test_same_seed_same_manifests_and_frames(synth_dir, tmp_path):
    again = tmp_path / "again"
    generate(again, per_class=PER_CLASS, seed=7, workers=2, progress=False)
    for split in SPLITS:
        assert (again / f"{split}.jsonl").read_bytes() == (synth_dir / f"{split}.jsonl").read_bytes()
    for rec in read_jsonl(synth_dir / "test.jsonl"):
        a = decord.VideoReader(str(synth_dir / rec["video"]))
        b = decord.VideoReader(str(again / rec["video"]))
        idx = list(range(len(a)))
        np.testing.assert_array_equal(a.get_batch(idx).asnumpy(), b.get_batch(idx).asnumpy())
    spec = plan(SynthConfig(per_class=PER_CLASS, seed=8))[0]
    assert make_clip(spec, tmp_path / "other")["cues"] != read_jsonl(synth_dir / "train.jsonl")[0]["cues"]


def test_clips_decode_with_decord_and_load_clip(synth_dir, records):
    rec = records["train"][0]
    path = str(synth_dir / rec["video"])
    vr = decord.VideoReader(path)
    assert len(vr) == 20 and vr.get_avg_fps() == pytest.approx(10.0)
    assert vr[0].shape == (112, 112, 3)
    with av.open(path) as container:  # the track itself is AAC at 16 kHz, mono
        stream = container.streams.audio[0]
        assert (stream.codec_context.name, stream.sample_rate, stream.channels) == ("aac", 16_000, 1)
    audio = decord.AudioReader(path, sample_rate=16_000, mono=True)[:].asnumpy()
    assert audio.shape[1] >= 2 * 16_000 and np.abs(audio).max() > 0.01
    media = pytest.importorskip("r1omni.data.media")
    clip = media.load_clip(path)
    assert clip.frames.shape == (8, 112, 112, 3) and clip.sample_rate == 16_000
    assert not clip.audio_missing and not clip.audio_silent


def test_mafw_label_set(tmp_path):
    specs = plan(SynthConfig(per_class=PER_CLASS, labels="mafw"))
    assert {s.face_label for s in specs if s.split == "train"} == set(MAFW_LABELS)
    assert all(s.face_label != s.voice_label for s in specs if s.split == "conflict")
    for spec in [s for s in specs if s.split == "train"][7:]:  # the four MAFW-only classes
        rec = make_clip(spec, tmp_path)
        assert rec["label"] == spec.face_label in MAFW_LABELS and (tmp_path / rec["video"]).is_file()


def test_bad_arguments_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="labels"):
        plan(SynthConfig(labels="ravdess"))
    with pytest.raises(ValueError, match="per_class"):
        split_sizes(0, 7)
    with pytest.raises(ValueError, match="workers"):
        generate(tmp_path, per_class=1, workers=0, progress=False)


def test_voice_parameters_are_audible():
    """Loudness and pitch shift really change the waveform (cues are true of the media)."""
    rng = np.random.default_rng(0)
    speaker = sample_speaker(rng)
    base = sample_voice("neutral", 0.0, np.random.default_rng(1))
    quiet, _ = render_voice(speaker, {**base, "loudness": -6.0}, np.random.default_rng(2))
    loud, _ = render_voice(speaker, {**base, "loudness": 6.0}, np.random.default_rng(2))
    ratio_db = 20 * np.log10(np.sqrt(np.mean(loud**2)) / np.sqrt(np.mean(quiet**2)))
    assert 10.0 < ratio_db < 12.5
    import librosa

    def median_f0(shift):
        audio, _ = render_voice(speaker, {**base, "pitch_shift": shift, "jitter": 0.0}, np.random.default_rng(3))
        f0 = librosa.yin(audio, fmin=60, fmax=600, sr=16_000)
        return float(np.median(f0))

    assert median_f0(6.0) / median_f0(0.0) == pytest.approx(2 ** (6 / 12), rel=0.08)


def test_separability_tables(synth_dir):
    overall = separability(synth_dir)
    assert list(overall["inputs"]) == ["visual", "audio", "both"]
    assert (overall["n_test"] == split_sizes(PER_CLASS, len(DFEW_LABELS))["test"]).all()
    pairs = pair_separability(synth_dir)
    assert list(pairs["pair"]) == ["angry vs disgust", "fear vs surprise", "happy vs angry", "sad vs neutral"]
    assert list(pairs["hard_from"]) == ["face", "face", "voice", "voice"]


def test_the_generating_parameters_make_fusion_matter(tmp_path):
    """SynthEmo's design, on its own parameter draws (no media): each modality alone is ambiguous on
    its hard pairs, which the other modality separates, and both together beat either alone."""
    import json

    from r1omni.data.synth.emotions import sample_face, sample_intensity

    rng = np.random.default_rng(0)
    for split, n in (("train", 60), ("test", 40)):
        lines = [
            json.dumps(
                {
                    "id": f"{split}-{label}-{i}",
                    "label": label,
                    "cues": {
                        "face": sample_face(label, sample_intensity(rng), rng),
                        "voice": sample_voice(label, sample_intensity(rng), rng),
                    },
                }
            )
            for label in DFEW_LABELS
            for i in range(n)
        ]
        (tmp_path / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    overall = separability(tmp_path).set_index("inputs")["accuracy"]
    assert overall["visual"] > 0.5 and overall["audio"] > 0.4  # chance: 1/7
    assert overall["both"] > max(overall["visual"], overall["audio"]) + 0.15
    for row in pair_separability(tmp_path).itertuples():
        hard, other = ("visual", "audio") if row.hard_from == "face" else ("audio", "visual")
        assert getattr(row, other) >= getattr(row, hard) + 0.1, row.pair
        assert row.both >= 0.85, row.pair


# --- the optional espeak-ng voice -----------------------------------------------------------


needs_espeak = pytest.mark.skipif(
    espeak_voice.shutil.which("espeak-ng") is None,
    reason="espeak-ng is not on PATH (apt-get install espeak-ng); the espeak voice is optional",
)
UNRENDERED_CUES = {c for c in VOICE_CUES if CUES[c].param not in espeak_voice.RENDERED}


def test_espeak_asked_for_but_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(espeak_voice.shutil, "which", lambda name: None)
    with pytest.raises(EspeakNotFound, match="apt-get install espeak-ng"):
        generate(tmp_path / "set", per_class=1, voice="espeak", workers=1, progress=False)
    assert not (tmp_path / "set").exists(), "nothing is written (and no numpy fallback)"
    from r1omni.data.synth.__main__ import main

    with pytest.raises(EspeakNotFound, match="espeak-ng"):
        main(["--out", str(tmp_path / "cli"), "--per-class", "1", "--voice", "espeak"])
    with pytest.raises(EspeakNotFound):
        make_clip(plan(SynthConfig(per_class=1))[0], tmp_path / "one", voice_engine="espeak")
    with pytest.raises(ValueError, match="voice"):
        generate(tmp_path / "bad", per_class=1, voice="festival", progress=False)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(MAFW_LABELS), st.sampled_from(("synth", "ood")))
def test_espeak_controls_and_realised_prosody(seed, label, domain):
    """The recorded prosody is what the integer controls give; unrendered cues are never present."""
    rng = np.random.default_rng(seed)
    speaker = espeak_voice.sample_espeak_speaker(rng, domain)
    target = sample_voice(label, 1.0, rng)
    controls = espeak_voice.espeak_controls(speaker, target)
    assert espeak_voice.PITCH_LIMITS[0] <= controls["pitch"] <= espeak_voice.PITCH_LIMITS[1]
    assert 0 <= controls["range"] <= 100 and 80 <= controls["speed"] <= 450 and 0 <= controls["amplitude"] <= 200
    real = espeak_voice.realised_prosody(speaker, controls)
    # within half an integer step of the target unless a control saturated
    if espeak_voice.PITCH_LIMITS[0] < controls["pitch"] < espeak_voice.PITCH_LIMITS[1]:
        assert real["pitch_shift"] == pytest.approx(target["pitch_shift"], abs=0.15)
    if 80 < controls["speed"] < 450:
        assert real["rate"] == pytest.approx(target["rate"], abs=0.02)
    if 0 < controls["amplitude"] < 200:
        half_step_db = 20 * np.log10(1 + 0.5 / controls["amplitude"])  # amplitude is linear
        assert real["loudness"] == pytest.approx(target["loudness"], abs=half_step_db + 1e-3)
    if controls["range"] < 100:
        assert real["pitch_range"] == pytest.approx(target["pitch_range"], abs=0.05)
    voice = {**real, "rendered": list(espeak_voice.RENDERED), "target": target}
    present = present_cues(NEUTRAL_FACE, voice)
    assert not set(present) & UNRENDERED_CUES
    assert [c for c in present if c in VOICE_CUES] == [
        c for c in VOICE_CUES if c not in UNRENDERED_CUES and CUES[c].is_present(real[CUES[c].param])
    ]


@pytest.fixture(scope="module")
def espeak_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthemo_espeak")
    generate(out, per_class=PER_CLASS, seed=7, workers=1, progress=False, voice="espeak")
    return out


@needs_espeak
def test_espeak_records_are_truthful(espeak_dir, synth_dir):
    numpy_train = read_jsonl(synth_dir / "train.jsonl")
    for split in SPLITS:
        for k, rec in enumerate(read_jsonl(espeak_dir / f"{split}.jsonl")):
            voice = rec["cues"]["voice"]
            assert voice["engine"] == "espeak-ng" and rec["cues"]["speaker"]["engine"] == "espeak-ng"
            assert rec["cues"]["present"] == present_cues(rec["cues"]["face"], voice)
            assert not set(rec["cues"]["present"]) & UNRENDERED_CUES, rec["id"]
            assert {p: voice[p] for p in espeak_voice.RENDERED} == espeak_voice.realised_prosody(
                rec["cues"]["speaker"], voice["espeak"]
            )
            assert 0 < voice["speech_start"] < voice["speech_end"] <= 2.0
            assert voice["cut"] == (voice["speech_start"] + voice["spoken_seconds"] > 2.0 + 1e-3)
            assert rec["cues"]["speaker"]["voice"].startswith("en-us+" + ("f" if split == "ood" else "m"))
            if split == "coldstart":
                think = rec["conversations"][1]["value"].split("</think>")[0]
                assert sorted(find_cue_mentions(think)) == sorted(rec["cues"]["present"])
            if split == "train":  # same faces, subtitles and target prosody as the numpy set
                ref = numpy_train[k]
                assert rec["cues"]["face"] == ref["cues"]["face"] and rec["subtitle"] == ref["subtitle"]
                assert {p: voice["target"][p] for p in NEUTRAL_VOICE} == {
                    p: ref["cues"]["voice"][p] for p in NEUTRAL_VOICE
                }
    info = read_json(espeak_dir / "synthemo.json")
    assert info["voice"]["engine"] == "espeak-ng" and "1." in info["voice"]["version"]
    assert "voice" not in read_json(synth_dir / "synthemo.json")


@needs_espeak
def test_espeak_same_seed_same_manifests_and_audio(espeak_dir, tmp_path):
    again = tmp_path / "again"
    generate(again, per_class=PER_CLASS, seed=7, workers=2, progress=False, voice="espeak")
    for split in SPLITS:
        assert (again / f"{split}.jsonl").read_bytes() == (espeak_dir / f"{split}.jsonl").read_bytes()
    for rec in read_jsonl(espeak_dir / "test.jsonl"):
        assert (again / rec["video"]).read_bytes() == (espeak_dir / rec["video"]).read_bytes()


@needs_espeak
def test_espeak_clips_decode_with_decord_and_load_clip(espeak_dir):
    rec = read_jsonl(espeak_dir / "train.jsonl")[0]
    path = str(espeak_dir / rec["video"])
    vr = decord.VideoReader(path)
    assert len(vr) == 20 and vr[0].shape == (112, 112, 3)
    audio = decord.AudioReader(path, sample_rate=16_000, mono=True)[:].asnumpy()
    assert audio.shape[1] >= 2 * 16_000 and np.abs(audio).max() > 0.05
    media = pytest.importorskip("r1omni.data.media")
    clip = media.load_clip(path)
    assert clip.frames.shape == (8, 112, 112, 3) and clip.sample_rate == 16_000
    assert not clip.audio_missing and not clip.audio_silent


@needs_espeak
def test_espeak_controls_are_audible():
    """-p moves F0 as the calibration table says, -a the level, -s the length of the utterance."""
    import librosa

    exe = espeak_voice.find_espeak()
    speaker = {"voice": "en-us+m3", "base_pitch": 50}
    base = {"pitch": 50, "range": 50, "speed": 175, "amplitude": 100}
    text = "The kids are talking by the door."

    def say(**change):
        audio, sr = espeak_voice.speak(text, speaker, {**base, **change}, executable=exe)
        return audio, sr

    def median_f0(audio, sr):
        f0, voiced, _ = librosa.pyin(audio, fmin=60, fmax=400, sr=sr, frame_length=1024)
        return float(np.median(f0[voiced]))

    low, sr = say()
    high, _ = say(pitch=80)
    st_measured = 12 * np.log2(median_f0(high, sr) / median_f0(low, sr))
    assert st_measured == pytest.approx(espeak_voice.PITCH_SEMITONES[80], abs=1.0)
    loud, _ = say(amplitude=200)
    ratio_db = 20 * np.log10(np.sqrt(np.mean(loud**2)) / np.sqrt(np.mean(low**2)))
    assert 4.0 < ratio_db < 7.0
    fast, _ = say(speed=350)
    assert len(fast) / len(low) == pytest.approx(0.5, abs=0.1)
    again, _ = say()
    np.testing.assert_array_equal(again, low)
