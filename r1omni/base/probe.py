"""Linear probe of frozen towers: how much emotion their features carry, as the projectors see them.

Per clip, the towers' features are pooled exactly as the projectors pool them (vision: hidden
layer ``vision_feature_layer``, each frame's patch grid average-pooled to ``visual_grid x
visual_grid``; audio: encoder states average-pooled by ``audio_pool``), then summarised over
frames / audio tokens by fixed statistics (:func:`sequence_stats`: mean, std, max and mean
absolute step). A logistic regression (standardised inputs, ``C = 0.1``) is fitted on the
train split and scored on the others, for the visual features, the audio features and both.
The labels are read here, for scoring only: the probe never changes the towers.

Printed beside the cue-level bound (:func:`r1omni.data.separability.separability`: the same
classifier on the true generating parameters).

Inputs (pixels and log-mel, as the processor makes them) are computed once per manifest and
may be cached on disk (:func:`tower_inputs`), so that probing many towers costs only their
forward passes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from r1omni.data.manifest import records_fingerprint
from r1omni.data.media import LOADER_VERSION, load_clip, sample_frame_indices
from r1omni.io import read_jsonl
from r1omni.model.towers import audio_features, vision_features

PROBE_C = 0.1
"""Inverse L2 strength of the probe's logistic regression."""


@dataclass
class TowerInputs:
    """The processor's tower inputs for the clips of one manifest, in manifest order."""

    pixel_values: torch.Tensor
    """(N, T, 3, S, S) float16, normalised as the processor does."""
    input_features: torch.Tensor
    """(N, n_mels, F) float32 Whisper log-mel."""
    records: list[dict]
    """The manifest records (with ``video_path``), in the same order."""
    frame_times: torch.Tensor
    """(N, T) float32 time (s) of each sampled frame in its clip."""

    def __len__(self) -> int:
        return len(self.records)


def _inputs_key(records: list[dict], processor) -> str:
    """What the decoded tensors depend on: every record and the bytes of every clip it points to
    (:func:`r1omni.data.manifest.records_fingerprint`), the clip loader's version and the processor's
    media settings."""
    cfg = processor.config
    raw = json.dumps(
        [
            records_fingerprint(records),
            LOADER_VERSION,
            cfg.image_size,
            cfg.num_frames,
            list(cfg.image_mean),
            list(cfg.image_std),
            cfg.num_mel_bins,
            cfg.sample_rate,
            cfg.audio_chunk_seconds,
        ],
        sort_keys=True,
    )
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def tower_inputs(
    manifest: str | os.PathLike,
    processor,
    *,
    cache_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    progress: bool = True,
    batch_size: int = 32,
) -> TowerInputs:
    """Decode every clip of ``manifest`` (``load_clip``) and make the processor's pixels and log-mel.

    With ``cache_dir`` the tensors are kept in ``<cache_dir>/<key>.safetensors`` (key: the
    records, the bytes of their clips and the processor's media settings), written atomically.
    Works for any manifest with ``video`` fields (a perception manifest has no label).
    """
    from safetensors.torch import load_file, save_file

    manifest = Path(manifest)
    records = read_jsonl(manifest)
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or not isinstance(rec.get("video"), str):
            raise ValueError(f"{manifest}: line {i + 1} has no 'video' field")
        rec["video_path"] = str(manifest.resolve().parent / rec["video"])
    if limit is not None:
        if limit > len(records):
            raise ValueError(f"{manifest}: limit={limit} but the manifest holds only {len(records)} clips")
        records = records[:limit]
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"{_inputs_key(records, processor)}.safetensors"
        if path.is_file():
            data = load_file(str(path))
            return TowerInputs(data["pixel_values"], data["input_features"], records, data["frame_times"])
    pix, mel, times = [], [], []
    for start in tqdm(range(0, len(records), batch_size), desc=f"decode {manifest.name}", disable=not progress):
        chunk = [
            load_clip(r["video_path"], num_frames=processor.config.num_frames, sample_rate=processor.config.sample_rate)
            for r in records[start : start + batch_size]
        ]
        pix += [processor.pixel_values(c.frames, c.path).half() for c in chunk]
        for c in chunk:
            total = int(round(c.duration * c.fps))
            times.append(
                torch.tensor(sample_frame_indices(total, processor.config.num_frames) / c.fps, dtype=torch.float32)
            )
        mel.append(processor.input_features([c.audio for c in chunk]))
    out = TowerInputs(torch.stack(pix), torch.cat(mel), records, torch.stack(times))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        save_file(
            {
                "pixel_values": out.pixel_values.contiguous(),
                "input_features": out.input_features.contiguous(),
                "frame_times": out.frame_times.contiguous(),
            },
            str(tmp),
        )
        os.replace(tmp, path)
    return out


def pool_vision(feats: torch.Tensor, patch_grid: int, visual_grid: int) -> torch.Tensor:
    """(N, T, g*g, D) patch features -> (N, T, k*k*D): the visual projector's average pooling.

    Channel order: the k*k pooled cells of channel 0, then of channel 1, ...
    """
    n, t, _, d = feats.shape
    x = feats.reshape(n * t, patch_grid, patch_grid, d).permute(0, 3, 1, 2)  # (N*T, D, g, g)
    return F.adaptive_avg_pool2d(x, visual_grid).reshape(n, t, -1)


