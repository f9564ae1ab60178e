"""The tiny omni model: forward, generate (cache on/off, left padding), modality subsets,
save/load, feature cache, freezing and clear errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from r1omni.data.media import Clip
from r1omni.model import (
    FeatureCache,
    OmniModel,
    OmniProcessor,
    load_policy,
    repeat_batch,
    save_policy,
)
from r1omni.model.tokenizer import _train_tiny_bpe_json
from r1omni.settings import PROMPT

TARGET = "<think>The face smiles and the voice is bright.</think><answer>happy</answer>"


def make_clip(seed: int, *, audio: bool = True, seconds: float = 2.0, size: int = 112, frames: int = 8) -> Clip:
    rng = np.random.default_rng(seed)
    wave = (0.1 * rng.standard_normal(int(16000 * seconds))).astype(np.float32) if audio else None
    return Clip(
        path=f"/mem/clip{seed}.mp4",
        frames=rng.integers(0, 256, (frames, size, size, 3), dtype=np.uint8),
        audio=wave,
        sample_rate=16000,
        audio_missing=not audio,
        audio_silent=False,
        fps=10.0,
        duration=seconds,
    )


def _sharpen(model: OmniModel) -> OmniModel:
    """Random tiny LMs predict nearly uniform logits; larger embeddings make greedy outputs vary
    with the input, so the equality tests below compare non-trivial token sequences."""
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(1)
        for p in model.lm.parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.5)
    return model


@pytest.fixture(scope="module")
def model() -> OmniModel:
    return _sharpen(OmniModel.from_preset("tiny", seed=0)).eval()


@pytest.fixture(scope="module")
def processor() -> OmniProcessor:
    return OmniProcessor.from_preset("tiny")


@pytest.fixture(scope="module")
def clips() -> list[Clip]:
    return [make_clip(i) for i in range(4)]


def real(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The logits of the real (unpadded) positions of one row."""
    return logits[mask.bool()]


# ---------------------------------------------------------------- processor
def test_processor_expands_placeholders_and_left_pads(processor, clips):
    cfg = processor.config
    assert (cfg.tokens_per_video, cfg.tokens_per_audio) == (32, 50)
    batch = processor(clips, modalities=["av", "v", "a", "t"])
    ids, mask = batch["input_ids"], batch["attention_mask"]
    vid, aud = cfg.token_ids["video"], cfg.token_ids["audio"]
    assert (ids == vid).sum(1).tolist() == [32, 32, 0, 0]
    assert (ids == aud).sum(1).tolist() == [50, 0, 50, 0]
    assert mask[:, -1].all() and mask[0].all()  # left padded; the av row is the longest
    assert not mask[3, 0]
    assert batch["pixel_values"].shape == (4, 8, 3, 64, 64)
    assert batch["input_features"].shape == (4, 80, 300)
    assert batch["pixel_values"][2:].abs().sum() == 0 and batch["input_features"][[1, 3]].abs().sum() == 0
    text = processor.prompt_text("av")
    assert text.startswith("<|im_start|>user\n<vi_start><video><vi_end>\n<au_start><audio><au_end>\n" + PROMPT)
    assert text.endswith("<|im_start|>assistant\n")
    assert "<au_start>" not in processor.prompt_text("v") and "<vi_start>" not in processor.prompt_text("a")


def test_targets_give_completion_only_labels(processor, clips):
    batch = processor(clips[:2], modalities=["av", "t"], targets=[TARGET, "<answer>sad</answer>"])
    labels, ids = batch["labels"], batch["input_ids"]
    for row, target in enumerate([TARGET, "<answer>sad</answer>"]):
        kept = ids[row][labels[row] != -100]
        assert kept[-1] == processor.config.token_ids["eos"]
        assert processor.batch_decode(kept[None])[0] == target
        assert torch.equal(labels[row][labels[row] != -100], kept)


def test_tiny_tokenizer_is_deterministic_and_keeps_tags(processor):
    first = _train_tiny_bpe_json()
    _train_tiny_bpe_json.cache_clear()
    assert _train_tiny_bpe_json() == first
    tok = processor.tokenizer
    for tag in ("<think>", "</think>", "<answer>", "</answer>"):
        assert len(tok(tag, add_special_tokens=False)["input_ids"]) == 1
    ids = tok(TARGET, add_special_tokens=False)["input_ids"]
    assert processor.batch_decode([ids])[0] == TARGET


