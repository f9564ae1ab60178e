"""SynthEmo's perception split, its captions (write, parse, score) and the oracle rendering."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r1omni.data.media import load_clip
from r1omni.data.synth import SPLITS, generate
from r1omni.data.synth.__main__ import main as synth_main
from r1omni.data.synth.caption import caption_scores, describe, parse_caption
from r1omni.data.synth.cues import CUES, FACE_CUES, VOICE_CUES, present_cues
from r1omni.data.synth.emotions import FACE_PARAMS, FACE_RANGE, VOICE_PARAMS, VOICE_RANGE
from r1omni.data.synth.explain import FACE_NONE, FACE_OPENERS, LAST_JOINERS, VOICE_NONE, VOICE_OPENERS
from r1omni.data.synth.oracle import LAYOUT, oracle_image
from r1omni.data.synth.perception import (
    face_span,
    perception_size,
    sample_free_face,
    sample_free_voice,
    voice_span,
)
from r1omni.io import read_json, read_jsonl
from r1omni.rewards import SYNONYMS
from r1omni.settings import DFEW_LABELS, LABEL_SETS, MAFW_LABELS, PERCEPTION_PROMPT, PROMPT

PER_CLASS, SEED = 1, 11
#: Every label of every label set and every synonym the rewards accept.
EMOTION_WORDS = sorted({w for labels in LABEL_SETS.values() for w in labels} | set(SYNONYMS))


@pytest.fixture(scope="module")
def with_split(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("with_perception")
    generate(out, per_class=PER_CLASS, seed=SEED, workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def perception(with_split) -> list[dict]:
    return read_jsonl(with_split / "perception.jsonl")


def _frames(directory: Path, rec: dict) -> np.ndarray:
    return load_clip(directory / rec["video"]).frames


def _emotion_words_in(text: str) -> list[str]:
    words = set(re.findall(r"[a-z]+", text.lower()))
    return [w for w in EMOTION_WORDS if w in words]


# --- the split ------------------------------------------------------------------------------


def test_perception_split_size_and_records(with_split, perception):
    assert len(perception) == perception_size(PER_CLASS) == 20
    assert perception_size(100) == 2000 and perception_size(50) == 1000
    assert read_json(with_split / "synthemo.json")["sizes"]["perception"] == 20
    ids = set()
    for rec in perception:
        assert rec["split"] == "perception" and rec["domain"] == "synth"
        for key in ("label", "face_label", "voice_label"):
            assert key not in rec, f"{rec['id']} has a {key} field"
        assert (with_split / rec["video"]).is_file()
        human, gpt = rec["conversations"]
        assert human["from"] == "human" and human["value"].endswith(PERCEPTION_PROMPT)
        assert PROMPT not in human["value"]
        assert gpt == {"from": "gpt", "value": rec["caption"]}
        cues = rec["cues"]
        assert "intensity" not in cues
        assert cues["present"] == present_cues(cues["face"], cues["voice"])
        assert parse_caption(rec["caption"]) == set(cues["present"])
        # the training drawing style, identities and numpy voices, never ood's
        assert cues["appearance"]["style"] == "flat"
        assert cues["speaker"]["domain"] == "synth" and cues["speaker"]["base_f0"] <= 220
        ids.add(rec["id"])
    assert len(ids) == len(perception)
    all_ids = {r["id"] for split in SPLITS for r in read_jsonl(with_split / f"{split}.jsonl")}
    assert not ids & all_ids


def test_captions_never_name_an_emotion(perception):
    assert EMOTION_WORDS and "fearful" in EMOTION_WORDS and "calm" in EMOTION_WORDS
    for rec in perception:
        assert _emotion_words_in(rec["caption"]) == [], rec["caption"]
    # and no caption can: every word describe() can produce, for every label set
    sentences = list(FACE_NONE) + list(VOICE_NONE) + list(LAST_JOINERS)
    sentences += [o.format(cues="") for o in FACE_OPENERS + VOICE_OPENERS]
    sentences += [p for c in CUES.values() for p in c.phrases]
    for labels in LABEL_SETS.values():
        found = [w for w in labels if w in set(re.findall(r"[a-z]+", " ".join(sentences).lower()))]
        assert found == []
    assert _emotion_words_in(" ".join(sentences)) == []
    assert _emotion_words_in(PERCEPTION_PROMPT) == []


@settings(max_examples=200, deadline=None)
@given(st.sets(st.sampled_from(sorted(CUES))), st.integers(0, 2**32 - 1))
def test_parse_of_describe_is_the_cue_set(present, seed):
    text = describe(sorted(present), np.random.default_rng(seed))
    assert parse_caption(text) == frozenset(present)
    assert _emotion_words_in(text) == []
    face = [c for c in present if c in FACE_CUES]
    voice = [c for c in present if c in VOICE_CUES]
    if not face:
        assert any(s in text for s in FACE_NONE), "a modality without cues says so"
    if not voice:
        assert any(s in text for s in VOICE_NONE)


def test_describe_varies_its_wording():
    texts = {describe(["smile", "open_mouth", "loud_voice"], np.random.default_rng(s)) for s in range(40)}
    assert len(texts) > 20
    with pytest.raises(ValueError, match="unknown cue"):
        describe(["sparkly_eyes"], np.random.default_rng(0))


def test_parse_caption_is_total():
    assert parse_caption(None) == frozenset() and parse_caption(42) == frozenset()
    assert parse_caption("") == frozenset()
    assert parse_caption("WIDENED EYES, and a deep tone!") == {"wide_eyes", "low_pitch"}


def test_caption_scores():
    truth = [["smile", "open_mouth", "loud_voice"], ["frown"], []]
    pred = [
        "I see a smile and staring eyes. The voice comes with loud volume.",  # tp smile, loud; fp wide; fn open
        {"frown", "soft_voice"},  # tp frown; fp soft_voice
        "The face stays mostly relaxed. The voice sounds even and ordinary.",
    ]
    s = caption_scores(pred, truth)
    assert (s["overall"]["tp"], s["overall"]["fp"], s["overall"]["fn"]) == (3, 2, 1)
    assert s["overall"]["precision"] == pytest.approx(3 / 5) and s["overall"]["recall"] == pytest.approx(3 / 4)
    assert s["overall"]["f1"] == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    face, voice = s["modality"]["face"], s["modality"]["voice"]
    assert (face["tp"], face["fp"], face["fn"]) == (2, 1, 1)
    assert (voice["tp"], voice["fp"], voice["fn"]) == (1, 1, 0)
    assert s["cue"]["open_mouth"]["recall"] == 0.0 and s["cue"]["smile"]["f1"] == 1.0
    assert s["cue"]["nodding"]["f1"] == 0.0 and s["cue"]["nodding"]["support"] == 0  # undefined -> 0
    perfect = caption_scores([describe(t, np.random.default_rng(0)) for t in truth], truth)
    assert perfect["overall"]["f1"] == 1.0
    with pytest.raises(ValueError, match="2 predictions for 3"):
        caption_scores(pred[:2], truth)
    with pytest.raises(ValueError, match="unknown cue"):
        caption_scores([{"sparkle"}], [[]])


def test_free_parameters_cover_the_span_independently():
    rng = np.random.default_rng(0)
    faces = [sample_free_face(DFEW_LABELS, rng) for _ in range(3000)]
    voices = [sample_free_voice(DFEW_LABELS, rng) for _ in range(3000)]
    X = np.array([[f[p] for p in FACE_PARAMS] + [v[p] for p in VOICE_PARAMS] for f, v in zip(faces, voices)])
    spans = [face_span(DFEW_LABELS)[p] for p in FACE_PARAMS] + [voice_span(DFEW_LABELS)[p] for p in VOICE_PARAMS]
    ranges = [FACE_RANGE[p] for p in FACE_PARAMS] + [VOICE_RANGE[p] for p in VOICE_PARAMS]
    for j, ((lo, hi), (rlo, rhi)) in enumerate(zip(spans, ranges)):
        assert rlo <= lo < hi <= rhi
        assert lo - 1e-4 <= X[:, j].min() and X[:, j].max() <= hi + 1e-4
        assert X[:, j].min() < lo + 0.05 * (hi - lo) and X[:, j].max() > hi - 0.05 * (hi - lo)
    corr = np.corrcoef(X.T) - np.eye(X.shape[1])
    assert np.abs(corr).max() < 0.08, "parameters are drawn independently"
    assert face_span(MAFW_LABELS)["mouth_asym"][1] > face_span(DFEW_LABELS)["mouth_asym"][1]
    with pytest.raises(ValueError, match="unknown SynthEmo emotions"):
        face_span(("bored",))


# --- the other splits do not change ------------------------------------------------------------


def test_other_splits_unchanged_by_the_perception_split(with_split, tmp_path):
    without = tmp_path / "without"
    paths = generate(without, per_class=PER_CLASS, seed=SEED, workers=2, progress=False, perception=False)
    assert set(paths) == set(SPLITS) and not (without / "perception.jsonl").exists()
    assert "perception" not in read_json(without / "synthemo.json")["sizes"]
    for split in SPLITS:
        assert (without / f"{split}.jsonl").read_bytes() == (with_split / f"{split}.jsonl").read_bytes()
        for rec in read_jsonl(without / f"{split}.jsonl"):
            np.testing.assert_array_equal(_frames(without, rec), _frames(with_split, rec))
    assert read_json(without / "synthemo.json")["config"] == read_json(with_split / "synthemo.json")["config"]


def test_perception_clips_extends_the_split(with_split, perception, tmp_path):
    from r1omni.data.synth import SynthConfig, plan

    specs = [s for s in plan(SynthConfig(per_class=PER_CLASS, seed=SEED, perception_clips=30)) if s.perception]
    assert len(specs) == 30
    small = [s for s in plan(SynthConfig(per_class=PER_CLASS, seed=SEED)) if s.perception]
    assert specs[:20] == small  # clip i does not depend on the size
    with pytest.raises(ValueError, match="perception_clips"):
        generate(tmp_path / "bad", per_class=1, perception_clips=0, progress=False)
    assert not (tmp_path / "bad").exists()


# --- the oracle rendering ---------------------------------------------------------------------


def test_oracle_rendering_same_records_and_audio_other_frames(with_split, tmp_path):
    oracle = tmp_path / "oracle"
    synth_main(
        [
            "--out",
            str(oracle),
            "--per-class",
            str(PER_CLASS),
            "--seed",
            str(SEED),
            "--workers",
            "2",
            "--render",
            "oracle",
        ]
    )
    assert read_json(oracle / "synthemo.json")["render"] == "oracle"
    assert read_json(with_split / "synthemo.json")["render"] == "drawn"  # and its version: a redrawn set is rebuilt
    for split in SPLITS + ("perception",):
        assert (oracle / f"{split}.jsonl").read_bytes() == (with_split / f"{split}.jsonl").read_bytes()
    for split in ("train", "ood", "perception"):
        for rec in read_jsonl(oracle / f"{split}.jsonl")[:4]:
            a, b = load_clip(oracle / rec["video"]), load_clip(with_split / rec["video"])
            np.testing.assert_array_equal(a.audio, b.audio)
            assert a.frames.shape == b.frames.shape
            assert np.abs(a.frames.astype(int) - b.frames.astype(int)).mean() > 10
            # the decoded oracle frame still shows the true parameters
            np.testing.assert_allclose(_read_oracle(a.frames[3]), _true_z(rec), atol=0.03)
    with pytest.raises(ValueError, match="render"):
        generate(tmp_path / "bad", per_class=1, render="painted", progress=False)


def _true_z(rec: dict) -> np.ndarray:
    params = {"face": rec["cues"]["face"], "voice": rec["cues"]["voice"]}
    out = []
    for quad in LAYOUT:
        for slot in quad:
            if slot is not None:
                lo, hi = (FACE_RANGE if slot[0] == "face" else VOICE_RANGE)[slot[1]]
                out.append((params[slot[0]][slot[1]] - lo) / (hi - lo))
    return np.array(out)


def _read_oracle(img: np.ndarray) -> np.ndarray:
    """Invert the layout: grey level of each square's centre, tints from the quadrant means."""
    size = img.shape[0]
    x = img.astype(np.float64)
    tile, out = size / 8, []
    for q, quad in enumerate(LAYOUT):
        r0, c0 = (q // 2) * size // 2, (q % 2) * size // 2
        block = x[r0 : r0 + size // 2, c0 : c0 + size // 2]  # (s/2, s/2, 3)
        mean = block.reshape(-1, 3).mean(0)
        tint1 = (mean[0] - mean[1]) / 2 / 50 + 0.5  # (1,-1,0) axis
        tint2 = ((mean[0] + mean[1]) / 2 - mean[2]) / 1.5 / 50 + 0.5  # (0.5,0.5,-1) axis
        values = []
        for s in range(4):
            cy, cx = int(tile * (0.25 + 0.5 * (s // 2))), int(tile * (0.25 + 0.5 * (s % 2)))
            ys = np.arange(cy, size // 2, int(tile))
            xs = np.arange(cx, size // 2, int(tile))
            pix = block[np.ix_(ys, xs)].reshape(-1, 3)
            grey = pix[:, 2].mean() + 50 * (tint2 - 0.5)  # blue carries grey - tint2 * 50
            values.append((grey - 50) / 150)
        values += [tint1, tint2]
        out += [v for v, slot in zip(values, quad) if slot is not None]
    return np.array(out)


def test_oracle_image_is_exact_and_linear():
    rng = np.random.default_rng(0)
    face = sample_free_face(DFEW_LABELS, rng)
    voice = sample_free_voice(DFEW_LABELS, rng)
    rec = {"cues": {"face": face, "voice": voice}}
    img = oracle_image(face, voice, 112)
    assert img.shape == (112, 112, 3) and img.dtype == np.uint8
    np.testing.assert_allclose(_read_oracle(img), _true_z(rec), atol=0.01)
    # a voice engine that did not render a parameter shows it mid-grey
    partial = oracle_image(face, {k: voice[k] for k in ("pitch_shift", "rate")}, 112)
    assert not np.array_equal(partial, img)
    assert {s for quad in LAYOUT for s in quad if s} == {("face", p) for p in FACE_PARAMS} | {
        ("voice", p) for p in VOICE_PARAMS
    }
    with pytest.raises(KeyError, match="face parameters"):
        oracle_image({}, voice, 112)
    with pytest.raises(ValueError, match="even size"):
        oracle_image(face, voice, 15)
