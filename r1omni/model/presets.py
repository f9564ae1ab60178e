"""Preset assembly: the config + tokenizer of a preset, and (for ``humanomni-0.5b``) the
pretrained towers and LM read from the user's local directories."""

from __future__ import annotations

import dataclasses
from typing import Any

from r1omni.model.config import (
    OmniConfig,
    check_preset,
    resolve_paths,
    tiny_lm_config,
    tiny_tower_configs,
)
from r1omni.model.tokenizer import add_media_tokens, build_tiny_tokenizer, token_ids

#: OmniConfig fields a caller may override in from_preset (the sub-model dicts come from the preset).
OVERRIDABLE = ("num_frames", "visual_grid", "vision_feature_layer", "audio_pool", "dtype")


def _apply_overrides(config: OmniConfig, overrides: dict[str, Any], name: str) -> OmniConfig:
    bad = sorted(set(overrides) - set(OVERRIDABLE))
    if bad:
        raise ValueError(f"preset {name!r}: unknown overrides {bad}; allowed: {list(OVERRIDABLE)} (and paths=)")
    return dataclasses.replace(config, **overrides)


def preset_config_and_tokenizer(name: str, *, paths=None, **overrides) -> tuple[OmniConfig, Any]:
    """(OmniConfig, tokenizer) of preset ``name``. ``humanomni-0.5b`` reads configs and the
    tokenizer from ``paths`` (HumanOmniPaths, a mapping or a JSON/YAML file); nothing is downloaded."""
    check_preset(name)
    if name == "tiny":
        if paths is not None:
            raise ValueError("preset 'tiny' takes no paths")
        tokenizer = build_tiny_tokenizer()
        ids = token_ids(tokenizer)
        vision, audio = tiny_tower_configs()
        config = OmniConfig(
            preset="tiny",
            vision=vision,
            audio=audio,
            lm=tiny_lm_config(len(tokenizer), ids),
            visual_grid=2,
            audio_chunk_seconds=3,
            audio_pool=3,
            token_ids=ids,
        )
        return _apply_overrides(config, overrides, name), tokenizer

    from transformers import AutoConfig, AutoTokenizer, SiglipVisionConfig, WhisperConfig

    p = resolve_paths(paths)
    tokenizer = AutoTokenizer.from_pretrained(p.lm_dir, local_files_only=True)
    add_media_tokens(tokenizer)
    ids = token_ids(tokenizer)
    vision = SiglipVisionConfig.from_pretrained(p.vision_dir, local_files_only=True)
    vision.vision_use_head = False
    audio = WhisperConfig.from_pretrained(p.audio_dir, local_files_only=True)
    lm = AutoConfig.from_pretrained(p.lm_dir, local_files_only=True)
    lm.vocab_size = max(int(lm.vocab_size), len(tokenizer))
    hop = 160  # Whisper's 10 ms hop at 16 kHz
    chunk_seconds = 2 * audio.max_source_positions * hop // 16000
    _check_feature_extractor(
        p.audio_dir,
        num_mel_bins=audio.num_mel_bins,
        hop_length=hop,
        chunk_length=chunk_seconds,
        sampling_rate=16000,
        n_fft=400,
    )
    config = OmniConfig(
        preset=name,
        vision=vision.to_dict(),
        audio=audio.to_dict(),
        lm=lm.to_dict(),
        visual_grid=7,
        audio_chunk_seconds=chunk_seconds,
        audio_pool=3,
        token_ids=ids,
    )
    return _apply_overrides(config, overrides, name), tokenizer


def _check_feature_extractor(audio_dir: str, **expected: int) -> None:
    """The processor computes Whisper log-mel from the OmniConfig; make sure that equals the
    checkpoint's own ``preprocessor_config.json`` (when it has one)."""
    from pathlib import Path

    from transformers import WhisperFeatureExtractor

    if not (Path(audio_dir) / "preprocessor_config.json").is_file():
        return
    fe = WhisperFeatureExtractor.from_pretrained(audio_dir, local_files_only=True)
    got = {
        "num_mel_bins": fe.feature_size,
        "hop_length": fe.hop_length,
        "chunk_length": fe.chunk_length,
        "sampling_rate": fe.sampling_rate,
        "n_fft": fe.n_fft,
    }
    bad = {k: (got[k], v) for k, v in expected.items() if got[k] != v}
    if bad:
        raise ValueError(
            f"{audio_dir}/preprocessor_config.json disagrees with the encoder (field: (file, expected)): {bad}"
        )


def load_pretrained_parts(config: OmniConfig, paths) -> dict[str, Any]:
    """Pretrained vision tower, audio encoder and LM for ``humanomni-0.5b`` (embeddings resized
    to ``config.lm['vocab_size']`` when the placeholders did not fit the existing rows)."""
    from transformers import AutoModelForCausalLM

    from r1omni.model.towers import load_audio_tower, load_vision_tower

    p = resolve_paths(paths)
    vision, _ = load_vision_tower(p.vision_dir)
    audio, _ = load_audio_tower(p.audio_dir)
    lm = AutoModelForCausalLM.from_pretrained(p.lm_dir, local_files_only=True, dtype="float32")
    if lm.get_input_embeddings().num_embeddings < config.lm["vocab_size"]:
        lm.resize_token_embeddings(config.lm["vocab_size"])
    return {"vision_tower": vision, "audio_tower": audio, "lm": lm}
