"""``OmniModel``: frozen SigLIP + Whisper towers, trainable projectors, a transformers causal LM.

The prompt's ``<video>`` / ``<audio>`` placeholder positions (already expanded by the processor
to ``tokens_per_video`` / ``tokens_per_audio`` copies) get the projected media embeddings::

    e_i = P_v(V(frames))_j   if input_ids_i is the j-th <video> token of its row
          P_a(A(mel))_j      if input_ids_i is the j-th <audio> token of its row
          E[input_ids_i]     otherwise

and the LM runs on ``inputs_embeds`` with ``position_ids = cumsum(attention_mask) - 1`` so left
padding never shifts a sample's positions. Each row may use any modality subset ("av", "v", "a",
"t"); rows of one batch may differ.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from r1omni.io import atomic_write_json, read_json, respect_umask
from r1omni.model.batch import MEDIA_KEYS, OmniBatch, position_ids_from_mask
from r1omni.model.config import OmniConfig
from r1omni.model.generate import GenerationResult, generate
from r1omni.model.projectors import AudioProjector, VisualProjector
from r1omni.model.towers import audio_features, build_audio_tower, build_vision_tower, vision_features

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
TOWERS = ("vision_tower", "audio_tower")
PROJECTORS = ("visual_projector", "audio_projector")


def build_lm(lm: dict[str, Any]) -> nn.Module:
    """A randomly initialised causal LM from a config dict (``model_type`` picks the class)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = dict(lm)
    return AutoModelForCausalLM.from_config(AutoConfig.for_model(cfg.pop("model_type"), **cfg))