# ---------------------------------------------------------------- forward
@pytest.mark.parametrize("modality", ["av", "v", "a", "t"])
def test_each_modality_subset_runs_and_uses_its_media(model, processor, modality):
    a, b = make_clip(10), make_clip(11)
    la = model(**processor([a], modalities=modality)).logits
    lb = model(**processor([b], modalities=modality)).logits
    assert la.shape[0] == 1 and la.shape[-1] == len(processor.tokenizer) and torch.isfinite(la).all()
    if modality == "t":
        assert torch.equal(la, lb)  # no media: the clip cannot matter
    else:
        assert not torch.allclose(la[:, -1], lb[:, -1])


def test_text_only_accepts_none_clips(model, processor):
    batch = processor([None, None], modalities="t")
    assert "pixel_values" not in batch and "input_features" not in batch
    assert model(**batch).logits.shape[:2] == batch["input_ids"].shape


def test_text_only_equals_the_plain_lm(model, processor):
    batch = processor([None, None], modalities="t", question="Which emotion?")
    ref = model.lm(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        position_ids=(batch["attention_mask"].cumsum(-1) - 1).clamp(min=0),
    ).logits
    torch.testing.assert_close(model(**batch).logits, ref, rtol=0, atol=0)


def test_projectors_pool_then_project(model):
    feats = torch.randn(2, 8, 64, 32)  # (N, T, 8x8 patches, Dv)
    blocks = feats.reshape(2, 8, 2, 4, 2, 4, 32).mean(dim=(3, 5)).reshape(2, 8 * 4, 32)  # 4x4-patch means
    torch.testing.assert_close(model.visual_projector(feats), model.visual_projector.mlp(blocks))
    enc = torch.randn(2, 150, 32)  # (N, S, Da)
    pooled = enc.reshape(2, 50, 3, 32).mean(2)
    torch.testing.assert_close(model.audio_projector(enc), model.audio_projector.mlp(pooled))
    with pytest.raises(ValueError, match="expected 8x8"):
        model.visual_projector(torch.randn(1, 8, 9, 32))


def test_long_audio_warns_about_the_window(processor):
    with pytest.warns(UserWarning, match=r"clip12\.mp4\): audio is 4\.00 s; .*first 3 s"):
        processor([make_clip(12, seconds=4.0)], modalities="a")


def test_mixed_batch_rows_match_rows_alone(model, processor, clips):
    mods = ["av", "v", "a", "t"]
    batch = processor(clips, modalities=mods)
    logits = model(**batch).logits
    for i, mod in enumerate(mods):
        alone = processor([clips[i]], modalities=mod)
        ref = model(**alone).logits[0]
        torch.testing.assert_close(real(logits[i], batch["attention_mask"][i]), ref, rtol=1e-4, atol=1e-4)


def test_concatenated_completion_with_the_prompt_media_matches_full_batch(model, processor, clips):
    full = processor(clips[:2], modalities=["av", "a"], targets=[TARGET, TARGET])
    prompt = processor(clips[:2], modalities=["av", "a"])
    completion = processor.tokenizer(TARGET, add_special_tokens=False, return_tensors="pt")["input_ids"]
    completion = torch.cat([completion, torch.tensor([[processor.config.token_ids["eos"]]])], 1).repeat(2, 1)
    ids = torch.cat([prompt["input_ids"], completion], 1)
    mask = torch.cat([prompt["attention_mask"], torch.ones_like(completion)], 1)
    assert torch.equal(ids, full["input_ids"])
    a = model(input_ids=ids, attention_mask=mask, **prompt.media()).logits
    b = model(**{k: v for k, v in full.items() if k != "labels"}).logits
    torch.testing.assert_close(a, b)


# ---------------------------------------------------------------- generate
def test_greedy_generation_same_with_and_without_kv_cache(model, processor, clips):
    batch = processor(clips, modalities=["av", "v", "a", "t"])
    cached = model.generate(batch, max_new_tokens=12, use_cache=True)
    plain = model.generate(batch, max_new_tokens=12, use_cache=False)
    assert torch.equal(cached.completion_ids, plain.completion_ids)
    assert len(set(cached.completion_ids.flatten().tolist())) > 2  # a non-trivial sequence


