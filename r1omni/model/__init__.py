"""The omni model: SigLIP + Whisper towers (frozen), projectors and a transformers causal LM.

Public API (contract in the project's interface notes):

- :class:`OmniModel` (``from_preset``, ``from_pretrained``, ``save_pretrained``, ``forward``,
  ``generate``, ``encode_media``, ``set_trainable``)
- :class:`OmniProcessor` (``__call__(clips, modalities=, question=, targets=)`` -> :class:`OmniBatch`,
  ``batch_decode``, ``tokenizer``)
- :func:`repeat_batch`, :class:`GenerationResult`, :class:`FeatureCache`
- :func:`save_policy` / :func:`load_policy` (atomic directory), :func:`load_preset`, :func:`load_initial_policy`,
  :func:`policy_preset` / :func:`resolve_model_preset` (which preset a policy was built from)
- :class:`OmniConfig`, :class:`HumanOmniPaths`, ``PRESETS``

Additions beyond the contract (all optional): ``generate(..., generator=)`` for seeded sampling,
``forward(..., logits_to_keep=)`` (passed to the LM), ``from_preset(..., paths=)`` for the
``humanomni-0.5b`` directories (or another ``smol`` install folder) and OmniConfig overrides
(``num_frames``, ``visual_grid``, ``audio_chunk_seconds``, ...).
"""

from r1omni.model.batch import OmniBatch, completion_mask_from_eos, position_ids_from_mask, repeat_batch
from r1omni.model.cache import FeatureCache
from r1omni.model.config import PRESETS, HumanOmniPaths, OmniConfig
from r1omni.model.generate import GenerationResult
from r1omni.model.omni import OmniModel
from r1omni.model.policy_io import (
    load_initial_policy,
    load_policy,
    load_preset,
    policy_preset,
    resolve_model_preset,
    save_policy,
)
from r1omni.model.processor import OmniProcessor

__all__ = [
    "FeatureCache",
    "GenerationResult",
    "HumanOmniPaths",
    "OmniBatch",
    "OmniConfig",
    "OmniModel",
    "OmniProcessor",
    "PRESETS",
    "completion_mask_from_eos",
    "load_initial_policy",
    "load_policy",
    "load_preset",
    "policy_preset",
    "position_ids_from_mask",
    "repeat_batch",
    "resolve_model_preset",
    "save_policy",
]
