"""``OmniBatch``: the model inputs of a batch of clips, and ``repeat_batch`` for GRPO groups.

Keys (B = batch size, L = tokens, T = frames, S = image side; absent keys are simply missing):

==================  ======================  ================================================
input_ids           (B, L) long             left-padded, placeholders expanded
attention_mask      (B, L) long             1 = real token
labels              (B, L) long             only with targets: -100 on prompt and padding
has_video           (B,) bool               sample uses the video modality
has_audio           (B,) bool               sample uses the audio modality
pixel_values        (B, T, 3, S, S) float   zeros where ``has_video`` is False
input_features      (B, n_mels, F) float    Whisper log-mel; zeros where ``has_audio`` is False
video_features      (B, T, g*g, Dv) float   cached tower outputs (replace ``pixel_values``)
audio_features      (B, Sa, Da) float       cached tower outputs (replace ``input_features``)
==================  ======================  ================================================
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

#: Keys that carry media (raw or encoded) rather than tokens.
MEDIA_KEYS: tuple[str, ...] = (
    "has_video",
    "has_audio",
    "pixel_values",
    "input_features",
    "video_features",
    "audio_features",
)


class OmniBatch(dict):
    """A dict of tensors with ``.to(device)`` (like transformers' ``BatchFeature``)."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def to(self, device=None, dtype: torch.dtype | None = None) -> OmniBatch:
        """Move every tensor; ``dtype`` applies to floating tensors only."""
        out = OmniBatch()
        for key, value in self.items():
            if isinstance(value, torch.Tensor):
                value = value.to(device=device, dtype=dtype if value.is_floating_point() else None)
            out[key] = value
        return out

    @property
    def batch_size(self) -> int:
        return int(self["input_ids"].shape[0])

    def media(self) -> OmniBatch:
        """Only the media keys (``model(input_ids=..., attention_mask=..., **batch.media())``)."""
        return OmniBatch({k: v for k, v in self.items() if k in MEDIA_KEYS})


def repeat_batch(batch: dict, n: int) -> OmniBatch:
    """Repeat every sample ``n`` times in place order (a, a, b, b, ...), as GRPO groups need.

    >>> b = repeat_batch(OmniBatch(input_ids=torch.tensor([[1], [2]])), 2)
    >>> b["input_ids"].flatten().tolist()
    [1, 1, 2, 2]
    """
    if n < 1:
        raise ValueError(f"repeat_batch: n must be >= 1, got {n}")
    return OmniBatch(
        {k: (v.repeat_interleave(n, dim=0) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
    )


def position_ids_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, L) 0/1 mask -> (B, L) positions counting only real tokens (pads get 0), so left padding
    never shifts a sample's positions.

    >>> position_ids_from_mask(torch.tensor([[0, 0, 1, 1, 1]])).tolist()
    [[0, 0, 0, 1, 2]]
    """
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def completion_mask_from_eos(completion_ids: torch.Tensor, eos_token_id: int | Sequence[int]) -> torch.Tensor:
    """1 up to and including the first eos of each row, 0 after. (N, C) -> (N, C) long.

    >>> completion_mask_from_eos(torch.tensor([[5, 2, 7], [5, 6, 7]]), 2).tolist()
    [[1, 1, 0], [1, 1, 1]]
    >>> completion_mask_from_eos(torch.tensor([[5, 3, 2]]), [2, 3]).tolist()
    [[1, 1, 0]]
    """
    eos_ids = torch.tensor([eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id))
    is_eos = torch.isin(completion_ids, eos_ids.to(completion_ids.device)).long()  # (N, C)
    seen_before = is_eos.cumsum(dim=1) - is_eos  # eos strictly earlier
    return (seen_before == 0).long()