def test_left_padding_does_not_change_greedy_output(model, processor, clips):
    mods = ["t", "av", "a", "v"]
    together = model.generate(processor(clips, modalities=mods), max_new_tokens=10)
    assert not together.prompt_mask.all()  # some rows really are padded
    for i, mod in enumerate(mods):
        alone = model.generate(processor([clips[i]], modalities=mod), max_new_tokens=10)
        c = alone.completion_ids.shape[1]
        assert torch.equal(together.completion_ids[i, :c], alone.completion_ids[0])


def test_generation_result_for_groups(model, processor, clips):
    batch = processor(clips[:2], modalities="av")
    out = model.generate(
        batch,
        max_new_tokens=6,
        do_sample=True,
        temperature=1.0,
        top_p=0.9,
        num_return_sequences=3,
        generator=torch.Generator().manual_seed(0),
    )
    assert out.prompt_ids.shape[0] == out.completion_ids.shape[0] == 6
    assert torch.equal(out.prompt_ids[0], out.prompt_ids[2]) and torch.equal(out.batch["input_ids"], out.prompt_ids)
    assert out.completion_mask.shape == out.completion_ids.shape
    media_ids = [processor.config.token_ids[k] for k in ("video", "audio", "vi_start", "au_end")]
    assert not torch.isin(out.completion_ids, torch.tensor(media_ids)).any()
    again = model.generate(
        batch,
        max_new_tokens=6,
        do_sample=True,
        top_p=0.9,
        num_return_sequences=3,
        generator=torch.Generator().manual_seed(0),
    )
    assert torch.equal(out.completion_ids, again.completion_ids)
    # logits of cat(prompt, completion) with the rollout's media line up with the rollout
    ids = torch.cat([out.prompt_ids, out.completion_ids], 1)
    mask = torch.cat([out.prompt_mask, out.completion_mask], 1)
    assert model(input_ids=ids, attention_mask=mask, **out.batch.media()).logits.shape[:2] == ids.shape


def test_rows_stop_at_their_first_eos(model, processor, clips):
    batch = processor(clips, modalities=["av", "v", "a", "t"])
    free = model.generate(batch, max_new_tokens=8)
    stop = int(free.completion_ids[0, 2])  # pretend the 3rd greedy token of row 0 is eos
    original = model.config
    model.config = dataclasses.replace(original, token_ids={**original.token_ids, "eos": stop})
    try:
        out = model.generate(batch, max_new_tokens=8)
    finally:
        model.config = original
    pad, eos = original.token_ids["pad"], original.token_ids["eos"]
    stopped = 0
    for row in range(4):
        ref = free.completion_ids[row].tolist()
        valid = ref[: ref.index(eos)] if eos in ref else ref  # before the real eos the runs agree
        if stop not in valid:
            assert out.completion_ids[row, : len(valid)].tolist() == valid
            continue
        n = valid.index(stop) + 1
        stopped += 1
        assert out.completion_ids[row, :n].tolist() == valid[:n]
        assert (out.completion_ids[row, n:] == pad).all()
        assert out.completion_mask[row].tolist() == [1] * n + [0] * (out.completion_ids.shape[1] - n)
    assert stopped >= 1


# ---------------------------------------------------------------- save / load / cache
def test_save_load_round_trip_gives_identical_logits(model, processor, clips, tmp_path):
    batch = processor(clips, modalities=["av", "v", "a", "t"])
    save_policy(tmp_path / "policy", model, processor)
    assert sorted(p.name for p in (tmp_path / "policy").glob("*.safetensors")) == ["model.safetensors"]
    assert not list((tmp_path / "policy").glob("*.bin")) and not list((tmp_path / "policy").glob("*.pt"))
    model2, processor2 = load_policy(tmp_path / "policy")
    assert model2.lm.lm_head.weight is model2.lm.get_input_embeddings().weight  # still tied
    batch2 = processor2(clips, modalities=["av", "v", "a", "t"])
    for key in batch:
        assert torch.equal(batch[key], batch2[key]), key
    assert torch.equal(model(**batch).logits, model2.eval()(**batch2).logits)
    save_policy(tmp_path / "policy", model2, processor2)  # overwriting an existing policy works
    assert [p.name for p in tmp_path.iterdir()] == ["policy"]


