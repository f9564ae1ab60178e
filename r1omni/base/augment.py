"""Frame augmentation for tower pretraining: per-clip photometric and geometric changes, the same
for every frame of a clip, drawn from a seeded generator."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def photometric(pixel_values: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Per-clip brightness, contrast and colour gain on normalised pixels (N, T, 3, S, S).

    ``x' = (x - mu) * c * g + mu + b`` with ``c ~ U(1 - a, 1 + a)``, per-channel ``g ~ U(1 - a/2, 1 + a/2)``,
    ``b ~ U(-a, a)`` and ``mu`` the clip's mean; the same for every frame of a clip.
    """
    if strength <= 0:
        return pixel_values
    n = pixel_values.shape[0]
    shape = (n, 1, 1, 1, 1)
    c = 1 + strength * (2 * torch.rand(shape, generator=generator) - 1)
    g = 1 + 0.5 * strength * (2 * torch.rand((n, 1, 3, 1, 1), generator=generator) - 1)
    b = strength * (2 * torch.rand(shape, generator=generator) - 1)
    mu = pixel_values.mean(dim=(1, 2, 3, 4), keepdim=True)
    return (pixel_values - mu) * c * g + mu + b


def geometric(pixel_values: torch.Tensor, shift: int, flip: bool, generator: torch.Generator) -> torch.Tensor:
    """Per-clip translation by up to ``shift`` px (edges replicated) and left-right mirroring,
    the same for every frame of a clip: (N, T, 3, S, S) -> same shape."""
    if shift <= 0 and not flip:
        return pixel_values
    n, t, c, h, w = pixel_values.shape
    out = torch.empty_like(pixel_values)
    for i in range(n):
        x = pixel_values[i]
        if flip and bool(torch.rand((), generator=generator) < 0.5):
            x = x.flip(-1)
        if shift > 0:
            dy, dx = (int(v) for v in torch.randint(-shift, shift + 1, (2,), generator=generator))
            x = F.pad(x, (shift, shift, shift, shift), mode="replicate")
            x = x[..., shift + dy : shift + dy + h, shift + dx : shift + dx + w]
        out[i] = x
    return out
