"""Modality attribution: which of video, audio and text an answer rests on, measured four ways.

1. **Ablation**: WAR/UAR when the model gets video+audio ("av"), video only ("v"), audio only
   ("a") or neither ("t"); what a modality *carries* is the WAR lost when it is removed.
2. **Conflict probes**: on SynthEmo's ``conflict`` split the face shows one emotion and the
   voice another; how often the answer follows the face label, the voice label, or neither.
3. **Gradient attribution**: the answer's log-probability ``f(x) = log p(answer | x)`` is
   attributed to the input embeddings ``x`` (after the media features are spliced in) by
   gradient x input, ``a_i = sum_d x_{i,d} * df/dx_{i,d}``, or integrated gradients,
   ``a_i = sum_d (x - x')_{i,d} int_0^1 df/dx_{i,d}(x' + t (x - x')) dt`` (zero baseline ``x'``,
   log-spaced trapezoid sum; completeness: ``sum_i a_i ~= f(x) - f(x')``). The share of a
   modality is ``sum_{i in group} |a_i| / sum_i |a_i|`` (shares sum to 1).
4. **Reasoning grounding**: SynthEmo knows each clip's true cues, so the ``<think>`` text is
   checked: does it name visual cues, audio cues, both; are the named cues really present
   (hallucination rate); does the label it concludes agree with the answer.

:func:`compare_checkpoints` puts all four side by side for several checkpoints and
:func:`write_reading` turns the numbers into a paragraph.

Modules: ``ablation``, ``conflict``, ``gradients``, ``grounding`` (one analysis each),
``run`` (all four for one checkpoint: :func:`attribute_checkpoint`), ``compare``
(the side-by-side table, the reading and the README section). Everything public is re-exported here.
"""

from r1omni.attribution.ablation import (
    MODALITY_NAMES,
    MODALITY_SUBSETS,
    ablation_table,
    modality_ablation,
    modality_reliance,
)
from r1omni.attribution.compare import attribution_report, compare_checkpoints, flat_metrics, write_reading
from r1omni.attribution.conflict import FOLLOWS, conflict_follow, conflict_summary, follows
from r1omni.attribution.gradients import (
    GROUPS,
    answer_token_span,
    clip_attribution,
    gradient_attribution,
    gradient_summary,
    gradient_x_input,
    group_shares,
    integrated_gradients,
    integration_nodes,
)
from r1omni.attribution.grounding import (
    answer_agreement,
    grounding_record,
    grounding_summary,
    hedging_summary,
    reasoning_label,
    think_text,
)
from r1omni.attribution.run import AttributionConfig, attribute_checkpoint, attribution_metrics, checkpoint_gradient

__all__ = [
    "FOLLOWS",
    "GROUPS",
    "MODALITY_NAMES",
    "MODALITY_SUBSETS",
    "AttributionConfig",
    "ablation_table",
    "answer_token_span",
    "attribute_checkpoint",
    "checkpoint_gradient",
    "attribution_metrics",
    "attribution_report",
    "clip_attribution",
    "compare_checkpoints",
    "conflict_follow",
    "conflict_summary",
    "flat_metrics",
    "follows",
    "gradient_attribution",
    "gradient_summary",
    "gradient_x_input",
    "grounding_record",
    "grounding_summary",
    "group_shares",
    "integrated_gradients",
    "integration_nodes",
    "modality_ablation",
    "modality_reliance",
    "think_text",
    "write_reading",
    "answer_agreement",
    "hedging_summary",
    "reasoning_label",
]
