"""Separability on cue records: one deciding parameter is found from its modality only; espeak-ng sets
render only some voice parameters."""

import pytest

from r1omni.data.synth.emotions import FACE_PARAMS, VOICE_PARAMS
from r1omni.data.synth.separability import MODALITIES, _observable, cue_features, pair_separability, separability


def _record(label, i, rendered=None):
    voice = {k: float(i) for k in VOICE_PARAMS}
    if rendered is not None:
        voice = {k: float(i) for k in rendered} | {"rendered": list(rendered), "engine": "espeak-ng"}
    return {"id": f"c{i}", "label": label, "cues": {"face": {k: float(i) for k in FACE_PARAMS}, "voice": voice}}


def test_numpy_voice_uses_every_voice_parameter():
    records = [_record("happy", 1), _record("sad", 2)]
    X, y = cue_features(records, "audio")
    assert X.shape == (2, len(VOICE_PARAMS)) and list(y) == ["happy", "sad"]


def test_espeak_records_use_only_rendered_voice_parameters():
    rendered = list(VOICE_PARAMS)[:3]
    records = [_record("happy", 1, rendered), _record("sad", 2, rendered)]
    assert [name for _, name in _observable(MODALITIES["audio"], records)] == rendered
    X, _ = cue_features(records, "both")
    assert X.shape == (2, len(FACE_PARAMS) + 3)


# ----------------------------------------------------------------------------- the classifier itself
def _write_set(directory, labels, decides, seed=0):
    """train / test manifests where every generating parameter is noise except ``decides``
    (``("face", name)`` or ``("voice", name)``), which is 3 x the label's index plus a little noise."""
    import json

    import numpy as np

    rng = np.random.default_rng(seed)
    for split, n in (("train", 40), ("test", 30)):
        lines = []
        for k, label in enumerate(labels):
            for i in range(n):
                cues = {
                    "face": {p: float(rng.normal()) for p in FACE_PARAMS},
                    "voice": {p: float(rng.normal()) for p in VOICE_PARAMS},
                }
                part, name = decides
                cues[part][name] = 3.0 * k + float(rng.normal(scale=0.3))
                lines.append(json.dumps({"id": f"{split}{k}_{i}", "label": label, "cues": cues}))
        (directory / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return directory


@pytest.mark.parametrize("decides", [("face", "mouth_curve"), ("voice", "loudness")])
def test_one_deciding_parameter_is_found_from_its_modality_only(tmp_path, decides):
    labels = ["happy", "sad", "neutral"]
    table = separability(_write_set(tmp_path, labels, decides)).set_index("inputs")
    seen, blind = ("visual", "audio") if decides[0] == "face" else ("audio", "visual")
    assert table.loc[seen, "accuracy"] >= 0.95 and table.loc["both", "accuracy"] >= 0.95
    assert table.loc[seen, "uar"] >= 0.95
    assert table.loc[blind, "accuracy"] < 0.6  # chance is 1/3: that modality carries nothing
    assert (table["n_test"] == 90).all()


def test_pairs_are_scored_on_their_two_classes(tmp_path):
    """angry vs disgust is a face-hard pair; here the voice decides it and the face is noise."""
    table = pair_separability(_write_set(tmp_path, ["angry", "disgust"], ("voice", "pitch_shift")))
    assert list(table["pair"]) == ["angry vs disgust"]  # only pairs whose classes are in the set
    row = table.iloc[0]
    assert row["hard_from"] == "face" and row["audio"] >= 0.95 and row["both"] >= 0.95
    assert row["visual"] < 0.7  # chance is 1/2