class OmniModel(nn.Module):
    """See the module docstring. Construct with :meth:`from_preset` or :meth:`from_pretrained`."""

    def __init__(self, config: OmniConfig, parts: dict[str, nn.Module] | None = None):
        super().__init__()
        parts = parts or {}
        self.config = config
        self.vision_tower = parts["vision_tower"] if "vision_tower" in parts else build_vision_tower(config.vision)
        self.audio_tower = parts["audio_tower"] if "audio_tower" in parts else build_audio_tower(config.audio)
        self.lm = parts["lm"] if "lm" in parts else build_lm(config.lm)
        d_model = self.lm.get_input_embeddings().embedding_dim
        self.visual_projector = VisualProjector(
            int(config.vision["hidden_size"]), d_model, config.patch_grid, config.visual_grid
        )
        self.audio_projector = AudioProjector(int(config.audio["d_model"]), d_model, config.audio_pool)
        self.to(getattr(torch, config.dtype))
        self.set_trainable()

    # ------------------------------------------------------------------ construction / io
    @classmethod
    def from_preset(cls, name: str, seed: int = 0, **overrides) -> OmniModel:
        """Preset ``tiny`` (random weights from ``seed``), ``humanomni-0.5b`` (pass ``paths=``;
        pretrained towers and LM from local directories) or ``smol`` (SmolLM2 and Whisper-base from
        ``models/smol``, the tiny SigLIP tower). What is not pretrained (projectors, a tiny tower, the
        rows the media tokens add to the embeddings) is random from ``seed``."""
        from r1omni.model.presets import load_pretrained_parts, preset_config_and_tokenizer

        config, _ = preset_config_and_tokenizer(name, **overrides)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            parts = load_pretrained_parts(config, overrides.get("paths")) if name != "tiny" else None
            return cls(config, parts)

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """Write ``config.json`` and ``model.safetensors`` (tied weights stored once)."""
        from safetensors.torch import save_model

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_json(directory / CONFIG_NAME, self.config.to_dict())
        tmp = directory / f".{WEIGHTS_NAME}.tmp"
        save_model(self, str(tmp))
        respect_umask(tmp)  # safetensors writes 0600
        os.replace(tmp, directory / WEIGHTS_NAME)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, device: str | torch.device = "cpu") -> OmniModel:
        """Rebuild from ``config.json`` and load ``model.safetensors`` strictly (never unpickles)."""
        from safetensors.torch import load_model

        directory = Path(directory)
        config = OmniConfig.from_dict(read_json(directory / CONFIG_NAME), source=str(directory / CONFIG_NAME))
        weights = directory / WEIGHTS_NAME
        if not weights.is_file():
            raise FileNotFoundError(f"{weights}: no weights file")
        from transformers.initialization import no_init_weights

        with no_init_weights():  # every tensor is overwritten below: skip the random init
            model = cls(config)
        model.lm.tie_weights()
        try:
            missing, unexpected = load_model(model, str(weights), strict=False, device=str(device))
        except Exception as err:  # noqa: BLE001 - SafetensorError / RuntimeError: name the file
            raise ValueError(
                f"{weights}: not a readable safetensors file, truncated or corrupt ({type(err).__name__}: {err})"
            ) from None
        missing = [k for k in missing if k not in model._tied_duplicates()]
        if missing or unexpected:
            raise ValueError(
                f"{weights}: does not match the config; missing {missing[:5]}, unexpected {unexpected[:5]}"
            )
        return model.to(device)

    def _tied_duplicates(self) -> set[str]:
        seen, dup = {}, set()
        for name, tensor in self.state_dict(keep_vars=True).items():
            key = tensor.data_ptr()
            if key in seen:
                dup.add(name)
            seen[key] = name
        return dup

    # ------------------------------------------------------------------ training switches
    def set_trainable(self, towers: bool = False, projectors: bool = True, lm: bool = True) -> OmniModel:
        """Freeze / unfreeze the parts (paper: towers frozen, projectors and LM trained)."""
        for names, flag in ((TOWERS, towers), (PROJECTORS, projectors), (("lm",), lm)):
            for name in names:
                getattr(self, name).requires_grad_(flag)
        self._towers_trainable = towers
        self.train(self.training)
        return self

    def train(self, mode: bool = True) -> OmniModel:
        super().train(mode)
        if not getattr(self, "_towers_trainable", False):  # frozen towers always run in eval mode
            self.vision_tower.eval()
            self.audio_tower.eval()
        return self

    @property
    def device(self) -> torch.device:
        return self.lm.get_input_embeddings().weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.lm.get_input_embeddings().weight.dtype

    # ------------------------------------------------------------------ media
    def _tower_grad(self):
        return contextlib.nullcontext() if self._towers_trainable else torch.no_grad()

    def encode_media(self, batch: dict) -> OmniBatch:
        """Run the frozen towers once: the returned batch carries ``video_features`` /
        ``audio_features`` instead of ``pixel_values`` / ``input_features`` (same logits)."""
        out = OmniBatch({k: v for k, v in batch.items() if k not in ("pixel_values", "input_features")})
        with torch.no_grad():
            if "pixel_values" in batch:
                pv = batch["pixel_values"].to(self.device, self.dtype)
                out["video_features"] = vision_features(self.vision_tower, pv, self.config.vision_feature_layer)
            if "input_features" in batch:
                mel = batch["input_features"].to(self.device, self.dtype)
                out["audio_features"] = audio_features(self.audio_tower, mel)
        return out

    def _media_embeds(self, kind: str, media: dict, present: torch.Tensor) -> torch.Tensor | None:
        """(N_present, tokens, H) projected embeddings of the rows with ``present`` True."""
        if not bool(present.any()):
            return None
        raw, enc = ("pixel_values", "video_features") if kind == "video" else ("input_features", "audio_features")
        if enc in media and media[enc] is not None:
            feats = media[enc][present.to(media[enc].device)].to(self.device, self.dtype)
        elif raw in media and media[raw] is not None:
            x = media[raw][present.to(media[raw].device)].to(self.device, self.dtype)
            with self._tower_grad():
                if kind == "video":
                    feats = vision_features(self.vision_tower, x, self.config.vision_feature_layer)
                else:
                    feats = audio_features(self.audio_tower, x)
        else:
            raise ValueError(f"batch has <{kind}> placeholders but neither {raw!r} nor {enc!r}")
        proj = self.visual_projector if kind == "video" else self.audio_projector
        return proj(feats)

    def media_embeds(self, input_ids: torch.Tensor, media: dict) -> dict[str, torch.Tensor | None]:
        """Projected embeddings per modality, after checking placeholder counts per row."""
        out = {}
        for kind, flag, per_clip in (
            ("video", "has_video", self.config.tokens_per_video),
            ("audio", "has_audio", self.config.tokens_per_audio),
        ):
            counts = (input_ids == self.config.token_ids[kind]).sum(dim=1)  # (B,)
            present = media.get(flag)
            present = (counts > 0) if present is None else present.to(counts.device).bool()
            if present.shape != counts.shape:
                raise ValueError(f"{flag} has shape {tuple(present.shape)}; expected ({counts.shape[0]},)")
            expected = present.long() * per_clip
            if not torch.equal(counts, expected):
                row = int((counts != expected).nonzero()[0])
                raise ValueError(
                    f"sample {row}: {int(counts[row])} <{kind}> tokens but {flag}={bool(present[row])} "
                    f"needs {int(expected[row])} (placeholders must come from the processor)"
                )
            out[kind] = self._media_embeds(kind, media, present)
        return out

    def embed(self, input_ids: torch.Tensor, embeds: dict[str, torch.Tensor | None]) -> torch.Tensor:
        """(B, L) ids -> (B, L, H) LM input embeddings with media spliced in."""
        x = self.lm.get_input_embeddings()(input_ids)  # (B, L, H)
        for kind, e in embeds.items():
            if e is not None:
                mask = (input_ids == self.config.token_ids[kind]).unsqueeze(-1)  # (B, L, 1)
                x = x.masked_scatter(mask, e.to(x.dtype))
        return x

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        logits_to_keep: int = 0,
        **media,
    ):
        """``model(**batch)``: transformers ``CausalLMOutputWithPast`` whose ``logits`` (B, L, V) are
        aligned with ``input_ids`` (loss from ``labels`` when given, shifted inside the LM)."""
        unknown = sorted(set(media) - set(MEDIA_KEYS))
        if unknown:
            raise TypeError(f"OmniModel.forward: unexpected inputs {unknown}")
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must be (B, L); got shape {tuple(input_ids.shape)}")
        input_ids = input_ids.to(self.device)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        attention_mask = attention_mask.to(self.device)
        if attention_mask.shape != input_ids.shape:
            raise ValueError(f"attention_mask {tuple(attention_mask.shape)} != input_ids {tuple(input_ids.shape)}")
        x = self.embed(input_ids, self.media_embeds(input_ids, media))
        return self.lm(
            inputs_embeds=x,
            attention_mask=attention_mask,
            position_ids=position_ids_from_mask(attention_mask),
            labels=None if labels is None else labels.to(self.device),
            logits_to_keep=logits_to_keep,
            use_cache=False,
        )

    def generate(self, batch: dict, **kwargs) -> GenerationResult:
        """Batched sampling with a KV cache; see :func:`r1omni.model.generate.generate`."""
        return generate(self, batch, **kwargs)