def test_encoded_and_cached_features_give_the_same_logits(model, processor, clips, tmp_path):
    batch = processor(clips, modalities=["av", "v", "a", "t"])
    ref = model(**batch).logits
    encoded = model.encode_media(batch)
    assert "pixel_values" not in encoded and encoded["video_features"].shape[:2] == (4, 8)
    torch.testing.assert_close(model(**encoded).logits, ref, rtol=0, atol=0)
    cache = FeatureCache(tmp_path / "cache")
    first = cache.encode(model, batch, clips)
    assert (cache.hits, cache.misses) == (0, 4)  # 2 videos + 2 audios
    second = cache.encode(model, batch, clips)
    assert (cache.hits, cache.misses) == (4, 4)
    for out in (first, second):
        torch.testing.assert_close(model(**out).logits, ref, rtol=0, atol=0)
    other = OmniModel.from_preset("tiny", seed=1)  # other towers -> another cache namespace
    cache.encode(other, batch, clips)
    assert cache.misses == 8 and len(list((tmp_path / "cache").iterdir())) == 2


@pytest.mark.parametrize("change", ["one element", "two rows swapped", "new weights loaded"])
def test_the_feature_cache_misses_whenever_a_tower_weight_changes(processor, clips, tmp_path, change):
    """The key follows every byte of the towers, also on a model object the cache has already seen."""
    model = OmniModel.from_preset("tiny", seed=0)
    batch = processor(clips[:2], modalities="av")
    cache = FeatureCache(tmp_path / "cache")
    cache.encode(model, batch, clips[:2])
    cache.encode(model, batch, clips[:2])
    assert (cache.hits, cache.misses) == (4, 4)
    weight = model.vision_tower.encoder.layers[0].mlp.fc1.weight
    with torch.no_grad():
        if change == "one element":
            weight[3, 5] += 1e-3
        elif change == "two rows swapped":  # same sum, same first values: the old digest missed this
            weight[[10, 11]] = weight[[11, 10]]
        else:
            model.audio_tower.load_state_dict(OmniModel.from_preset("tiny", seed=7).audio_tower.state_dict())
    out = cache.encode(model, batch, clips[:2])
    assert cache.misses == 8  # every clip computed anew, with the changed towers
    torch.testing.assert_close(model(**out).logits, model(**batch).logits, rtol=0, atol=0)
    assert len(list((tmp_path / "cache").iterdir())) == 2


def test_unreadable_weights_and_cache_entries_are_named(model, processor, clips, tmp_path):
    from r1omni.model import load_policy, save_policy

    policy = save_policy(tmp_path / "policy", model, processor)
    weights = policy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"model\.safetensors: not a readable safetensors file"):
        load_policy(policy)
    cache = FeatureCache(tmp_path / "cache")
    batch = processor(clips[:1], modalities="av")
    cache.encode(model, batch, clips[:1])
    entry = next((tmp_path / "cache").rglob("*.safetensors"))
    entry.write_bytes(b"\x00" * 7)
    with pytest.raises(ValueError, match=rf"{entry.name}: unreadable feature-cache entry .* delete it"):
        cache.encode(model, batch, clips[:1])


def test_training_step_updates_projectors_and_lm_not_towers(processor, clips):
    model = OmniModel.from_preset("tiny", seed=0).train()
    batch = processor(clips, modalities=["av", "v", "a", "t"], targets=[TARGET] * 4)
    loss = model(**batch).loss
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is None for p in model.vision_tower.parameters())
    assert all(p.grad is None for p in model.audio_tower.parameters())
    assert model.visual_projector.mlp.fc1.weight.grad.abs().sum() > 0
    assert model.audio_projector.mlp.fc1.weight.grad.abs().sum() > 0
    assert model.lm.get_input_embeddings().weight.grad.abs().sum() > 0
    assert not model.vision_tower.training  # frozen towers stay in eval mode
    model.zero_grad()
    model.set_trainable(towers=True, projectors=False, lm=False)
    model(**batch).loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.vision_tower.parameters())
    assert all(p.grad is None for p in model.visual_projector.parameters())


def test_repeat_batch_groups_rows(processor, clips):
    batch = processor(clips[:2], modalities=["av", "t"])
    rep = repeat_batch(batch, 3)
    assert rep["input_ids"].shape[0] == 6 and rep["has_video"].tolist() == [True] * 3 + [False] * 3


# ---------------------------------------------------------------- errors
def test_missing_audio_names_the_clip(processor):
    silent = make_clip(5, audio=False)
    with pytest.raises(ValueError, match=r"/mem/clip5\.mp4.*no audio"):
        processor([silent], modalities="av")
    assert processor([silent], modalities="v")["has_audio"].tolist() == [False]


