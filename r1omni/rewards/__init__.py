"""Verifiable rewards for RLVR, in trl's form ``f(completions, **kwargs) -> list[float]``.

- :mod:`r1omni.rewards.emotion`: the emotion task's rewards (format, accuracy, grounding), the
  answer parser shared with evaluation, and each reward's ``*_parts`` facts.
- :mod:`r1omni.rewards.hacks`: deliberately lenient versions, for the reward-hacking exercise.
- Here: the registry by name, and :func:`get_reward_funcs`, the one resolver the trainers use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

from r1omni.rewards.emotion import (
    RewardFunc,
    accuracy_reward,
    accuracy_reward_parts,
    completion_text,
    format_reward,
    format_reward_parts,
    grounding_reward,
    grounding_reward_parts,
    normalize_label,
    parse_answer,
    reward_parts,
    single_block,
)
from r1omni.settings import KNOWN_LABELS, SYNONYMS

#: Reward functions by name (trl logs them by ``__name__``).
REWARD_FUNCS: dict[str, RewardFunc] = {
    "accuracy": accuracy_reward,
    "format": format_reward,
    "grounding": grounding_reward,
}
#: R1-Omni's rewards: total = accuracy + format.
DEFAULT_REWARDS: tuple[str, ...] = ("accuracy", "format")

RewardSpec = str | Callable[..., list[float]]


def reward_name(spec: RewardSpec) -> str:
    """The name a reward is logged under: a registry name as is, ``"module:function"`` as its
    function name, a callable as its ``__name__``.

    >>> reward_name("accuracy"), reward_name("r1omni.rewards.hacks:substring_accuracy_reward")
    ('accuracy', 'substring_accuracy_reward')
    """
    if isinstance(spec, str):
        return spec.rsplit(":", 1)[-1].strip()
    return getattr(spec, "__name__", type(spec).__name__)


def get_reward_funcs(specs: str | Iterable[RewardSpec] = DEFAULT_REWARDS) -> list[RewardFunc]:
    """Reward functions, in order, from registry names, ``"module:function"`` strings or callables;
    a comma-separated string also works.

    >>> [f.__name__ for f in get_reward_funcs("accuracy,format")]
    ['accuracy_reward', 'format_reward']
    >>> get_reward_funcs(["r1omni.rewards.hacks:tag_presence_format_reward"])[0].__name__
    'tag_presence_format_reward'
    >>> get_reward_funcs(["speed"])
    Traceback (most recent call last):
    ...
    ValueError: unknown reward 'speed'; expected names from ['accuracy', 'format', 'grounding'] or 'module:function'
    """
    if isinstance(specs, str):
        specs = [n.strip() for n in specs.split(",") if n.strip()]
    funcs = []
    for spec in specs:
        if callable(spec):
            funcs.append(spec)
        elif isinstance(spec, str) and ":" in spec:
            module, attr = (part.strip() for part in spec.split(":", 1))
            try:
                func = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as err:
                raise ValueError(f"reward {spec!r}: cannot import it ({err})") from None
            if not callable(func):
                raise ValueError(f"reward {spec!r} is not callable")
            funcs.append(func)
        elif spec in REWARD_FUNCS:
            funcs.append(REWARD_FUNCS[spec])
        else:
            raise ValueError(
                f"unknown reward {spec!r}; expected names from {sorted(REWARD_FUNCS)} or 'module:function'"
            )
    return funcs


__all__ = [
    "DEFAULT_REWARDS",
    "KNOWN_LABELS",
    "REWARD_FUNCS",
    "SYNONYMS",
    "RewardFunc",
    "RewardSpec",
    "accuracy_reward",
    "accuracy_reward_parts",
    "completion_text",
    "format_reward",
    "format_reward_parts",
    "get_reward_funcs",
    "grounding_reward",
    "grounding_reward_parts",
    "normalize_label",
    "parse_answer",
    "reward_name",
    "reward_parts",
    "single_block",
]
