"""The frozen encoders: transformers' SigLIP vision model and Whisper's audio encoder.

Vision: ``SiglipVisionModel``; features are the hidden states of layer ``vision_feature_layer``
(-2 = second-to-last, as HumanOmni), before the final layer norm: (N*T, g*g, Dv).
Audio: the encoder half of transformers' Whisper on log-mel features from
``WhisperFeatureExtractor``: (N, n_mels, 2*S) -> (N, S, Da).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn


def _init_recipe(config: dict[str, Any], which: str) -> str | None:
    """The ``r1omni_init`` recipe named in a tower config dict (None = transformers' default)."""
    from r1omni.model.tiny_init import TINY_INIT

    recipe = config.get("r1omni_init")
    if recipe not in (None, TINY_INIT):
        raise ValueError(f"{which} config: unknown r1omni_init {recipe!r}; known: {[TINY_INIT]}")
    return recipe


def build_vision_tower(vision: dict[str, Any]) -> nn.Module:
    """A randomly initialised ``SiglipVisionModel`` from a config dict (with the tiny preset's
    signal-preserving init when the dict names it, see :mod:`r1omni.model.tiny_init`)."""
    from transformers import SiglipVisionConfig, SiglipVisionModel

    from r1omni.model.tiny_init import init_vision_tower

    model = SiglipVisionModel(SiglipVisionConfig.from_dict(vision))
    if _init_recipe(vision, "vision"):
        init_vision_tower(model)
    return model


def build_audio_tower(audio: dict[str, Any]) -> nn.Module:
    """A randomly initialised Whisper encoder from a ``WhisperConfig`` dict (with the tiny
    preset's signal-preserving init when the dict names it)."""
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    from r1omni.model.tiny_init import init_audio_tower

    model = WhisperEncoder(WhisperConfig.from_dict(audio))
    if _init_recipe(audio, "audio"):
        init_audio_tower(model)
    return model


def load_vision_tower(directory: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Load a SigLIP vision tower (from a SiglipModel or SiglipVisionModel checkpoint dir)."""
    from transformers import SiglipVisionModel

    model = SiglipVisionModel.from_pretrained(str(directory), vision_use_head=False, local_files_only=True)
    return model, model.config.to_dict()


def _safetensors_files(directory: Path) -> list[Path]:
    index = directory / "model.safetensors.index.json"
    if index.is_file():
        names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [directory / n for n in names]
    single = directory / "model.safetensors"
    if single.is_file():
        return [single]
    raise FileNotFoundError(
        f"{directory}: no model.safetensors or model.safetensors.index.json (only safetensors checkpoints are read)"
    )


def load_audio_tower(
    directory: str | Path, *, max_source_positions: int | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """Load only the encoder of a Whisper checkpoint dir (WhisperModel or
    WhisperForConditionalGeneration); the decoder's weights are never materialised.

    ``max_source_positions``: a shorter window than the checkpoint's (e.g. 100 positions = 2 s
    instead of 1500 = 30 s): the encoder keeps the first rows of its position table and expects
    ``2 x max_source_positions`` mel frames."""
    from safetensors import safe_open
    from transformers import WhisperConfig

    directory = Path(directory)
    config = WhisperConfig.from_pretrained(str(directory), local_files_only=True)
    full = int(config.max_source_positions)
    if max_source_positions is not None:
        if not 1 <= max_source_positions <= full:
            raise ValueError(
                f"{directory}: max_source_positions={max_source_positions} is outside the checkpoint's 1..{full}"
            )
        config.max_source_positions = int(max_source_positions)
    encoder = build_audio_tower(config.to_dict())
    wanted = set(encoder.state_dict())
    state: dict[str, torch.Tensor] = {}
    for file in _safetensors_files(directory):
        with safe_open(str(file), framework="pt") as fh:
            for key in fh.keys():
                for prefix in ("model.encoder.", "encoder."):
                    if key.startswith(prefix) and key[len(prefix) :] in wanted:
                        state[key[len(prefix) :]] = fh.get_tensor(key)
    missing = sorted(wanted - set(state) - {"embed_positions.weight"})
    if missing:
        raise ValueError(
            f"{directory}: Whisper checkpoint lacks encoder weights {missing[:5]}{' ...' if len(missing) > 5 else ''}"
        )
    if "embed_positions.weight" in state:
        table = state["embed_positions.weight"]
        if table.shape[0] != full:
            raise ValueError(f"{directory}: embed_positions has {table.shape[0]} rows; the config says {full}")
        state["embed_positions.weight"] = table[: config.max_source_positions].clone()
    encoder.load_state_dict(state, strict=False)
    return encoder, config.to_dict()


def vision_features(tower: nn.Module, pixel_values: torch.Tensor, layer: int) -> torch.Tensor:
    """(N, T, 3, S, S) pixels -> (N, T, g*g, Dv) patch features of hidden layer ``layer``."""
    n, t = pixel_values.shape[:2]
    out = tower(pixel_values=pixel_values.flatten(0, 1), output_hidden_states=True)
    feats = out.hidden_states[layer]  # (N*T, g*g, Dv)
    return feats.reshape(n, t, *feats.shape[1:])


def audio_features(tower: nn.Module, input_features: torch.Tensor) -> torch.Tensor:
    """(N, n_mels, 2S) log-mel -> (N, S, Da) encoder states."""
    return tower(input_features=input_features).last_hidden_state
