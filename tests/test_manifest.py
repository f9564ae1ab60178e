"""Manifest reading, validation (every bad entry reported at once) and atomic writing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from r1omni.data.manifest import (
    ManifestError,
    load_manifest,
    make_record,
    validate_manifest,
    write_manifest,
)
from r1omni.data.media import write_clip


def _clip(path: Path, audio: bool = True) -> Path:
    frames = np.full((6, 32, 32, 3), 90, np.uint8)
    tone = (0.3 * np.sin(2 * np.pi * 300 * np.arange(8000) / 16000)).astype(np.float32)
    return write_clip(path, frames, tone if audio else None, fps=12)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("manifest")
    (root / "clips").mkdir()
    for i in range(3):
        _clip(root / "clips" / f"c{i}.mp4")
    _clip(root / "clips" / "mute.mp4", audio=False)
    (root / "clips" / "broken.mp4").write_text("not a video")
    return root


def _records(n: int = 3) -> list[dict]:
    labels = ["happy", "sad", "fear"]
    return [
        make_record(
            id=f"c{i}",
            video=f"clips/c{i}.mp4",
            label=labels[i % 3],
            split="train",
            subtitle="Kids are talking by the door",
            think="A wide smile." if i == 0 else None,
        )
        for i in range(n)
    ]


def _write_lines(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_write_then_load_round_trip(folder):
    path = write_manifest(folder / "train.jsonl", _records())
    records = load_manifest(path)
    assert [r["id"] for r in records] == ["c0", "c1", "c2"]
    for record in records:
        assert Path(record["video_path"]).is_absolute()
        assert Path(record["video_path"]) == (folder / record["video"]).resolve()
    assert records[0]["conversations"][1]["value"] == "<think>A wide smile.</think><answer>happy</answer>"
    assert validate_manifest(path, labels="dfew")[2]["label"] == "fear"
    # video_path is machine-specific and never written back
    write_manifest(folder / "again.jsonl", records)
    assert "video_path" not in (folder / "again.jsonl").read_text()
    assert (folder / "again.jsonl").read_bytes() == path.read_bytes()


def test_every_problem_is_reported_at_once(folder):
    good = _records()
    missing_label = {k: v for k, v in good[1].items() if k not in ("label", "cues")}
    unknown = dict(good[2], label="bored")
    dup = dict(good[0])
    gone = make_record(id="c9", video="clips/nope.mp4", label="angry", split="train")
    path = _write_lines(folder / "bad.jsonl", [good[0], missing_label, unknown, "{not json", dup, gone, ["a", "list"]])
    with pytest.raises(ManifestError) as err:
        load_manifest(path)
    assert isinstance(err.value, ValueError)
    message = str(err.value)
    assert message.startswith(f"{path}: 6 problems in the manifest")
    lines = {line: reason for line, reason in err.value.problems}
    assert set(lines) == {2, 3, 4, 5, 6, 7}
    assert f"{path}:2: missing fields label, cues" in message
    assert f"{path}:3: unknown label 'bored'" in message
    assert f"{path}:4: not valid JSON" in message
    assert f"{path}:5: duplicate id 'c0' (first on line 1)" in message
    assert f"{path}:6: video file" in message and "nope.mp4 does not exist" in message
    assert f"{path}:7: a manifest line must be a JSON object" in message


def test_labels_restrict_the_label_set(folder):
    rows = _records()
    rows[1] = make_record(id="c1", video="clips/c1.mp4", label="calm", split="test")  # RAVDESS only
    path = _write_lines(folder / "ravdess.jsonl", rows)
    assert len(load_manifest(path)) == 3  # any known label by default
    assert len(load_manifest(path, labels="ravdess")) == 3
    with pytest.raises(ManifestError, match=r"ravdess\.jsonl:2: unknown label 'calm'"):
        load_manifest(path, labels="dfew")
    with pytest.raises(ManifestError, match="unknown face_label 'joy'"):
        load_manifest(_write_lines(folder / "face.jsonl", [dict(_records(1)[0], face_label="joy")]))


def test_types_and_empty_values(folder):
    bad = dict(_records(1)[0], cues=[], id="", subtitle=3)
    with pytest.raises(ManifestError) as err:
        load_manifest(_write_lines(folder / "types.jsonl", [bad]))
    reasons = [reason for _, reason in err.value.problems]
    assert "field 'cues' must be dict, got list" in reasons
    assert "field 'subtitle' must be str, got int" in reasons
    assert "field 'id' is empty" in reasons


def test_validate_checks_media_and_conversations(folder):
    rows = _records()
    rows.append(make_record(id="mute", video="clips/mute.mp4", label="neutral", split="train"))
    rows.append(make_record(id="broken", video="clips/broken.mp4", label="neutral", split="train"))
    wrong_answer = make_record(id="w", video="clips/c0.mp4", label="sad", split="train")
    wrong_answer["conversations"][1]["value"] = "<answer>happy</answer>"
    one_turn = make_record(id="t", video="clips/c1.mp4", label="sad", split="train")
    one_turn["conversations"] = one_turn["conversations"][:1]
    path = _write_lines(folder / "media.jsonl", rows + [wrong_answer, one_turn])
    assert len(load_manifest(path)) == 7  # files exist; nothing decoded
    with pytest.raises(ManifestError) as err:
        validate_manifest(path)
    lines = dict(err.value.problems)
    assert set(lines) == {4, 5, 6, 7}
    assert "no audio stream" in lines[4] and "mute.mp4" in lines[4]
    assert "not a readable media file" in lines[5] and "broken.mp4" in lines[5]
    assert lines[6] == "the gpt turn does not end with <answer>sad</answer>"
    assert lines[7] == "'conversations' must be [human turn, gpt turn]"
    # without decoding, only the conversation problems remain; mute clips may be allowed
    assert set(dict(_problems(lambda: validate_manifest(path, check_media=False)))) == {6, 7}
    assert set(dict(_problems(lambda: validate_manifest(path, allow_missing_audio=True)))) == {5, 6, 7}


def _problems(call) -> list[tuple[int, str]]:
    with pytest.raises(ManifestError) as err:
        call()
    return err.value.problems


def test_write_manifest_rejects_bad_records_and_keeps_the_old_file(folder):
    path = write_manifest(folder / "keep.jsonl", _records())
    before = path.read_bytes()
    bad = _records() + [dict(_records()[0])]  # duplicate id
    with pytest.raises(ManifestError, match=r"keep\.jsonl:4: duplicate id 'c0'"):
        write_manifest(path, bad)
    assert path.read_bytes() == before
    assert not list(folder.glob(".keep.jsonl.*"))  # no temporary file left behind


def test_missing_manifest():
    with pytest.raises(FileNotFoundError, match="no such manifest"):
        load_manifest("/nonexistent/train.jsonl")


def test_bad_bytes_and_deep_nesting_are_named_by_file_and_line(folder):
    path = folder / "bytes.jsonl"
    good = json.dumps(_records(1)[0])
    path.write_bytes(good.encode() + b"\n" + b'{"id": "\xff\xfe"}\n' + b"[" * 100_000 + b"\n")
    with pytest.raises(ManifestError) as err:
        load_manifest(path)
    assert f"{path}:2: not valid UTF-8" in str(err.value)
    assert f"{path}:3: nested too deeply to parse" in str(err.value)


def test_media_outside_the_manifests_folder_is_refused_unless_allowed(folder, tmp_path):
    outside = _clip(tmp_path / "elsewhere.mp4")
    rows = [dict(_records(1)[0], id="up", video="../../etc/passwd"), dict(_records(1)[0], id="abs", video=str(outside))]
    path = _write_lines(folder / "escape.jsonl", rows)
    with pytest.raises(ManifestError) as err:
        load_manifest(path)
    assert f"{path}:1: video '../../etc/passwd' lies outside the manifest's folder" in str(err.value)
    assert f"{path}:2: video '{outside}' lies outside" in str(err.value)
    only_abs = _write_lines(folder / "abs.jsonl", rows[1:])
    assert load_manifest(only_abs, allow_outside=True)[0]["video_path"] == str(outside)
    # an adapter names the data set it read as a media root beside its manifests
    sub = folder / "adapted"
    sub.mkdir()
    _write_lines(sub / "train.jsonl", rows[1:])
    from r1omni.data.manifest import write_media_roots

    write_media_roots(sub, [tmp_path])
    assert load_manifest(sub / "train.jsonl")[0]["id"] == "abs"
