"""Real-data-set adapters on small fake trees laid out like the downloads (tiny real mp4s)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from r1omni.data.adapters import ADAPTERS, AdapterError, build_manifests, get_adapter
from r1omni.data.adapters.__main__ import main
from r1omni.data.adapters.ravdess import decode_name
from r1omni.data.manifest import load_manifest
from r1omni.data.media import write_clip


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """One tiny clip with audio and one without, copied into every fake tree."""
    root = tmp_path_factory.mktemp("src")
    frames = np.full((4, 32, 32, 3), 120, np.uint8)
    tone = (0.2 * np.sin(2 * np.pi * 330 * np.arange(4000) / 16000)).astype(np.float32)
    return {
        "av": write_clip(root / "av.mp4", frames, tone, fps=8),
        "mute": write_clip(root / "mute.mp4", frames, None, fps=8),
    }


def _put(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


def _gpt(record: dict) -> str:
    return record["conversations"][1]["value"]


# ----------------------------------------------------------------------------- DFEW


def _dfew_tree(root: Path, clips, train_rows, test_rows, present=range(1, 7)) -> Path:
    for i in present:
        _put(clips["av"], root / "Clip" / "original" / f"{i:05d}.mp4")
    for folder, rows in (("train(single-labeled)", train_rows), ("test(single-labeled)", test_rows)):
        path = root / "EmoLabel_DataSplit" / folder / "set_1.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("video_name,label\n" + "".join(f"{n},{c}\n" for n, c in rows))
    return root


def test_dfew_builds_train_and_test(tmp_path, clips):
    root = _dfew_tree(tmp_path / "DFEW", clips, [(1, 1), (2, 2), (3, 7)], [(4, 4), (5, 5), (6, 6)])
    result = build_manifests("dfew", root, tmp_path / "out", check_media=True)
    assert result.counts == {"train": 3, "test": 3} and not result.skipped
    train = load_manifest(result.manifests["train"], labels="dfew")
    assert [(r["id"], r["label"], r["split"]) for r in train] == [
        ("dfew-00001", "happy", "train"),
        ("dfew-00002", "sad", "train"),
        ("dfew-00003", "fear", "train"),
    ]
    assert Path(train[0]["video_path"]) == (root / "Clip/original/00001.mp4").resolve()
    assert not Path(train[0]["video"]).is_absolute()
    assert _gpt(train[0]) == "<answer>happy</answer>"
    test = load_manifest(result.manifests["test"])
    assert [r["label"] for r in test] == ["angry", "surprise", "disgust"]


def test_dfew_reports_every_problem_and_can_skip_missing(tmp_path, clips):
    root = _dfew_tree(tmp_path / "DFEW", clips, [(1, 1), (2, 9), (99, 3)], [(4, 4)])
    with pytest.raises(AdapterError) as err:
        build_manifests("dfew", root, tmp_path / "out")
    message = str(err.value)
    assert "2 problem(s)" in message
    assert "set_1.csv:3: unknown DFEW label code 9" in message
    assert "set_1.csv:4: clip 00099 not found" in message
    root2 = _dfew_tree(tmp_path / "DFEW2", clips, [(1, 1), (99, 3)], [(4, 4)])
    result = build_manifests("dfew", root2, tmp_path / "out2", skip_missing=True)
    assert result.counts == {"train": 1, "test": 1}
    assert len(result.skipped) == 1 and "00099" in result.skipped[0]
    with pytest.raises(AdapterError, match=r"missing split file .*set_2\.csv"):
        build_manifests("dfew", root2, tmp_path / "out3", fold=2)
    with pytest.raises(AdapterError, match="fold must be 1..5"):
        build_manifests("dfew", root2, tmp_path / "out3", fold=6)


# ----------------------------------------------------------------------------- MAFW

MAFW_LINES = [
    "00001.mp4\tanger\t<br>一个男人大声说话。\t<br>A man speaks loudly. The deep frown.",
    "00002.mp4  contempt  <br>中文 <br> A woman sneers with one lip corner raised.",
    "00003.mp4 happiness",
    "00004.mp4 anxiety <br>中文 <br> He keeps glancing around and biting his lip.",
]


def _mafw_tree(root: Path, clips, lines=MAFW_LINES, train=("00001.mp4", "00002.mp4"), test=("00003", "00004")) -> Path:
    for i in range(1, 5):
        _put(clips["av"], root / "clips" / f"{i:05d}.mp4")
    labels = root / "caption-label" / "single_set" / "single_label.txt"
    labels.parent.mkdir(parents=True)
    labels.write_text("\n".join(lines) + "\n")
    fold = root / "Train & Test Set" / "single" / "no_caption" / "set_1"
    fold.mkdir(parents=True)
    (fold / "train.txt").write_text("\n".join(train) + "\n")
    (fold / "test.txt").write_text("\n".join(test) + "\n")
    return root


def test_mafw_maps_labels_and_keeps_captions(tmp_path, clips):
    root = _mafw_tree(tmp_path / "MAFW", clips)
    result = build_manifests("mafw", root, tmp_path / "out", check_media=True)
    train = load_manifest(result.manifests["train"], labels="mafw")
    test = load_manifest(result.manifests["test"], labels="mafw")
    assert [r["label"] for r in train] == ["angry", "contemptuous"]
    assert [r["label"] for r in test] == ["happy", "anxious"]
    assert train[0]["description"] == "A man speaks loudly. The deep frown."
    assert train[0]["description_zh"] == "一个男人大声说话。"
    assert test[0]["description"] == "" and _gpt(test[0]) == "<answer>happy</answer>"


def test_mafw_descriptions_as_reasoning_and_no_folds(tmp_path, clips):
    root = _mafw_tree(
        tmp_path / "MAFW", clips, lines=MAFW_LINES[:2] + [MAFW_LINES[3]], train=("00001",), test=("00002", "00004")
    )
    result = build_manifests("mafw", root, tmp_path / "out", think_from_description=True)
    train = load_manifest(result.manifests["train"])
    assert _gpt(train[0]) == "<think>A man speaks loudly. The deep frown.</think><answer>angry</answer>"
    everything = build_manifests("mafw", root, tmp_path / "all", fold=0)
    assert everything.counts == {"all": 3}


def test_mafw_problems(tmp_path, clips):
    lines = MAFW_LINES[:3] + ["00004.mp4 boredom", "00001.mp4 fear"]
    root = _mafw_tree(tmp_path / "MAFW", clips, lines=lines, test=("00003", "00077"))
    with pytest.raises(AdapterError) as err:
        build_manifests("mafw", root, tmp_path / "out")
    message = str(err.value)
    assert "single_label.txt:4: unknown MAFW label 'boredom'" in message
    assert "single_label.txt:5: clip 00001 listed twice (first on line 1)" in message
    assert "test.txt:2: clip 00077 has no entry" in message


# ----------------------------------------------------------------------------- RAVDESS


@pytest.mark.parametrize(
    "code,label", list(zip(range(1, 9), ["neutral", "calm", "happy", "sad", "angry", "fear", "disgust", "surprise"]))
)
def test_ravdess_emotion_codes(code, label):
    meta = decode_name(f"01-01-{code:02d}-01-01-01-01")
    assert meta["label"] == label
    assert meta["modality"] == "audio-video" and meta["vocal_channel"] == "speech"
    assert meta["subtitle"] == "Kids are talking by the door" and meta["actor_sex"] == "male"


def test_ravdess_fields():
    meta = decode_name("02-02-08-02-02-02-24")
    assert (
        meta["modality"],
        meta["vocal_channel"],
        meta["intensity"],
        meta["statement"],
        meta["repetition"],
        meta["actor"],
        meta["actor_sex"],
    ) == ("video-only", "song", "strong", 2, 2, 24, "female")
    assert meta["subtitle"] == "Dogs are sitting by the door"
    assert decode_name("03-01-01-01-01-01-05")["modality"] == "audio-only"
    for bad, reason in [
        ("01-01-09-01-01-01-01", "emotion"),
        ("04-01-01-01-01-01-01", "modality"),
        ("01-01-01-03-01-01-01", "intensity"),
        ("01-01-01-01-01-01-25", "actor"),
        ("01-01-01-01-01-01", "not a RAVDESS name"),
        ("1-1-1-1-1-1-1", "not a RAVDESS name"),
    ]:
        with pytest.raises(ValueError, match=reason):
            decode_name(bad)


def _ravdess_tree(root: Path, clips) -> Path:
    _put(clips["av"], root / "Actor_01" / "01-01-03-01-01-01-01.mp4")
    _put(clips["av"], root / "Actor_02" / "01-02-06-02-02-02-02.mp4")
    _put(clips["mute"], root / "Actor_01" / "02-01-05-01-02-01-01.mp4")
    (root / "Actor_01" / "03-01-04-01-01-01-01.wav").write_bytes(b"RIFF")
    (root / "Actor_01" / ".DS_Store").write_bytes(b"")
    return root


def test_ravdess_builds_test_split(tmp_path, clips):
    root = _ravdess_tree(tmp_path / "RAVDESS", clips)
    result = build_manifests("ravdess", root, tmp_path / "out", check_media=True)
    assert result.counts == {"test": 2} and len(result.skipped) == 2
    records = load_manifest(result.manifests["test"], labels="ravdess")
    assert [(r["id"], r["label"], r["subtitle"]) for r in records] == [
        ("ravdess-01-01-03-01-01-01-01", "happy", "Kids are talking by the door"),
        ("ravdess-01-02-06-02-02-02-02", "fear", "Dogs are sitting by the door"),
    ]
    assert records[1]["meta"]["vocal_channel"] == "song" and records[1]["meta"]["intensity"] == "strong"
    assert records[1]["cues"] == {}
    # video-only clips on request; they decode without audio
    both = build_manifests("ravdess", root, tmp_path / "out2", check_media=True, modalities="audio-video,video-only")
    assert both.counts == {"test": 3}
    only = build_manifests("ravdess", root, tmp_path / "out3", actors="2", channels="song", split="ood")
    assert only.counts == {"ood": 1} and only.manifests["ood"].name == "ood.jsonl"


def test_ravdess_problems(tmp_path, clips):
    root = _ravdess_tree(tmp_path / "RAVDESS", clips)
    _put(clips["av"], root / "Actor_03" / "01-01-03-01-01-01-04.mp4")  # actor 04 in folder 03
    _put(clips["av"], root / "Actor_03" / "01-01-11-01-01-01-03.mp4")  # emotion 11
    with pytest.raises(AdapterError) as err:
        build_manifests("ravdess", root, tmp_path / "out")
    assert "actor 04 in the name but folder Actor_03" in str(err.value)
    assert "unknown emotion code 11" in str(err.value)
    with pytest.raises(ValueError, match="actors must be"):
        build_manifests("ravdess", _ravdess_tree(tmp_path / "R2", clips), tmp_path / "o", actors="30")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AdapterError, match="no files in Actor_XX"):
        build_manifests("ravdess", tmp_path / "empty", tmp_path / "o2")


# ----------------------------------------------------------------------------- EMER


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_emer_v1_csv_gives_reasoning_targets(tmp_path, clips):
    root = tmp_path / "EMER"
    for name in ("sample_00000001", "sample_00000002"):
        _put(clips["av"], root / "video" / f"{name}.mp4")
    _csv(
        root / "dataset-v1" / "gt-eng.csv",
        ["names", "emotions", "subtitles", "reasons"],
        [
            ["sample_00000001", "worried", "What   should we do now?", "She frowns\nand her voice trembles."],
            ["sample_00000002", "happy", "Great!", "He laughs loudly."],
        ],
    )
    result = build_manifests("emer", root, tmp_path / "out", check_media=True)
    records = load_manifest(result.manifests["coldstart"])
    assert [r["label"] for r in records] == ["anxious", "happy"]
    assert _gpt(records[0]) == "<think>She frowns and her voice trembles.</think><answer>anxious</answer>"
    assert records[0]["subtitle"] == "What should we do now?" and records[0]["split"] == "coldstart"


def test_emer_v2_with_label_file_and_json(tmp_path, clips):
    root = tmp_path / "EMER"
    for name in ("sample_1", "sample_2"):
        _put(clips["av"], root / "clips" / f"{name}.mp4")
    _csv(
        root / "final-EMER-reason.csv",
        ["names", "chinese", "english"],
        [["sample_1", "中文", "A tense face."], ["sample_2", "中文", "Bright voice."]],
    )
    _csv(
        root / "train-label.csv",
        ["name", "discrete", "valence"],
        [["sample_1", "angry", "-2"], ["sample_2", "happy", "2"]],
    )
    result = build_manifests("emer", root, tmp_path / "out", labels_file="train-label.csv", videos_dir="clips")
    assert [r["label"] for r in load_manifest(result.manifests["coldstart"])] == ["angry", "happy"]
    with pytest.raises(AdapterError, match="sample_1 has no label"):
        build_manifests("emer", root, tmp_path / "out2")
    (root / "emer.json").write_text(json.dumps({"sample_2": {"emotion": "sad", "reason": "Tears."}}))
    result = build_manifests("emer", root, tmp_path / "out3", annotation="emer.json")
    assert _gpt(load_manifest(result.manifests["coldstart"])[0]) == "<think>Tears.</think><answer>sad</answer>"


def test_emer_problems(tmp_path, clips):
    root = tmp_path / "EMER"
    _put(clips["av"], root / "v" / "a.mp4")
    _csv(
        root / "gt-eng.csv",
        ["names", "emotions", "reasons"],
        [
            ["a", "bored", "x"],
            ["b", "sad", "Low voice."],
            ["a", "sad", "again"],
            ["c", "sad", "Ends <answer>sad</answer>"],
            ["d", "sad", "  "],
        ],
    )
    with pytest.raises(AdapterError) as err:
        build_manifests("emer", root, tmp_path / "out")
    message = str(err.value)
    assert "gt-eng.csv:2: unknown label 'bored'" in message
    assert "gt-eng.csv:3: clip b not found" in message
    assert "gt-eng.csv:4: clip a annotated twice" in message
    assert "gt-eng.csv:5: clip c: explanation contains the tag <answer>" in message
    assert "gt-eng.csv:6: clip d: empty explanation" in message


# ----------------------------------------------------------------------------- registry and CLI


def test_registry_and_options():
    assert sorted(ADAPTERS) == ["dfew", "emer", "mafw", "ravdess"]
    with pytest.raises(ValueError, match="unknown data set adapter 'affectnet'"):
        get_adapter("affectnet")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['folds'\]"):
        build_manifests("dfew", ".", ".", folds=2)


def test_cli(tmp_path, clips, capsys):
    root = _ravdess_tree(tmp_path / "RAVDESS", clips)
    assert main(["ravdess", "--root", str(root), "--out", str(tmp_path / "out"), "--channels", "speech"]) == 0
    printed = capsys.readouterr().out
    assert "test: 1 clips" in printed and "skipped 3" in printed
    assert len(load_manifest(tmp_path / "out" / "test.jsonl")) == 1
    assert main(["dfew", "--root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 1
    assert "is not a directory" in capsys.readouterr().err
    assert (
        main(
            [
                "mafw",
                "--root",
                str(root),
                "--out",
                str(tmp_path / "o"),
                "--think-from-description",
                "false",
                "--fold",
                "0",
            ]
        )
        == 1
    )  # no single_label.txt under a RAVDESS tree


# ----------------------------------------------------------------------------- prepare_data (notebook 00)


def test_prepare_data_runs_an_adapter_once(tmp_path, clips):
    from r1omni.data.prepare import label_set_of, prepare_data, validate_splits

    root = _ravdess_tree(tmp_path / "RAVDESS", clips)
    first = prepare_data("ravdess", tmp_path / "data", source_root=str(root))
    assert first.generated and first.manifests == {"test": (tmp_path / "data" / "test.jsonl").resolve()}
    again = prepare_data("ravdess", tmp_path / "data", source_root=str(root))
    assert not again.generated and again.manifests == first.manifests
    assert [r["label"] for r in validate_splits(again, labels=label_set_of("ravdess"))["test"]] == ["happy", "fear"]
    with pytest.raises(ValueError, match="holds manifests built with"):
        prepare_data("ravdess", tmp_path / "data", source_root=str(root), channels="speech")
    assert prepare_data(
        "ravdess", tmp_path / "data", source_root=str(root), channels="speech", regenerate=True
    ).generated
    with pytest.raises(ValueError, match="needs source_root"):
        prepare_data("dfew", tmp_path / "d2")


def test_prepare_data_never_reuses_or_replaces_the_wrong_folder(tmp_path):
    from r1omni.data.prepare import label_set_of, prepare_data
    from r1omni.runs import data_location, repo_root

    stamp = tmp_path / "synth" / "synthemo.json"
    stamp.parent.mkdir()
    from r1omni.data.synth.build import RENDER_VERSION

    stamp.write_text(json.dumps({"config": {"per_class": 5, "seed": 1, "labels": "dfew"}}))  # an older SynthEmo
    with pytest.raises(ValueError, match="'render_version': None, 'caption_version': None}, not .*'render_version': "):
        prepare_data("synthemo", stamp.parent, per_class=5, seed=1)
    stamp.write_text(
        json.dumps(
            {
                "config": {"per_class": 5, "seed": 1, "labels": "dfew"},
                "render": "drawn",
                "render_version": RENDER_VERSION,
            }
        )
    )
    with pytest.raises(ValueError, match="'caption_version': None}, not .*'caption_version': 2"):  # older captions
        prepare_data("synthemo", stamp.parent, per_class=5, seed=1)
    from r1omni.data.synth.caption import CAPTION_VERSION

    stamp.write_text(json.dumps({**json.loads(stamp.read_text()), "caption_version": CAPTION_VERSION}))
    with pytest.raises(ValueError, match="built with"):
        prepare_data("synthemo", stamp.parent, per_class=5, seed=0)
    with pytest.raises(FileNotFoundError, match="incomplete SynthEmo set"):
        prepare_data("synthemo", stamp.parent, per_class=5, seed=1)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    with pytest.raises(ValueError, match="refusing to replace it"):
        prepare_data("synthemo", tmp_path / "mine", regenerate=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "precious"
    assert data_location("data/synthemo") == repo_root() / "data" / "synthemo"
    assert data_location("/abs/x") == Path("/abs/x")
    assert (
        data_location("data/synthemo", run_directory=tmp_path, smoke=True) == tmp_path / "00_data_prep/synthemo_smoke"
    )
    assert label_set_of("synthemo", "mafw") == "mafw" and label_set_of("emer") == "mafw"


PREPARE = """
import json, sys
from r1omni.data.prepare import prepare_data
p = prepare_data("synthemo", sys.argv[1], per_class=1, seed=0, workers=1)
print(json.dumps({"generated": p.generated}))
"""


@pytest.mark.slow
def test_runs_that_share_a_data_dir_build_it_once(tmp_path):
    """Two processes prepare the same data folder at once (a --jobs 2 sweep): one builds, the other
    waits for it and reuses it; neither fails and the set is whole."""
    import json
    import os
    import subprocess
    import sys

    from r1omni.data.manifest import validate_manifest

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PREPARE, str(tmp_path / "shared")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
    assert sorted(json.loads(out)["generated"] for out, _ in outs) == [False, True]
    assert validate_manifest(tmp_path / "shared" / "train.jsonl", check_media=True)
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".building")]  # no build folder left