def test_wrong_shapes_are_clear_errors(model, processor):
    with pytest.raises(ValueError, match=r"/mem/clip6\.mp4.*4 frames.*expects 8"):
        processor([make_clip(6, frames=4)], modalities="v")
    bad = make_clip(7)
    bad.frames = bad.frames[..., :2]
    with pytest.raises(ValueError, match=r"clip7.*\(T, H, W, 3\)"):
        processor([bad], modalities="v")
    with pytest.raises(ValueError, match="unknown modalities"):
        processor([make_clip(8)], modalities="va")
    with pytest.raises(ValueError, match="clip 0.*None"):
        processor([None], modalities="a")
    batch = processor([make_clip(9)], modalities="av")
    ids = batch["input_ids"].clone()
    ids[0, ids[0] == processor.config.token_ids["video"]] = processor.config.token_ids["pad"]
    with pytest.raises(ValueError, match="<video> tokens"):
        model(input_ids=ids, attention_mask=batch["attention_mask"], **batch.media())
    with pytest.raises(ValueError, match="input_ids must be"):
        model(input_ids=batch["input_ids"][0])
    with pytest.raises(ValueError, match="neither 'pixel_values' nor 'video_features'"):
        model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])


def test_unknown_preset_lists_presets():
    with pytest.raises(ValueError, match=r"unknown preset 'huge'.*tiny.*humanomni-0\.5b"):
        OmniModel.from_preset("huge")
    with pytest.raises(ValueError, match=r"unknown preset"):
        OmniProcessor.from_preset("huge")
    with pytest.raises(ValueError, match="needs local model directories"):
        OmniModel.from_preset("humanomni-0.5b")


def test_tiny_preset_is_seeded_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = OmniModel.from_preset("tiny", seed=0).state_dict()
    assert torch.equal(torch.rand(1), before)  # from_preset forked the RNG
    b = OmniModel.from_preset("tiny", seed=0).state_dict()
    c = OmniModel.from_preset("tiny", seed=1).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["visual_projector.mlp.fc1.weight"], c["visual_projector.mlp.fc1.weight"])
    # towers: fixed DCT input filters (no randomness), seeded random attention / MLP weights
    assert torch.equal(
        a["vision_tower.embeddings.patch_embedding.weight"], c["vision_tower.embeddings.patch_embedding.weight"]
    )
    assert not torch.equal(
        a["vision_tower.encoder.layers.0.mlp.fc1.weight"], c["vision_tower.encoder.layers.0.mlp.fc1.weight"]
    )
    assert not torch.equal(a["audio_tower.layers.0.fc1.weight"], c["audio_tower.layers.0.fc1.weight"])


def test_tiny_towers_keep_the_signal():
    """Signal-preserving init (r1omni.model.tiny_init): patch embedding = luminance DCT, so a
    brighter image raises the DC channel; Whisper content dominates its positions."""
    from r1omni.model.tiny_init import TINY_INIT, dct_matrix

    model = OmniModel.from_preset("tiny", seed=0).eval()
    assert model.config.vision["r1omni_init"] == model.config.audio["r1omni_init"] == TINY_INIT
    c = dct_matrix(8)
    torch.testing.assert_close(c @ c.T, torch.eye(8), atol=1e-5, rtol=0)
    s = model.config.image_size
    with torch.no_grad():
        dark = model.vision_tower.embeddings.patch_embedding(torch.full((1, 3, s, s), -0.5))
        bright = model.vision_tower.embeddings.patch_embedding(torch.full((1, 3, s, s), 0.5))
        assert (bright[0, 0] - dark[0, 0]).min() > 1.0  # DC of the luminance
        torch.testing.assert_close(bright[0, 1:-2], dark[0, 1:-2])  # flat image: no AC energy
        mel = torch.randn(3, model.config.num_mel_bins, model.config.mel_frames)
        tower = model.audio_tower
        content = torch.nn.functional.gelu(tower.conv2(torch.nn.functional.gelu(tower.conv1(mel))))
        content = content - content.mean(dim=1, keepdim=True)  # what the layer norms keep
        assert content.norm(dim=1).mean() > 5 * tower.embed_positions.weight.norm(dim=1).mean()
        out = tower(input_features=mel).last_hidden_state  # (3, S, Da)
        assert (out[0] - out[1]).norm() > 0.5 * out[0].norm()  # different sounds, different states
    with pytest.raises(ValueError, match="unknown r1omni_init"):
        from r1omni.model.towers import build_vision_tower

        build_vision_tower({**model.config.vision, "r1omni_init": "nope"})
