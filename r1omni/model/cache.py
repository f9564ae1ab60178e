"""``FeatureCache``: frozen-tower outputs per clip on disk, reused by every SFT epoch and GRPO step.

Since the towers are frozen, ``V(frames)`` and ``A(mel)`` of a clip never change; only the
projectors and the LM see gradients. Layout::

    DIR/<tower fingerprint>/video/<sha256 of frames>.safetensors   {"features": (T, g*g, Dv)}
    DIR/<tower fingerprint>/audio/<sha256 of waveform>.safetensors {"features": (Sa, Da)}

The tower fingerprint hashes the tower-relevant config (vision / audio configs, frame count,
feature layer, pixel normalisation, sample rate, audio window) and every byte of every tower
tensor (name, shape, dtype, data), so a cache built with other towers, or with these towers
before any weight changed, is never read. Hashing is remembered only while no tower tensor has
changed: the memo is keyed on each tensor's storage and version counter, which every in-place
change (an optimizer step, ``copy_``, ``load_state_dict``, ``w[i] = ...``) bumps. (A change made
through ``tensor.data`` bypasses the counter; build a new FeatureCache after such surgery.)
The clip key hashes the raw content (frames bytes + shape; waveform bytes
+ sample rate), not the file name. Files are written atomically (``r1omni.io``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from r1omni.io import atomic_write_bytes
from r1omni.model.batch import OmniBatch
from r1omni.model.towers import audio_features, vision_features


def _tower_tensors(model) -> list[tuple[str, torch.Tensor]]:
    return [
        (f"{i}.{name}", t)
        for i, part in enumerate((model.vision_tower, model.audio_tower))
        for name, t in part.state_dict(keep_vars=True).items()
    ]


def tower_fingerprint(model) -> str:
    """16 hex chars identifying what the towers compute: their config and every byte of their weights."""
    h = hashlib.sha256(json.dumps(model.config.tower_fingerprint_dict(), sort_keys=True, default=str).encode())
    for name, t in _tower_tensors(model):
        data = t.detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
        h.update(data.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def _tower_state(model) -> tuple:
    """What changes whenever a tower tensor does: each tensor's storage, shape and version counter."""
    return tuple((name, t.data_ptr(), tuple(t.shape), t._version) for name, t in _tower_tensors(model))


def video_key(frames: np.ndarray) -> str:
    """sha256 of the frames' shape, dtype and bytes."""
    frames = np.ascontiguousarray(frames)
    h = hashlib.sha256(f"{frames.shape}{frames.dtype}".encode())
    h.update(frames.tobytes())
    return h.hexdigest()


def audio_key(audio: np.ndarray, sample_rate: int) -> str:
    """sha256 of the waveform's sample rate, length and bytes."""
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    h = hashlib.sha256(f"{sample_rate}:{audio.shape}".encode())
    h.update(audio.tobytes())
    return h.hexdigest()


class FeatureCache:
    """Tower outputs per clip under ``directory`` (see the module docstring)."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.hits = 0
        self.misses = 0
        self._memo: tuple | None = None  # (tower state, fingerprint) of the last model seen

    def _root(self, model) -> Path:
        state = _tower_state(model)
        if self._memo is None or self._memo[0] != state:
            self._memo = (state, tower_fingerprint(model))
        return self.directory / self._memo[1]

    def _load(self, path: Path) -> torch.Tensor | None:
        from safetensors.torch import load_file

        if not path.is_file():
            return None
        try:
            return load_file(str(path))["features"]
        except Exception as err:  # noqa: BLE001 - a truncated or foreign file: name it, never guess
            raise ValueError(
                f"{path}: unreadable feature-cache entry ({type(err).__name__}: {err}); delete it "
                f"(or the cache folder {self.directory}) to recompute the features"
            ) from None

    def _store(self, path: Path, features: torch.Tensor) -> None:
        from safetensors.torch import save

        atomic_write_bytes(path, save({"features": features.detach().cpu().contiguous()}))

    def _fill(self, model, batch: dict, clips: Sequence[Any], kind: str) -> torch.Tensor | None:
        flag, raw = ("has_video", "pixel_values") if kind == "video" else ("has_audio", "input_features")
        rows = [i for i, present in enumerate(batch[flag].tolist()) if present]
        if not rows:
            return None
        root = self._root(model) / kind
        feats: dict[int, torch.Tensor] = {}
        todo: list[tuple[int, Path]] = []
        for i in rows:
            clip = clips[i]
            if clip is None:
                raise ValueError(f"FeatureCache: row {i} uses {kind} but its clip is None")
            key = video_key(clip.frames) if kind == "video" else audio_key(clip.audio, clip.sample_rate)
            path = root / f"{key}.safetensors"
            cached = self._load(path)
            if cached is None:
                todo.append((i, path))
            else:
                feats[i] = cached
        self.hits += len(rows) - len(todo)
        self.misses += len(todo)
        if todo:
            if raw not in batch:
                raise ValueError(f"FeatureCache: {len(todo)} clips miss {kind} features and the batch has no {raw!r}")
            idx = torch.tensor([i for i, _ in todo])
            x = batch[raw][idx].to(model.device, model.dtype)
            with torch.no_grad():
                if kind == "video":
                    new = vision_features(model.vision_tower, x, model.config.vision_feature_layer)
                else:
                    new = audio_features(model.audio_tower, x)
            for (i, path), f in zip(todo, new):
                self._store(path, f)
                feats[i] = f.detach().cpu()
        first = next(iter(feats.values()))
        out = torch.zeros((len(batch[flag]), *first.shape), dtype=first.dtype)
        for i, f in feats.items():
            if f.shape != first.shape:
                raise ValueError(
                    f"FeatureCache: {kind} features of row {i} have shape {tuple(f.shape)}, "
                    f"expected {tuple(first.shape)}"
                )
            out[i] = f
        return out.to(model.device)

    def encode(self, model, batch: dict, clips: Sequence[Any]) -> OmniBatch:
        """Like ``model.encode_media(batch)``, reading cached tower outputs for ``clips`` (one
        per batch row, in order) and computing and storing only the missing ones. Features are
        returned on the model's device."""
        if len(clips) != len(batch["input_ids"]):
            raise ValueError(f"FeatureCache.encode: {len(clips)} clips for {len(batch['input_ids'])} batch rows")
        out = OmniBatch({k: v for k, v in batch.items() if k not in ("pixel_values", "input_features")})
        for kind, key in (("video", "video_features"), ("audio", "audio_features")):
            feats = self._fill(model, batch, clips, kind)
            if feats is not None:
                out[key] = feats
        return out
