"""``OmniProcessor``: clips + text -> an :class:`OmniBatch` (tokens, pixels, log-mel).

The user turn is ``<vi_start><video><vi_end>\\n<au_start><audio><au_end>\\n{question}`` with only
the present modalities' lines, applied through the tokenizer's chat template with
``add_generation_prompt=True``. Each single ``<video>`` / ``<audio>`` placeholder is then expanded
in ``input_ids`` to as many copies as the projector emits tokens, so logits positions equal token
positions. Rows are left-padded (generation appends on the right).

Frames are padded to a square (filled with the normalisation mean, as HumanOmni's
``expand2square``), resized bilinearly (antialiased) to the tower's image size and normalised.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from r1omni.io import atomic_write_json, read_json
from r1omni.model.batch import OmniBatch
from r1omni.model.config import OmniConfig
from r1omni.model.tokenizer import MEDIA_TOKENS, token_ids
from r1omni.settings import MODALITIES, PROMPT

PROCESSOR_CONFIG = "processor_config.json"


def media_prefix(modality: str) -> str:
    """The placeholder lines for one modality subset.

    >>> media_prefix("av")
    '<vi_start><video><vi_end>\\n<au_start><audio><au_end>\\n'
    >>> media_prefix("t")
    ''
    """
    out = ""
    if "v" in modality:
        out += f"{MEDIA_TOKENS['vi_start']}{MEDIA_TOKENS['video']}{MEDIA_TOKENS['vi_end']}\n"
    if "a" in modality:
        out += f"{MEDIA_TOKENS['au_start']}{MEDIA_TOKENS['audio']}{MEDIA_TOKENS['au_end']}\n"
    return out


def _clip_name(clip: Any, index: int) -> str:
    return f"clip {index} ({getattr(clip, 'path', '<no path>')})"


class OmniProcessor:
    """Tokenizer + pixel and log-mel preprocessing for one :class:`OmniConfig`."""

    def __init__(self, tokenizer, config: OmniConfig):
        from transformers import WhisperFeatureExtractor

        self.tokenizer = tokenizer
        self.config = config
        self.ids = token_ids(tokenizer)
        hop = 160
        self.feature_extractor = WhisperFeatureExtractor(
            feature_size=config.num_mel_bins,
            sampling_rate=config.sample_rate,
            hop_length=hop,
            chunk_length=config.audio_chunk_seconds,
            n_fft=400,
        )
        if self.feature_extractor.nb_max_frames != config.mel_frames:
            raise ValueError(
                f"audio window {config.audio_chunk_seconds} s gives {self.feature_extractor.nb_max_frames} "
                f"mel frames but the Whisper encoder expects {config.mel_frames}"
            )

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_preset(cls, name: str, **overrides) -> OmniProcessor:
        """The processor of a preset (``humanomni-0.5b`` needs ``paths=``, see ``HumanOmniPaths``)."""
        from r1omni.model.presets import preset_config_and_tokenizer

        config, tokenizer = preset_config_and_tokenizer(name, **overrides)
        return cls(tokenizer, config)

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(str(directory))
        atomic_write_json(directory / PROCESSOR_CONFIG, self.config.to_dict())

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> OmniProcessor:
        from transformers import AutoTokenizer

        directory = Path(directory)
        config = OmniConfig.from_dict(read_json(directory / PROCESSOR_CONFIG), source=str(directory / PROCESSOR_CONFIG))
        tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
        tokenizer.padding_side = "left"
        return cls(tokenizer, config)

    # ------------------------------------------------------------------ text
    def prompt_text(self, modality: str, question: str = PROMPT) -> str:
        """The chat-templated prompt (before placeholder expansion)."""
        messages = [{"role": "user", "content": media_prefix(modality) + question}]
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def _prompt_ids(self, modality: str, question: str) -> list[int]:
        ids = self.tokenizer(self.prompt_text(modality, question), add_special_tokens=False)["input_ids"]
        out: list[int] = []
        for i in ids:
            if i == self.ids["video"]:
                out += [i] * self.config.tokens_per_video
            elif i == self.ids["audio"]:
                out += [i] * self.config.tokens_per_audio
            else:
                out.append(i)
        return out

    def batch_decode(self, ids, skip_special_tokens: bool = True) -> list[str]:
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return self.tokenizer.batch_decode(ids, skip_special_tokens=skip_special_tokens)

    # ------------------------------------------------------------------ media
    def pixel_values(self, frames: np.ndarray, name: str = "clip") -> torch.Tensor:
        """(T, H, W, 3) uint8 -> (T, 3, S, S) normalised float32."""
        cfg = self.config
        if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(
                f"{name}: frames must be an array of shape (T, H, W, 3); got "
                f"{getattr(frames, 'shape', type(frames).__name__)}"
            )
        if frames.shape[0] != cfg.num_frames:
            raise ValueError(f"{name}: has {frames.shape[0]} frames; the model expects {cfg.num_frames}")
        if frames.dtype != np.uint8:
            raise ValueError(f"{name}: frames must be uint8, got {frames.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0  # (T, 3, H, W)
        mean = torch.tensor(cfg.image_mean).view(1, 3, 1, 1)
        std = torch.tensor(cfg.image_std).view(1, 3, 1, 1)
        t, _, h, w = x.shape
        side = max(h, w)
        if h != w:  # pad to square with the mean colour, content centred
            canvas = mean.expand(t, 3, side, side).clone()
            top, left = (side - h) // 2, (side - w) // 2
            canvas[:, :, top : top + h, left : left + w] = x
            x = canvas
        if side != cfg.image_size:
            x = F.interpolate(
                x,
                size=(cfg.image_size, cfg.image_size),
                mode="bilinear",
                align_corners=False,
                antialias=side > cfg.image_size,
            )
        return (x - mean) / std

    def input_features(self, audios: Sequence[np.ndarray]) -> torch.Tensor:
        """List of mono float32 waveforms -> (N, n_mels, F) Whisper log-mel (padded/truncated to the window)."""
        feats = self.feature_extractor(list(audios), sampling_rate=self.config.sample_rate, return_tensors="np")[
            "input_features"
        ]
        return torch.from_numpy(np.asarray(feats, dtype=np.float32))

    def _check_audio(self, clip: Any, name: str) -> np.ndarray:
        audio = getattr(clip, "audio", None)
        if audio is None:
            raise ValueError(
                f"{name}: audio was requested but the clip has no audio track (use modalities 'v' or 't' for it)"
            )
        audio = np.asarray(audio)
        if audio.ndim != 1:
            raise ValueError(f"{name}: audio must be mono, shape (N,); got {audio.shape}")
        if clip.sample_rate != self.config.sample_rate:
            raise ValueError(
                f"{name}: audio sample rate {clip.sample_rate} Hz; the model expects {self.config.sample_rate} Hz"
            )
        window = self.config.audio_chunk_seconds * self.config.sample_rate
        if audio.shape[0] > window:
            warnings.warn(
                f"{name}: audio is {audio.shape[0] / self.config.sample_rate:.2f} s; the Whisper window "
                f"keeps its first {self.config.audio_chunk_seconds} s",
                stacklevel=3,
            )
        return audio.astype(np.float32, copy=False)

    # ------------------------------------------------------------------ batch
    def __call__(
        self,
        clips: Sequence[Any],
        *,
        modalities: str | Sequence[str] = "av",
        question: str | Sequence[str] = PROMPT,
        targets: Sequence[str] | None = None,
    ) -> OmniBatch:
        clips = list(clips)
        b = len(clips)
        if b == 0:
            raise ValueError("processor: empty list of clips")
        mods = [modalities] * b if isinstance(modalities, str) else list(modalities)
        if len(mods) != b:
            raise ValueError(f"processor: {len(mods)} modalities for {b} clips")
        bad = sorted({m for m in mods if m not in MODALITIES})
        if bad:
            raise ValueError(f"processor: unknown modalities {bad}; expected one of {list(MODALITIES)}")
        questions = [question] * b if isinstance(question, str) else list(question)
        if len(questions) != b:
            raise ValueError(f"processor: {len(questions)} questions for {b} clips")
        if targets is not None and len(targets) != b:
            raise ValueError(f"processor: {len(targets)} targets for {b} clips")

        pixels, audios = {}, {}
        for i, (clip, mod) in enumerate(zip(clips, mods)):
            name = _clip_name(clip, i)
            if mod != "t" and clip is None:
                raise ValueError(f"clip {i}: modality {mod!r} requested but the clip is None")
            if "v" in mod:
                pixels[i] = self.pixel_values(getattr(clip, "frames", None), name)
            if "a" in mod:
                audios[i] = self._check_audio(clip, name)

        seqs, labels = [], []
        for i, mod in enumerate(mods):
            prompt = self._prompt_ids(mod, questions[i])
            if targets is None:
                seqs.append(prompt)
                continue
            target = self.tokenizer(targets[i], add_special_tokens=False)["input_ids"] + [self.ids["eos"]]
            seqs.append(prompt + target)
            labels.append([-100] * len(prompt) + target)
        length = max(len(s) for s in seqs)
        input_ids = torch.full((b, length), self.ids["pad"], dtype=torch.long)
        attention_mask = torch.zeros((b, length), dtype=torch.long)
        for i, s in enumerate(seqs):  # left padding
            input_ids[i, length - len(s) :] = torch.tensor(s)
            attention_mask[i, length - len(s) :] = 1
        batch = OmniBatch(
            input_ids=input_ids,
            attention_mask=attention_mask,
            has_video=torch.tensor(["v" in m for m in mods]),
            has_audio=torch.tensor(["a" in m for m in mods]),
        )
        if targets is not None:
            lab = torch.full((b, length), -100, dtype=torch.long)
            for i, s in enumerate(labels):
                lab[i, length - len(s) :] = torch.tensor(s)
            batch["labels"] = lab
        cfg = self.config
        if pixels:
            pv = torch.zeros((b, cfg.num_frames, 3, cfg.image_size, cfg.image_size))
            for i, x in pixels.items():
                pv[i] = x
            batch["pixel_values"] = pv
        if audios:
            feats = self.input_features(list(audios.values()))
            mel = torch.zeros((b, *feats.shape[1:]))
            for row, i in zip(feats, audios):
                mel[i] = row
            batch["input_features"] = mel
        return batch
