"""Signal-preserving initialisation of the tiny preset's frozen towers (random, not pretrained).

No pretrained tiny SigLIP / Whisper exists offline, and with transformers' default random init
the frozen towers of the tiny preset carried almost no emotion information (linear probe on
SynthEmo ~ chance: the random Whisper conv output had norm ~0.05 against sinusoidal positions
of norm ~4, and a random patch embedding mixes pixels without structure). This init keeps the
same transformers classes and the seeded random attention / MLP weights, and fixes the
input stages to deterministic, information-preserving filters:

* SigLIP patch embedding: the first ``D - 2`` 2-D DCT-II basis functions (zig-zag order) of the
  luminance of each ``p x p`` patch, and two colour-opponent DC channels (R - G, (R + G)/2 - B)
  (a tower wider than ``p*p + 2`` gets all ``p*p`` luminance coefficients, the two DCs, then the
  opponent channels' AC coefficients in zig-zag order, alternating)::

      h_{patch, c} = gain * sum_{x,y} Y(x, y) * cos(pi (2x+1) u_c / 2p) cos(pi (2y+1) v_c / 2p) * a_u a_v

  position embeddings scaled to ``position_scale`` of their random size;
* Whisper ``conv1``: the centre tap holds the first ``D`` DCT-II coefficients over the mel axis
  (cepstral, MFCC-like) plus a bias ``offset`` that keeps GELU in its near-linear range;
  ``conv2``: the centre tap is the identity (stride 2 halves time as usual); sinusoidal positions
  scaled by ``position_scale``;
* both encoders: the residual branches (attention ``out_proj`` and MLP ``fc2``) scaled by
  ``residual_scale``, so each layer adds a small random nonlinear mixing to the content instead
  of replacing it.

Everything here is deterministic given the seeded random init before it (the DCT filters use
no random numbers). The config dicts carry ``r1omni_init = TINY_INIT`` so the feature cache's
tower fingerprint changes with this recipe and a saved model rebuilds the same way.
"""

from __future__ import annotations

import math

import torch
from torch import nn

TINY_INIT = "signal-preserving-v1"
"""Value of the ``r1omni_init`` key in the tiny preset's vision / audio config dicts."""

RESIDUAL_SCALE = 0.1
"""Factor on the residual branches' output projections (attention out_proj, MLP fc2)."""
POSITION_SCALE = 0.1
"""Factor on the position embeddings (SigLIP learned, Whisper sinusoidal)."""
AUDIO_OFFSET = 3.0
"""Bias of Whisper conv1 / conv2: keeps the GELUs near-linear (GELU(x) ~ x for x >~ 2)."""


def dct_matrix(n: int) -> torch.Tensor:
    """(n, n) orthonormal DCT-II matrix: row k = a_k cos(pi (2i+1) k / 2n)."""
    i = torch.arange(n, dtype=torch.float64)
    k = i[:, None]
    m = torch.cos(math.pi * (2 * i[None, :] + 1) * k / (2 * n))
    m[0] *= 1 / math.sqrt(2)
    return (m * math.sqrt(2 / n)).float()


def zigzag(n: int) -> list[tuple[int, int]]:
    """(u, v) frequency pairs of an n x n DCT, lowest total frequency first."""
    return sorted(((u, v) for u in range(n) for v in range(n)), key=lambda uv: (uv[0] + uv[1], uv[0]))


def _scale_residual_branches(layers, out_names: tuple[str, str], scale: float) -> None:
    for layer in layers:
        for name in out_names:
            module = layer.get_submodule(name)
            module.weight.mul_(scale)
            if module.bias is not None:
                module.bias.mul_(scale)


@torch.no_grad()
def init_vision_tower(tower: nn.Module) -> None:
    """DCT patch embedding, small positions, damped residual branches (see module docstring)."""
    emb = tower.embeddings
    conv = emb.patch_embedding  # Conv2d(3, D, p, p)
    d, _, p, _ = conv.weight.shape
    if d < 3 or d > 3 * p * p:
        raise ValueError(f"tiny_init: vision hidden_size {d} must be in [3, 3 * patch_size**2]")
    c = dct_matrix(p)
    weight = torch.zeros_like(conv.weight)
    luminance = torch.tensor([0.299, 0.587, 0.114])
    opponent = (torch.tensor([1.0, -1.0, 0.0]), torch.tensor([0.5, 0.5, -1.0]))
    n_lum = min(d - 2, p * p)
    for j, (u, v) in enumerate(zigzag(p)[:n_lum]):
        weight[j] = luminance[:, None, None] * torch.outer(c[u], c[v])  # (p, p) basis, unit norm
    weight[n_lum] = opponent[0][:, None, None] / p
    weight[n_lum + 1] = opponent[1][:, None, None] / p
    # a wider tower (d > p*p + 2) also gets the colour-opponent channels' AC coefficients
    extra = [(axis, uv) for uv in zigzag(p)[1:] for axis in opponent]
    for j, (axis, (u, v)) in enumerate(extra[: d - n_lum - 2]):
        weight[n_lum + 2 + j] = axis[:, None, None] * torch.outer(c[u], c[v]) / axis.norm()
    conv.weight.copy_(weight)
    conv.bias.zero_()
    emb.position_embedding.weight.mul_(POSITION_SCALE)
    _scale_residual_branches(tower.encoder.layers, ("self_attn.out_proj", "mlp.fc2"), RESIDUAL_SCALE)


@torch.no_grad()
def init_audio_tower(tower: nn.Module) -> None:
    """Cepstral conv1, identity conv2, small positions, damped residual branches."""
    d, n_mels, k1 = tower.conv1.weight.shape
    if d > n_mels:
        raise ValueError(f"tiny_init: audio d_model {d} must be <= num_mel_bins {n_mels}")
    w1 = torch.zeros_like(tower.conv1.weight)
    w1[:, :, k1 // 2] = dct_matrix(n_mels)[:d]  # (D, n_mels): cepstrum of each mel frame
    tower.conv1.weight.copy_(w1)
    tower.conv1.bias.fill_(AUDIO_OFFSET)
    w2 = torch.zeros_like(tower.conv2.weight)  # (D, D, 3)
    w2[:, :, w2.shape[-1] // 2] = torch.eye(d)
    tower.conv2.weight.copy_(w2)
    tower.conv2.bias.zero_()
    tower.embed_positions.weight.mul_(POSITION_SCALE)
    _scale_residual_branches(tower.layers, ("self_attn.out_proj", "fc2"), RESIDUAL_SCALE)
