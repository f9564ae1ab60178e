"""Separability on cue records: espeak-ng sets render only some voice parameters."""

from r1omni.data.synth.emotions import FACE_PARAMS, VOICE_PARAMS
from r1omni.data.synth.separability import MODALITIES, _observable, cue_features


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