def pool_audio(feats: torch.Tensor, pool: int) -> torch.Tensor:
    """(N, S, D) encoder states -> (N, S // pool, D): the audio projector's average pooling."""
    return F.avg_pool1d(feats.transpose(1, 2), pool, pool).transpose(1, 2)


def sequence_stats(x: torch.Tensor) -> torch.Tensor:
    """(N, T, D) -> (N, 4*D): mean, std, max and mean |x_{t+1} - x_t| over T."""
    step = (x[:, 1:] - x[:, :-1]).abs().mean(1)
    return torch.cat([x.mean(1), x.std(1), x.amax(1), step], 1)


@torch.no_grad()
def pooled_features(
    model, inputs: TowerInputs, *, batch_size: int = 32, progress: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """(visual (N, T, k*k*Dv), audio (N, S', Da)): the towers' features as the projectors pool them."""
    cfg = model.config
    was_training = (model.vision_tower.training, model.audio_tower.training)
    model.vision_tower.eval()
    model.audio_tower.eval()
    vis, aud = [], []
    for start in tqdm(range(0, len(inputs), batch_size), desc="tower features", disable=not progress):
        pv = inputs.pixel_values[start : start + batch_size].float()
        v = vision_features(model.vision_tower, pv, cfg.vision_feature_layer)  # (N, T, g*g, Dv)
        vis.append(pool_vision(v, cfg.patch_grid, cfg.visual_grid))
        a = audio_features(model.audio_tower, inputs.input_features[start : start + batch_size])  # (N, S, Da)
        aud.append(pool_audio(a, cfg.audio_pool))
    model.vision_tower.train(was_training[0])
    model.audio_tower.train(was_training[1])
    return torch.cat(vis), torch.cat(aud)


def probe_features(model, inputs: TowerInputs, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """(visual (N, 4*k*k*Dv), audio (N, 4*Da)): :func:`sequence_stats` of :func:`pooled_features`."""
    vis, aud = pooled_features(model, inputs, **kwargs)
    return sequence_stats(vis).numpy(), sequence_stats(aud).numpy()


def fit_score(xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, yte: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """(accuracy, UAR) on the test rows of a logistic regression fitted on the train rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=PROBE_C, random_state=seed))
    pred = clf.fit(xtr, ytr).predict(xte)
    return float(np.mean(pred == yte)), float(balanced_accuracy_score(yte, pred))


def _labels(inputs: TowerInputs, where: str) -> np.ndarray:
    try:
        return np.array([r["label"] for r in inputs.records])
    except KeyError:
        raise ValueError(
            f"probe: the {where} manifest has records without 'label' (a perception manifest cannot be probed)"
        ) from None


def probe(
    model, inputs: dict[str, TowerInputs], *, train: str = "train", evaluate: Sequence[str] = ("test",), seed: int = 0
) -> list[dict[str, Any]]:
    """Probe rows ``{"split", "inputs" (visual / audio / both), "accuracy", "uar", "dim", "n_train",
    "n_eval"}`` for every split of ``evaluate``; ``inputs`` maps split names to :func:`tower_inputs`."""
    feats = {name: probe_features(model, inputs[name]) for name in {train, *evaluate}}
    labels = {name: _labels(inputs[name], name) for name in feats}
    rows = []
    for split in evaluate:
        for name, cols in (("visual", [0]), ("audio", [1]), ("both", [0, 1])):
            xtr = np.concatenate([feats[train][c] for c in cols], 1)
            xte = np.concatenate([feats[split][c] for c in cols], 1)
            acc, uar = fit_score(xtr, labels[train], xte, labels[split], seed)
            rows.append(
                {
                    "split": split,
                    "inputs": name,
                    "accuracy": round(acc, 4),
                    "uar": round(uar, 4),
                    "dim": int(xtr.shape[1]),
                    "n_train": len(labels[train]),
                    "n_eval": len(labels[split]),
                }
            )
    return rows


def probe_data(
    model,
    processor,
    data_dir: str | os.PathLike,
    *,
    evaluate: Sequence[str] = ("test", "ood"),
    cache_dir: str | os.PathLike | None = None,
    seed: int = 0,
    progress: bool = True,
) -> list[dict]:
    """:func:`probe` on a SynthEmo folder (fit on ``train.jsonl``), each row with the cue-level bound
    (``cue_accuracy``: the same classifier on the true parameters, scored on the same split)."""
    from r1omni.data.synth.separability import separability

    data_dir = Path(data_dir)
    inputs = {
        s: tower_inputs(data_dir / f"{s}.jsonl", processor, cache_dir=cache_dir, progress=progress)
        for s in ("train", *evaluate)
    }
    rows = probe(model, inputs, evaluate=evaluate, seed=seed)
    bounds = {s: separability(data_dir, eval_split=s, seed=seed).set_index("inputs") for s in evaluate}
    for row in rows:
        row["cue_accuracy"] = float(bounds[row["split"]].loc[row["inputs"], "accuracy"])
    return rows
