"""Deliberately broken rewards, for notebook 02's reward-hacking exercise. Never train with them.

Each re-opens a hole that :mod:`r1omni.rewards` closes, in the form R1-Omni's original code
had it or users reported it:

- :func:`substring_accuracy_reward`: the label anywhere in the completion pays (R1-Omni falls back
  to the whole text when the answer tags are missing; a substring test also pays for
  "angry or sad or happy ..."). A policy learns to list many labels.
- :func:`tag_presence_format_reward`: any ``<answer>`` tag pays; the reasoning is not checked.
  A policy learns to drop ``<think>`` and write the shortest tagged text.
"""

from __future__ import annotations

from typing import Any

from r1omni.rewards.emotion import completion_text


def substring_accuracy_reward(completions: Any, label: Any = None, **kwargs: Any) -> list[float]:
    """1.0 when the label string occurs anywhere in the completion (lower-cased). Hackable.

    >>> substring_accuracy_reward(["happy sad angry fear"], label=["sad"])
    [1.0]
    """
    labels = label if isinstance(label, (list, tuple)) else [label] * len(completions)
    out = []
    for completion, lab in zip(completions, labels):
        text = completion_text(completion)
        out.append(float(bool(text) and isinstance(lab, str) and lab.lower() in text.lower()))
    return out


def tag_presence_format_reward(completions: Any, **kwargs: Any) -> list[float]:
    """1.0 when the completion contains ``<answer>`` and ``</answer>`` anywhere. Hackable.

    >>> tag_presence_format_reward(["<answer></answer>", "<think>x</think>"])
    [1.0, 0.0]
    """
    out = []
    for completion in completions:
        text = completion_text(completion) or ""
        out.append(float("<answer>" in text and "</answer>" in text))
    return out
