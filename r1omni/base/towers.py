"""Tower pretraining: the tiny towers learn to see and hear by regressing a clip's true parameters.

Real omni models pretrain their encoders on their own (SigLIP, Whisper) before assembling them.
Here the vision tower and the audio tower of an :class:`~r1omni.model.OmniModel` are trained on
the emotion-free perception split (``perception.jsonl``) to regress the clip's generating
parameters, read from ``cues.face`` (from the frames) and ``cues.voice`` (from the audio; plus
the absolute pitch, which needs the speaker's ``cues.speaker.base_f0``).
No label is read anywhere: the targets are parameters of clips that have no emotion.

The features that are trained are exactly those the projectors and the probe see
(:func:`r1omni.base.probe.pooled_features`): vision hidden layer ``vision_feature_layer``
average-pooled to ``visual_grid x visual_grid`` per frame; audio encoder states average-pooled
by ``audio_pool``. On top of them, small linear heads (thrown away afterwards)::

    u_t = Norm_f(v_t)                      v_t: pooled visual features of frame t   (N, T, Fv)
    yhat_frame_t = W_f u_t                 ramped face parameters p(t) of frame t   (N, T, 8)
    yhat_face    = W_v Norm_v(stats_t(v))  apex face parameters                     (N, 11)
    yhat_voice   = W_a Norm_a(stats_s(a))  voice parameters + absolute pitch          (N, 8)
    L = mean_sq(yhat_frame - z_frame) + mean_sq(yhat_face - z_face) + mean_sq(yhat_voice - z_voice)

where ``stats`` is :func:`r1omni.base.probe.sequence_stats` (mean, std, max, mean step), every
target is standardised by its mean and std over the training clips, and ``Norm`` standardises
each feature by running (exponential moving) estimates of its mean and variance that are used
the same way in training and evaluation (no batch statistics, so evaluation never swings). The
ramped targets follow the face's own onset (``face.py``): ``p(t) = p_neutral + e(t) (p_apex -
p_neutral)``, ``e(t) = smoothstep((t - onset_start) / onset_dur)`` at each sampled frame's time.
Linear heads on the probe's own statistics make what is learnt linearly readable by the probe
and the projectors.

The defaults are the recipe measured in ``docs/tuning.md`` (30 epochs, batch 16, shifts of 4 px,
mirroring, photometric strength 0.3). Training: Adam with a one-cycle learning-rate schedule, a
fixed seeded order per epoch, optional
photometric augmentation of the frames (brightness, contrast, colour gain), a progress bar,
a resumable checkpoint after every epoch (safetensors and JSON only, written atomically).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from r1omni.base.augment import geometric, photometric
from r1omni.base.probe import TowerInputs, sequence_stats
from r1omni.base.targets import RAMPED_PARAMS, VOICE_TARGETS, regression_targets
from r1omni.base.tower_forward import batch_features, frozen_audio_features
from r1omni.data.synth.emotions import FACE_PARAMS
from r1omni.io import atomic_write_json, read_json
from r1omni.progress import progress_bar

CHECKPOINT = "tower_pretrain_state"


@dataclass
class TowerPretrainConfig:
    """Settings of :func:`pretrain_towers`."""

    num_train_epochs: int = 30
    """Passes over the perception clips (30 x 1,800 clips: about 5.6 min on one CPU thread)."""
    per_device_train_batch_size: int = 16
    """Clips per step."""
    learning_rate: float = 3e-3
    """Peak learning rate of the one-cycle schedule (Adam)."""
    pct_start: float = 0.25
    """Fraction of the steps spent warming the learning rate up to ``learning_rate`` (then cosine decay)."""
    weight_decay: float = 0.0
    """Adam(W) decoupled weight decay on the towers' and heads' weights."""
    frame_targets: bool = True
    """Also regress the ramped face parameters frame by frame (:data:`RAMPED_PARAMS`)."""
    frame_weight: float = 1.0
    """Weight of the per-frame loss against the clip-level losses."""
    augment: float = 0.3
    """Photometric augmentation strength (0 = off): per clip, brightness +-a, contrast x(1 +- a),
    per-channel gain x(1 +- a/2), drawn uniformly, applied to the normalised pixels."""
    shift: int = 4
    """Geometric augmentation: translate each clip's frames by up to this many pixels (at the
    tower's input size) in x and y, edges replicated (0 = off)."""
    flip: bool = True
    """Geometric augmentation: mirror each clip left-right with probability 1/2 (every face and
    voice parameter is mirror-symmetric)."""
    norm_momentum: float = 0.05
    """Update rate of the heads' running feature standardisation."""
    train_vision: bool = True
    """Train the vision tower (else it stays as it is)."""
    train_audio: bool = True
    """Train the audio tower (else it stays as it is)."""
    val_fraction: float = 0.1
    """Fraction of the perception clips held out for R^2 (the last ones, after a seeded shuffle)."""
    seed: int = 0
    """Seed of the heads' init, the clip order and the augmentation."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ------------------------------------------------------------------------------------- the heads
class RunningStandardize(nn.Module):
    """x -> (x - m) / sqrt(v + eps) with running estimates m, v of each feature (last dim).

    In training the estimates are first updated from the batch (``m <- m + mom (mean_b - m)``,
    likewise ``v``), then used, detached; in evaluation they are used as they are. The first
    batch sets them outright.
    """

    def __init__(self, dim: int, momentum: float = 0.05, eps: float = 1e-5):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            with torch.no_grad():
                flat = x.detach().reshape(-1, x.shape[-1])
                mean, var = flat.mean(0), flat.var(0, unbiased=False)
                mom = 1.0 if int(self.count) == 0 else self.momentum
                self.mean += mom * (mean - self.mean)
                self.var += mom * (var - self.var)
                self.count += 1
        return (x - self.mean) / torch.sqrt(self.var + self.eps)


class TowerHeads(nn.Module):
    """Linear regression heads on the pooled tower features (see the module docstring)."""

    def __init__(self, d_frame: int, d_audio: int, momentum: float = 0.05):
        super().__init__()
        self.frame_norm = RunningStandardize(d_frame, momentum)
        self.frame = nn.Linear(d_frame, len(RAMPED_PARAMS))
        self.face_norm = RunningStandardize(4 * d_frame, momentum)
        self.face = nn.Linear(4 * d_frame, len(FACE_PARAMS))
        self.voice_norm = RunningStandardize(4 * d_audio, momentum)
        self.voice = nn.Linear(4 * d_audio, len(VOICE_TARGETS))

    def forward(self, vis: torch.Tensor | None, aud: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """vis (N, T, Fv) pooled visual features, aud (N, S', Da) pooled audio features."""
        out = {}
        if vis is not None:
            out["frame"] = self.frame(self.frame_norm(vis))  # (N, T, 8)
            out["face"] = self.face(self.face_norm(sequence_stats(vis)))  # (N, 11)
        if aud is not None:
            out["voice"] = self.voice(self.voice_norm(sequence_stats(aud)))  # (N, 8)
        return out


# ------------------------------------------------------------------------------------- training
@dataclass
class TowerPretrainResult:
    """What :func:`pretrain_towers` returns."""

    history: list[dict[str, float]] = field(default_factory=list)
    """One row per epoch: epoch, train loss, held-out loss, seconds."""
    r2: dict[str, float] = field(default_factory=dict)
    """Held-out R^2 per target (``face.brow_raise``, ``voice.rate``, ``frame.eye_open`` ...)."""
    seconds: float = 0.0
    """Training time of this call (a resumed run counts only its own epochs)."""
    heads: TowerHeads | None = None
    """The trained heads (not part of the model)."""
    target_stats: dict = field(default_factory=dict)
    """``{head: (mean, std)}`` the targets were standardised with (to read the heads' outputs)."""


def _split(n: int, config: TowerPretrainConfig) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(config.seed).permutation(n)
    n_val = int(round(n * config.val_fraction)) if n > 1 else 0
    return np.sort(order[: n - n_val]), np.sort(order[n - n_val :])


def _standardise(targets: dict[str, torch.Tensor], index: np.ndarray) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    stats = {}
    for key, y in targets.items():
        flat = y[index].reshape(-1, y.shape[-1])
        stats[key] = (flat.mean(0), flat.std(0).clamp_min(1e-6))
    return stats


def _loss_terms(pred: dict, targets: dict, stats: dict, idx: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mean squared error of each head on standardised targets."""
    out = {}
    for key, yhat in pred.items():
        mean, std = stats[key]
        z = (targets[key][idx] - mean) / std
        out[key] = ((yhat - z) ** 2).mean()
    return out


def _params(model, heads: TowerHeads, config: TowerPretrainConfig) -> list[nn.Parameter]:
    params = list(heads.parameters())
    if config.train_vision:
        params += [p for p in model.vision_tower.parameters()]
    if config.train_audio:
        params += [p for p in model.audio_tower.parameters()]
    return params


def one_cycle(step: int, total: int, pct_start: float) -> float:
    """LR factor at ``step`` of ``total``: linear warm-up from 0.04 to 1 over ``pct_start``, then
    cosine decay to 1e-3 (PyTorch's OneCycleLR shape, as a pure function)."""
    warm = max(1, int(round(pct_start * total)))
    if step < warm:
        return 0.04 + 0.96 * step / warm
    frac = (step - warm) / max(1, total - warm)
    return 1e-3 + (1 - 1e-3) * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))


@torch.no_grad()
def predict(
    model,
    heads: TowerHeads,
    inputs: TowerInputs,
    stats: dict,
    index: np.ndarray | None = None,
    batch_size: int = 64,
    frozen_audio: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """The heads' predictions in the targets' own units: ``face`` (N, 11), ``voice`` (N, 8),
    ``frame`` (N, T, 8), for the clips ``index`` (all when None); ``frozen_audio``: the audio
    features of every clip (:func:`frozen_audio_features`) instead of running the audio tower."""
    index = np.arange(len(inputs)) if index is None else index
    was = heads.training
    heads.eval()
    preds: dict[str, list] = {}
    for start in range(0, len(index), batch_size):
        idx = torch.as_tensor(index[start : start + batch_size])
        vis, aud = batch_features(model, inputs, idx, inputs.pixel_values[idx].float(), frozen_audio)
        for key, yhat in heads(vis, aud).items():
            mean, std = stats[key]
            preds.setdefault(key, []).append(yhat * std + mean)
    heads.train(was)
    return {key: torch.cat(chunks) for key, chunks in preds.items()}


@torch.no_grad()
def evaluate_regression(
    model,
    heads: TowerHeads,
    inputs: TowerInputs,
    targets: dict[str, torch.Tensor],
    stats: dict,
    index: np.ndarray | None = None,
    batch_size: int = 64,
    frozen_audio: torch.Tensor | None = None,
) -> dict[str, float]:
    """R^2 per target on the clips ``index`` (all when None), with the targets' training scale.

    ``R^2 = 1 - sum (y - yhat)^2 / sum (y - mean(y))^2`` per parameter (frames pooled for ``frame.*``).
    """
    index = np.arange(len(inputs)) if index is None else index
    preds = predict(model, heads, inputs, stats, index, batch_size, frozen_audio)
    names = {"face": FACE_PARAMS, "voice": VOICE_TARGETS, "frame": RAMPED_PARAMS}
    out = {}
    for key, yhat in preds.items():
        yhat = yhat.reshape(-1, len(names[key]))
        y = targets[key][torch.as_tensor(index)].reshape(-1, len(names[key]))
        ss_res = ((y - yhat) ** 2).sum(0)
        ss_tot = ((y - y.mean(0)) ** 2).sum(0).clamp_min(1e-12)
        for name, r2 in zip(names[key], (1 - ss_res / ss_tot).tolist()):
            out[f"{key}.{name}"] = round(float(r2), 4)
    return out


def _save_state(directory: Path, epoch: int, model, heads, optimizer, stats, history, config) -> None:
    """Atomic resumable state: towers + heads + Adam moments (safetensors) and JSON."""
    from safetensors.torch import save_file

    from r1omni.io import atomic_replace_dir

    tmp = directory.with_name(f".{directory.name}.tmp")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    tensors = {f"vision_tower.{k}": v for k, v in model.vision_tower.state_dict().items()}
    tensors.update({f"audio_tower.{k}": v for k, v in model.audio_tower.state_dict().items()})
    tensors.update({f"heads.{k}": v for k, v in heads.state_dict().items()})
    opt = optimizer.state_dict()
    for pid, state in opt["state"].items():
        for name, value in state.items():
            tensors[f"optim.{pid}.{name}"] = torch.as_tensor(value)
    tensors = {k: v.detach().clone().contiguous() for k, v in tensors.items()}
    save_file(tensors, str(tmp / "state.safetensors"))
    atomic_write_json(
        tmp / "state.json",
        {
            "epoch": epoch,
            "history": history,
            "config": config.to_dict(),
            "param_groups": opt["param_groups"],
            "target_stats": {k: [m.tolist(), s.tolist()] for k, (m, s) in stats.items()},
        },
    )
    atomic_replace_dir(tmp, directory)


def _load_state(directory: Path, model, heads, optimizer, config) -> tuple[int, list]:
    from safetensors.torch import load_file

    meta = read_json(directory / "state.json")
    if meta["config"] != config.to_dict():
        raise ValueError(
            f"{directory}: holds a run with another config {meta['config']}; "
            "use another checkpoint_dir or the same config"
        )
    tensors = load_file(str(directory / "state.safetensors"))

    def part(prefix):
        return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}

    model.vision_tower.load_state_dict(part("vision_tower."))
    model.audio_tower.load_state_dict(part("audio_tower."))
    heads.load_state_dict(part("heads."))
    state: dict[int, dict] = {}
    for key, value in part("optim.").items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    return int(meta["epoch"]), list(meta["history"])


def pretrain_towers(
    model,
    inputs: TowerInputs,
    config: TowerPretrainConfig | None = None,
    *,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> TowerPretrainResult:
    """Train ``model``'s vision and audio towers in place on perception clips (module docstring).

    ``inputs``: :func:`r1omni.base.probe.tower_inputs` of ``perception.jsonl`` (only ``cues.face``,
    ``cues.voice``, ``cues.speaker.base_f0`` and the frame times are read: never a label).
    ``checkpoint_dir``: after each epoch the state is saved there and a later call with the same config resumes from it.
    Returns the history, held-out R^2 per parameter and the heads; the model's towers are left
    in eval mode and frozen (``requires_grad`` False), as every later stage expects.
    """
    config = config or TowerPretrainConfig()
    start_time = time.perf_counter()
    targets = regression_targets(inputs.records, inputs.frame_times, where="tower pretraining")
    train_idx, val_idx = _split(len(inputs), config)
    stats = _standardise(targets, train_idx)
    torch.manual_seed(config.seed)
    d_frame = int(model.config.vision["hidden_size"]) * model.config.visual_grid**2
    heads = TowerHeads(d_frame, int(model.config.audio["d_model"]), config.norm_momentum)
    model.vision_tower.requires_grad_(config.train_vision)
    model.audio_tower.requires_grad_(config.train_audio)
    params = _params(model, heads, config)
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    steps_per_epoch = max(1, math.ceil(len(train_idx) / config.per_device_train_batch_size))
    total = steps_per_epoch * config.num_train_epochs
    epoch0, history = 0, []
    ckpt = Path(checkpoint_dir) / CHECKPOINT if checkpoint_dir is not None else None
    if ckpt is not None and (ckpt / "state.json").is_file():
        epoch0, history = _load_state(ckpt, model, heads, optimizer, config)
    result = TowerPretrainResult(history=history, heads=heads, target_stats=stats)
    frozen_audio = None if config.train_audio else frozen_audio_features(model, inputs, progress=progress)
    bar = progress_bar(
        total=total, initial=epoch0 * steps_per_epoch, desc="tower pretraining", unit="step", disable=not progress
    )
    for epoch in range(epoch0, config.num_train_epochs):
        model.vision_tower.train(config.train_vision)
        model.audio_tower.train(config.train_audio)
        heads.train()
        gen = torch.Generator().manual_seed(config.seed * 1000 + epoch)
        order = train_idx[torch.randperm(len(train_idx), generator=gen).numpy()]
        t0, losses = time.perf_counter(), []
        for k in range(steps_per_epoch):
            step = epoch * steps_per_epoch + k
            for group in optimizer.param_groups:
                group["lr"] = config.learning_rate * one_cycle(step, total, config.pct_start)
            bs = config.per_device_train_batch_size
            idx = torch.as_tensor(order[k * bs : (k + 1) * bs])
            pv = geometric(inputs.pixel_values[idx].float(), config.shift, config.flip, gen)
            pv = photometric(pv, config.augment, gen)
            vis, aud = batch_features(model, inputs, idx, pv, frozen_audio)
            pred = heads(vis, aud)
            if not config.frame_targets:
                pred.pop("frame")
            terms = _loss_terms(pred, targets, stats, idx)
            loss = sum(config.frame_weight * v if key == "frame" else v for key, v in terms.items())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            bar.update()
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        row = {
            "epoch": epoch + 1,
            "train_loss": round(float(np.mean(losses)), 5),
            "seconds": round(time.perf_counter() - t0, 2),
        }
        if len(val_idx):
            r2 = evaluate_regression(model, heads, inputs, targets, stats, val_idx, frozen_audio=frozen_audio)
            row["val_r2_face"] = round(float(np.mean([v for k, v in r2.items() if k.startswith("face.")])), 4)
            row["val_r2_voice"] = round(float(np.mean([v for k, v in r2.items() if k.startswith("voice.")])), 4)
        history.append(row)
        if ckpt is not None:
            _save_state(ckpt, epoch + 1, model, heads, optimizer, stats, history, config)
    bar.close()
    result.history = history
    if len(val_idx):
        result.r2 = evaluate_regression(model, heads, inputs, targets, stats, val_idx, frozen_audio=frozen_audio)
    model.vision_tower.requires_grad_(False).eval()
    model.audio_tower.requires_grad_(False).eval()
    result.seconds = time.perf_counter() - start_time
    return result
