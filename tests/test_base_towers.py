"""The base model's tower stage: the linear probe library and tower pretraining (no label read)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from r1omni.base import augment as A
from r1omni.base import probe as P
from r1omni.base import targets as TG
from r1omni.base import tower_forward as F
from r1omni.base import towers as T
from r1omni.data.synth import generate
from r1omni.data.synth.emotions import FACE_PARAMS, NEUTRAL_FACE, VOICE_PARAMS
from r1omni.model import OmniModel, OmniProcessor
from r1omni.model.projectors import VisualProjector
from r1omni.model.towers import build_vision_tower, vision_features

LABEL_KEYS = ("label", "face_label", "voice_label")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth_base")
    generate(out, per_class=1, seed=5, workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def processor():
    return OmniProcessor.from_preset("tiny")


@pytest.fixture(scope="module")
def perception(data_dir, processor, tmp_path_factory) -> P.TowerInputs:
    return P.tower_inputs(
        data_dir / "perception.jsonl", processor, progress=False, cache_dir=tmp_path_factory.mktemp("inputs")
    )


def _model(seed: int = 0) -> OmniModel:
    return OmniModel.from_preset("tiny", seed=seed)


# --- probe library ----------------------------------------------------------------------------


def test_tower_inputs_and_cache(data_dir, processor, perception, tmp_path):
    assert len(perception) == 20
    assert perception.pixel_values.shape == (20, 8, 3, 64, 64) and perception.pixel_values.dtype == torch.float16
    assert perception.input_features.shape == (20, 80, 300)
    # frames of a 2 s clip at 10 fps, midpoint-sampled: indices 1, 4, 6, 8, 11, 13, 15, 18
    np.testing.assert_allclose(perception.frame_times[0].numpy(), [0.1, 0.4, 0.6, 0.8, 1.1, 1.3, 1.5, 1.8], atol=1e-6)
    cached = P.tower_inputs(data_dir / "perception.jsonl", processor, progress=False, cache_dir=tmp_path)
    again = P.tower_inputs(data_dir / "perception.jsonl", processor, progress=False, cache_dir=tmp_path)
    assert list(tmp_path.glob("*.safetensors")) and not list(tmp_path.glob(".*"))
    for a in (cached, again):
        assert torch.equal(a.pixel_values, perception.pixel_values)
        assert torch.equal(a.input_features, perception.input_features)
        assert torch.equal(a.frame_times, perception.frame_times)
    # the cache keys on the clips' bytes: a clip rewritten in place (the manifest untouched) misses
    copy = tmp_path / "copy"
    shutil.copytree(data_dir, copy)
    first = P.tower_inputs(copy / "perception.jsonl", processor, progress=False, cache_dir=tmp_path / "c")
    a, b = (copy / r["video"] for r in first.records[:2])
    a.write_bytes(b.read_bytes())
    swapped = P.tower_inputs(copy / "perception.jsonl", processor, progress=False, cache_dir=tmp_path / "c")
    assert len(list((tmp_path / "c").glob("*.safetensors"))) == 2
    assert torch.equal(swapped.pixel_values[0], first.pixel_values[1])
    assert not torch.equal(swapped.pixel_values[0], first.pixel_values[0])
    clip = __import__("r1omni.data.media", fromlist=["load_clip"]).load_clip(perception.records[3]["video_path"])
    torch.testing.assert_close(
        perception.pixel_values[3].float(), processor.pixel_values(clip.frames), atol=2e-3, rtol=0
    )


def test_pooling_matches_the_projectors():
    torch.manual_seed(0)
    feats = torch.randn(2, 3, 64, 5)  # (N, T, g*g, D), g = 8
    pooled = P.pool_vision(feats, 8, 2)  # (N, T, 4*D)
    proj = VisualProjector(5, 7, 8, 2)
    proj.mlp = torch.nn.Identity()
    expected = proj(feats).reshape(2, 3, 4, 5)  # (N, T*k*k, D) -> tokens of each frame
    torch.testing.assert_close(pooled.reshape(2, 3, 5, 4).transpose(2, 3), expected)
    a = torch.arange(12.0).reshape(1, 6, 2)
    torch.testing.assert_close(P.pool_audio(a, 3), torch.tensor([[[2.0, 3.0], [8.0, 9.0]]]))


def test_sequence_stats():
    x = torch.tensor([[[1.0, 0.0], [3.0, 2.0], [2.0, 4.0]]])  # (1, T=3, D=2)
    s = P.sequence_stats(x)
    torch.testing.assert_close(s[0, :2], torch.tensor([2.0, 2.0]))  # mean
    torch.testing.assert_close(s[0, 2:4], x[0].std(0))  # std
    torch.testing.assert_close(s[0, 4:6], torch.tensor([3.0, 4.0]))  # max
    torch.testing.assert_close(s[0, 6:], torch.tensor([1.5, 2.0]))  # mean |step|


def test_probe_rows_and_errors(data_dir, processor):
    model = _model()
    inputs = {s: P.tower_inputs(data_dir / f"{s}.jsonl", processor, progress=False) for s in ("train", "test")}
    rows = P.probe(model, inputs, evaluate=("test",))
    assert [r["inputs"] for r in rows] == ["visual", "audio", "both"]
    for r in rows:
        assert 0 <= r["accuracy"] <= 1 and r["n_train"] == 7 and r["n_eval"] == 7
    assert rows[2]["dim"] == rows[0]["dim"] + rows[1]["dim"] == 4 * 4 * 32 + 4 * 32
    with pytest.raises(ValueError, match="perception manifest cannot be probed"):
        P.probe(
            model,
            {
                "train": inputs["train"],
                "perception": P.tower_inputs(data_dir / "perception.jsonl", processor, progress=False),
            },
            evaluate=("perception",),
        )
    rows = P.probe_data(model, processor, data_dir, evaluate=("test",), progress=False)
    assert all(0 <= r["cue_accuracy"] <= 1 for r in rows)


# --- pretraining pieces -----------------------------------------------------------------------


def test_vision_layer_features_equal_vision_features():
    model = _model()
    pv = torch.randn(2, 3, 3, 64, 64)
    for layer in (-1, -2, -3, 0, 1, 2):
        torch.testing.assert_close(
            F.vision_layer_features(model.vision_tower, pv, layer), vision_features(model.vision_tower, pv, layer)
        )
    with pytest.raises(ValueError, match="out of range"):
        F.vision_layer_features(model.vision_tower, pv, 3)


def test_regression_targets_ramp_and_read_only_cues(perception):
    records = [_NoLabel(r) for r in perception.records]
    tg = TG.regression_targets(records, perception.frame_times)
    assert tg["face"].shape == (20, len(FACE_PARAMS)) and tg["voice"].shape == (20, len(VOICE_PARAMS) + 1)
    rec = perception.records[2]
    assert float(tg["voice"][2, -1]) == pytest.approx(
        rec["cues"]["voice"]["pitch_shift"] + 12 * np.log2(rec["cues"]["speaker"]["base_f0"] / 150), abs=1e-4
    )
    assert tg["frame"].shape == (20, 8, len(TG.RAMPED_PARAMS))
    for i, rec in enumerate(perception.records):
        face = rec["cues"]["face"]
        start, dur = face["onset_start"], face["onset_dur"]
        for k, t in enumerate(perception.frame_times[i].tolist()):
            for j, name in enumerate(TG.RAMPED_PARAMS):
                if t <= start:
                    assert tg["frame"][i, k, j] == pytest.approx(NEUTRAL_FACE[name], abs=1e-5)
                elif t >= start + dur:
                    assert tg["frame"][i, k, j] == pytest.approx(face[name], abs=1e-5)
    bad = [dict(perception.records[0], cues={"face": {}, "voice": {}})]
    with pytest.raises(ValueError, match="cues.face.brow_raise"):
        TG.regression_targets(bad, perception.frame_times[:1], where="perception.jsonl")
    e = TG.smoothstep_ramp(np.array([0.0, 0.5, 1.0, 2.0]), np.array([0.5]), np.array([1.0]))
    np.testing.assert_allclose(e[0], [0.0, 0.0, 0.5, 1.0])


def test_running_standardize_train_and_eval_agree():
    norm = T.RunningStandardize(3, momentum=0.5)
    x = torch.randn(50, 3) * 4 + 2
    y = norm(x)  # first batch sets the estimates outright
    torch.testing.assert_close(y.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    norm.eval()
    torch.testing.assert_close(norm(x), y)  # evaluation uses the same estimates
    norm.train()
    norm(x + 10)
    assert torch.allclose(norm.mean, x.mean(0) + 5, atol=1e-4)


def test_one_cycle_schedule():
    f = [T.one_cycle(s, 100, 0.25) for s in range(100)]
    assert f[0] == pytest.approx(0.04) and max(f) == pytest.approx(1.0, abs=1e-6)
    assert int(np.argmax(f)) == 25 and f[-1] < 0.01
    assert all(a <= b for a, b in zip(f[:25], f[1:26])) and all(a >= b for a, b in zip(f[25:], f[26:]))


def test_augmentations():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 2, 3, 16, 16)
    assert A.photometric(x, 0.0, gen) is x and A.geometric(x, 0, False, gen) is x
    y = A.photometric(x, 0.3, gen)
    assert y.shape == x.shape and not torch.equal(x, y)
    z = A.geometric(x, 3, True, gen)
    assert z.shape == x.shape
    for i in range(4):  # each clip is a shifted (maybe mirrored) copy; all frames alike
        match = any(
            torch.equal(z[i, :, :, 4:12, 4:12], c[:, :, 4 + dy : 12 + dy, 4 + dx : 12 + dx])
            for c in (x[i], x[i].flip(-1))
            for dy in range(-3, 4)
            for dx in range(-3, 4)
        )
        assert match


class _NoLabel(dict):
    """A record that fails loudly if anyone reads a label field."""

    def __getitem__(self, key):
        if key in LABEL_KEYS:
            raise AssertionError(f"tower pretraining read {key!r}")
        return super().__getitem__(key)

    def get(self, key, default=None):
        if key in LABEL_KEYS:
            raise AssertionError(f"tower pretraining read {key!r}")
        return super().get(key, default)


def _guarded(inputs: P.TowerInputs, with_labels: bool = False) -> P.TowerInputs:
    records = []
    for rec in inputs.records:
        rec = dict(rec)
        if with_labels:
            rec["label"] = "happy"
        records.append(_NoLabel(rec))
    return P.TowerInputs(inputs.pixel_values, inputs.input_features, records, inputs.frame_times)


def test_pretraining_lowers_the_loss_and_reads_no_label(perception):
    model = _model()
    before = {k: v.clone() for k, v in model.vision_tower.state_dict().items()}
    config = T.TowerPretrainConfig(
        num_train_epochs=6,
        per_device_train_batch_size=6,
        learning_rate=3e-3,
        val_fraction=0.2,
        shift=2,
        flip=True,
        augment=0.1,
    )
    result = T.pretrain_towers(model, _guarded(perception, with_labels=True), config, progress=False)
    losses = [row["train_loss"] for row in result.history]
    assert len(losses) == 6 and losses[-1] < 0.8 * losses[0]
    assert set(result.r2) == (
        {f"face.{p}" for p in FACE_PARAMS}
        | {f"voice.{p}" for p in TG.VOICE_TARGETS}
        | {f"frame.{p}" for p in TG.RAMPED_PARAMS}
    )
    assert any(not torch.equal(before[k], v) for k, v in model.vision_tower.state_dict().items())
    assert not any(p.requires_grad for p in model.vision_tower.parameters())
    assert not model.vision_tower.training and not model.audio_tower.training


def test_a_frozen_audio_tower_stays_as_it_is_and_its_features_are_computed_once(perception, monkeypatch):
    """train_audio=False (the smol preset's pretrained Whisper): the audio tower is not changed, and
    the features computed once before the first epoch train exactly as recomputing them per step."""
    config = T.TowerPretrainConfig(
        num_train_epochs=2, per_device_train_batch_size=6, val_fraction=0.2, shift=1, augment=0.1, train_audio=False
    )
    cached = _model()
    audio_before = {k: v.clone() for k, v in cached.audio_tower.state_dict().items()}
    vision_before = {k: v.clone() for k, v in cached.vision_tower.state_dict().items()}
    result = T.pretrain_towers(cached, perception, config, progress=False)
    assert all(torch.equal(audio_before[k], v) for k, v in cached.audio_tower.state_dict().items())
    assert any(not torch.equal(vision_before[k], v) for k, v in cached.vision_tower.state_dict().items())
    recomputed = _model()
    monkeypatch.setattr(T, "frozen_audio_features", lambda *args, **kwargs: None)  # the audio tower runs per batch
    again = T.pretrain_towers(recomputed, perception, config, progress=False)
    for k, v in cached.vision_tower.state_dict().items():
        torch.testing.assert_close(v, recomputed.vision_tower.state_dict()[k], msg=k)
    assert [r["train_loss"] for r in result.history] == pytest.approx([r["train_loss"] for r in again.history])


def test_pretraining_resumes_exactly_and_saves_as_an_omni_model(perception, tmp_path):
    config = T.TowerPretrainConfig(num_train_epochs=3, per_device_train_batch_size=8, shift=1, augment=0.1)
    straight = _model()
    T.pretrain_towers(straight, perception, config, progress=False)
    resumed = _model()
    first = T.TowerPretrainConfig(**{**config.to_dict(), "num_train_epochs": 3})
    # stop after 2 epochs by running a config copy whose loop we cut short
    _run_epochs(resumed, perception, first, tmp_path, stop_after=2)
    assert (tmp_path / T.CHECKPOINT / "state.json").is_file()
    again = _model()
    result = T.pretrain_towers(again, perception, config, checkpoint_dir=tmp_path, progress=False)
    assert [r["epoch"] for r in result.history] == [1, 2, 3]
    for part in ("vision_tower", "audio_tower"):
        a, b = getattr(straight, part).state_dict(), getattr(again, part).state_dict()
        for k in a:
            torch.testing.assert_close(a[k], b[k], msg=f"{part}.{k}")
    with pytest.raises(ValueError, match="another config"):
        T.pretrain_towers(
            _model(), perception, T.TowerPretrainConfig(num_train_epochs=4), checkpoint_dir=tmp_path, progress=False
        )
    again.save_pretrained(tmp_path / "model")
    loaded = OmniModel.from_pretrained(tmp_path / "model")
    for k, v in again.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k]), k
    import json

    assert json.loads(json.dumps(loaded.config.to_dict())) == json.loads(json.dumps(again.config.to_dict()))


def _run_epochs(model, inputs, config, checkpoint_dir, stop_after):
    """pretrain_towers, interrupted after ``stop_after`` epochs (as a crash would)."""
    calls = {"n": 0}
    original = T._save_state

    def save_then_maybe_stop(*args, **kwargs):
        original(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == stop_after:
            raise KeyboardInterrupt

    T._save_state = save_then_maybe_stop
    try:
        with pytest.raises(KeyboardInterrupt):
            T.pretrain_towers(model, inputs, config, checkpoint_dir=checkpoint_dir, progress=False)
    finally:
        T._save_state = original


def test_wider_tower_init_keeps_dct_filters():
    from r1omni.model.config import tiny_tower_configs

    vision, _ = tiny_tower_configs()
    wide = build_vision_tower({**vision, "hidden_size": 64, "intermediate_size": 128})
    w = wide.embeddings.patch_embedding.weight.detach()  # (64, 3, 8, 8)
    flat = w.reshape(64, -1)
    assert torch.count_nonzero(flat.abs().sum(1)) == 64  # every channel is a filter
    lum = flat[:62]  # 62 luminance DCT filters (unit-norm bases times the luminance weights)
    torch.testing.assert_close(
        torch.diag(lum @ lum.T), torch.full((62,), float((torch.tensor([0.299, 0.587, 0.114]) ** 2).sum()))
    )
    torch.testing.assert_close(w[62, :, 0, 0], torch.tensor([1.0, -1.0, 0.0]) / 8)  # colour DCs
    torch.testing.assert_close(w[63, :, 0, 0], torch.tensor([0.5, 0.5, -1.0]) / 8)
    default = build_vision_tower(vision).embeddings.patch_embedding.weight.detach()
    torch.testing.assert_close(default[:30], w[:30])  # the default width: the first 30 DCT filters
    torch.testing.assert_close(default[30:], w[62:])  # + the 2 colour channels
    with pytest.raises(ValueError, match="hidden_size"):
        build_vision_tower({**vision, "hidden_size": 3 * 64 + 1, "intermediate_size": 8, "num_attention_heads": 1})
