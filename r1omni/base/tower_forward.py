"""The towers' forward pass as tower pretraining sees it: the pooled features the projectors and the
probe read (:func:`r1omni.base.probe.pooled_features`), with gradients to the towers, and the
features of a frozen audio tower computed once for every clip."""

from __future__ import annotations

import torch
from torch import nn

from r1omni.base.probe import TowerInputs, pool_audio, pool_vision
from r1omni.progress import progress_bar


def vision_layer_features(tower: nn.Module, pixel_values: torch.Tensor, layer: int) -> torch.Tensor:
    """(N, T, 3, S, S) -> (N, T, g*g, Dv): hidden state ``layer`` of a SigLIP vision tower,
    running only the layers it needs (equal to :func:`r1omni.model.towers.vision_features`)."""
    n, t = pixel_values.shape[:2]
    layers = tower.encoder.layers
    index = layer if layer >= 0 else len(layers) + 1 + layer  # hidden_states[0] = embeddings
    if not 0 <= index <= len(layers):
        raise ValueError(f"vision_feature_layer {layer} is out of range for {len(layers)} layers")
    h = tower.embeddings(pixel_values.flatten(0, 1))
    for block in layers[:index]:
        h = block(h, None)
    return h.reshape(n, t, *h.shape[1:])


def pooled_tower_features(model, pixel_values: torch.Tensor | None, input_features: torch.Tensor | None):
    """(vis (N, T, k*k*Dv) or None, aud (N, S', Da) or None), with gradients to the towers."""
    cfg = model.config
    vis = aud = None
    if pixel_values is not None:
        v = vision_layer_features(model.vision_tower, pixel_values, cfg.vision_feature_layer)
        vis = pool_vision(v, cfg.patch_grid, cfg.visual_grid)
    if input_features is not None:
        aud = pool_audio(model.audio_tower(input_features=input_features).last_hidden_state, cfg.audio_pool)
    return vis, aud


@torch.no_grad()
def frozen_audio_features(model, inputs: TowerInputs, batch_size: int = 32, progress: bool = True) -> torch.Tensor:
    """(N, S', Da) pooled audio features of every clip, computed once: a tower that is not trained
    (``train_audio=False``, e.g. the smol preset's pretrained Whisper) gives the same features in
    every epoch, so they are not recomputed per step."""
    was = model.audio_tower.training
    model.audio_tower.eval()
    out = []
    for start in progress_bar(
        range(0, len(inputs), batch_size), desc="frozen audio tower", unit="batch", disable=not progress
    ):
        out.append(pooled_tower_features(model, None, inputs.input_features[start : start + batch_size])[1])
    model.audio_tower.train(was)
    return torch.cat(out)


def batch_features(model, inputs: TowerInputs, idx: torch.Tensor, pixel_values, frozen_audio):
    """Pooled features of the clips ``idx``; the audio ones from ``frozen_audio`` when given."""
    if frozen_audio is None:
        return pooled_tower_features(model, pixel_values, inputs.input_features[idx])
    return pooled_tower_features(model, pixel_values, None)[0], frozen_audio[idx]
