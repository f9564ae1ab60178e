"""The emotion task's verifiable rewards, in trl's form ``f(completions, **kwargs) -> list[float]``.

A completion is a string or a chat message list (``[{"role": "assistant", "content": ...}]``);
dataset columns arrive as keyword arguments (the label column is ``label``, SynthEmo's cue
annotations are ``cues``). R1-Omni's total reward is ``accuracy + format`` (max 2).

Design rules, each closing a reward-hacking hole reported on R1-Omni, open-r1 and trl:

* Total functions: they never raise, whatever they are given (None, ints, nested junk,
  megabytes of text); anything that is not text scores 0.0.
* Linear time: no regular expressions; tags are located with ``str.count`` / ``str.find``
  on an ASCII-lower-cased copy (same length as the original, so indices agree).
* Accuracy reads exactly one ``<answer>`` block (tags matched case-insensitively) and never
  falls back to the whole completion (R1-Omni does); the block must name exactly one label,
  so "angry or sad", "the emotion is angry" and "not angry" all score 0.0.
* Each reward has a ``*_parts`` companion returning the intermediate facts as a dict, for
  logging tables and the reward playground (:mod:`r1omni.viz.rewards`).

``parse_answer`` and ``normalize_label`` are shared with evaluation, so a prediction counts
as correct in evaluation exactly when ``accuracy_reward`` would pay for it.
"""

from __future__ import annotations

import string
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from r1omni.settings import ANSWER_CLOSE, ANSWER_OPEN, LABEL_VOCAB, THINK_CLOSE, THINK_OPEN

RewardFunc = Callable[..., list[float]]

_VOCAB = LABEL_VOCAB
_MAX_TERM_CHARS = max(len(term) for term in _VOCAB)
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


# ----------------------------------------------------------------------------- text helpers
def completion_text(completion: Any) -> str | None:
    """The text of one completion: a str, or the content of a chat message list; else None.

    For a message list the last assistant message is used (a message without a role counts as
    assistant); its content may be a str or a list of ``{"type": "text", "text": ...}`` parts.

    >>> completion_text("<answer>sad</answer>")
    '<answer>sad</answer>'
    >>> completion_text([{"role": "assistant", "content": "<answer>sad</answer>"}])
    '<answer>sad</answer>'
    >>> completion_text([{"role": "assistant", "content": [{"type": "text", "text": "hi"}]}])
    'hi'
    >>> completion_text(None) is None, completion_text(42) is None, completion_text([[1]]) is None
    (True, True, True)
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return _content_text(completion.get("content"))
    if isinstance(completion, (list, tuple)):
        for message in reversed(completion):
            if isinstance(message, dict) and message.get("role", "assistant") == "assistant":
                return _content_text(message.get("content"))
    return None


def _content_text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        parts = [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return "".join(parts) if parts else None
    return None


def _ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only, so that indices in the result match ``text``."""
    return text.translate(_ASCII_LOWER)


def single_block(text: Any, open_tag: str, close_tag: str) -> str | None:
    """Content of the one ``open_tag ... close_tag`` block in ``text``, else None.

    None when ``text`` is not a str, or when either tag (matched case-insensitively) occurs
    other than exactly once, or the close tag comes first. Linear time.

    >>> single_block("<answer> sad </answer>", "<answer>", "</answer>")
    ' sad '
    >>> single_block("<answer>a</answer><answer>b</answer>", "<answer>", "</answer>") is None
    True
    >>> single_block("</answer>sad<answer>", "<answer>", "</answer>") is None
    True
    """
    if not isinstance(text, str):
        return None
    low = _ascii_lower(text)
    if low.count(open_tag) != 1 or low.count(close_tag) != 1:
        return None
    start, end = low.find(open_tag) + len(open_tag), low.find(close_tag)
    return text[start:end] if start <= end else None


def _strip_punct(text: str) -> str:
    """Strip whitespace and Unicode punctuation/symbols from both ends."""

    def is_junk(ch: str) -> bool:
        return ch.isspace() or unicodedata.category(ch)[0] in "PS"

    start, end = 0, len(text)
    while start < end and is_junk(text[start]):
        start += 1
    while end > start and is_junk(text[end - 1]):
        end -= 1
    return text[start:end]


def normalize_label(text: Any) -> str | None:
    """The canonical label that ``text`` names on its own, else None.

    Case, surrounding whitespace and surrounding punctuation are ignored; the rest must be one
    known label or one synonym from :data:`r1omni.settings.SYNONYMS`. Anything else (two labels, a sentence,
    a negation, an unknown word, a non-string) is None, and so is any text longer than four
    times the longest known term after stripping whitespace (checked first, so megabytes
    cost one strip).

    >>> normalize_label("  Angry! "), normalize_label("Fearful"), normalize_label('"joy".')
    ('angry', 'fear', 'happy')
    >>> normalize_label("calm")
    'calm'
    >>> [normalize_label(t) for t in ("angry or sad", "not angry", "the emotion is angry", "bored", 3)]
    [None, None, None, None, None]
    """
    if not isinstance(text, str):
        return None
    stripped = text.strip()
    if len(stripped) > 4 * _MAX_TERM_CHARS:
        return None
    return _VOCAB.get(_strip_punct(stripped).casefold())


def parse_answer(completion: Any) -> str | None:
    """The normalised label named by the one ``<answer>`` block of a completion, else None.

    Shared with evaluation: an unparseable answer (no block, two blocks, not exactly one
    label) is None and counts as wrong.

    >>> parse_answer("<think>frown</think><answer>Sadness.</answer>")
    'sad'
    >>> parse_answer("sad") is None  # no answer tags: no fallback to the whole text
    True
    >>> parse_answer([{"role": "assistant", "content": "<answer>fear</answer>"}])
    'fear'
    """
    return normalize_label(single_block(completion_text(completion), ANSWER_OPEN, ANSWER_CLOSE))


# ----------------------------------------------------------------------------- format
def format_reward_parts(completion: Any) -> dict[str, Any]:
    """The checks behind :func:`format_reward` for one completion, and the reward.

    The completion, stripped of surrounding whitespace, must be exactly
    ``<think>T</think>`` + optional whitespace + ``<answer>A</answer>`` with T and A not blank,
    the four tags lowercase as written, each present exactly once in the whole text
    (so no tag, in any case, inside either block), and nothing before or after.

    >>> parts = format_reward_parts("<think>a frown</think> <answer>sad</answer>")
    >>> parts["reward"], parts["think_nonblank"], parts["answer_nonblank"]
    (1.0, True, True)
    >>> format_reward_parts("<think> </think><answer>sad</answer>")["think_nonblank"]
    False
    """
    text = completion_text(completion)
    parts: dict[str, Any] = {
        "is_text": text is not None,
        "one_of_each_tag": False,
        "starts_with_think": False,
        "think_nonblank": False,
        "only_space_between": False,
        "answer_nonblank": False,
        "ends_with_answer": False,
    }
    if text is not None:
        text = text.strip()
        low = _ascii_lower(text)
        tags = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)
        parts["one_of_each_tag"] = all(low.count(tag) == 1 for tag in tags)
        parts["starts_with_think"] = text.startswith(THINK_OPEN)
        parts["ends_with_answer"] = text.endswith(ANSWER_CLOSE)
        think_end, answer_start = text.find(THINK_CLOSE), text.find(ANSWER_OPEN)
        answer_end = text.find(ANSWER_CLOSE)
        if parts["one_of_each_tag"] and len(THINK_OPEN) <= think_end < answer_start < answer_end:
            between = text[think_end + len(THINK_CLOSE) : answer_start]
            parts["think_nonblank"] = bool(text[len(THINK_OPEN) : think_end].strip())
            parts["only_space_between"] = not between.strip()
            parts["answer_nonblank"] = bool(text[answer_start + len(ANSWER_OPEN) : answer_end].strip())
    parts["reward"] = float(all(v for k, v in parts.items()))
    return parts


def format_reward(completions: Any, **kwargs: Any) -> list[float]:
    """1.0 per completion that is exactly ``<think>T</think>\\s*<answer>A</answer>``, else 0.0.

    See :func:`format_reward_parts` for the exact checks (stricter than R1-Omni's regex
    ``<think>.*?</think>\\s*<answer>.*?</answer>``: blocks must be non-blank, tags unique).

    >>> format_reward(["<think>eyes wide</think>\\n<answer>surprise</answer>",
    ...                "<think>x</think><answer>a</answer><answer>b</answer>",
    ...                "<THINK>x</THINK><ANSWER>sad</ANSWER>", None])
    [1.0, 0.0, 0.0, 0.0]
    """
    return [format_reward_parts(c)["reward"] for c in _as_list(completions)]


# ----------------------------------------------------------------------------- accuracy
def accuracy_reward_parts(completion: Any, label: Any) -> dict[str, Any]:
    """The facts behind :func:`accuracy_reward` for one completion and its label.

    >>> p = accuracy_reward_parts("<answer> Anger. </answer>", "angry")
    >>> p["answer_text"], p["predicted"], p["label"], p["reward"]
    (' Anger. ', 'angry', 'angry', 1.0)
    """
    text = completion_text(completion)
    answer = single_block(text, ANSWER_OPEN, ANSWER_CLOSE)
    predicted = normalize_label(answer)
    target = normalize_label(label)
    return {
        "is_text": text is not None,
        "answer_blocks": _ascii_lower(text).count(ANSWER_OPEN) if text is not None else 0,
        "answer_text": answer[:200] if answer is not None else None,
        "predicted": predicted,
        "label": target,
        "reward": float(predicted is not None and predicted == target),
    }


def accuracy_reward(completions: Any, label: Any = None, **kwargs: Any) -> list[float]:
    """1.0 per completion whose one ``<answer>`` block names exactly its label, else 0.0.

    ``label`` is the dataset column (one label per completion); a single string is used for
    every completion. Both sides go through :func:`normalize_label`. Independent of the
    format, as in the paper. A missing or misaligned label column gives 0.0 everywhere and a
    warning (it never raises).

    >>> accuracy_reward(["<answer>Angry</answer>", "<answer>angry or sad</answer>",
    ...                  "<answer>not angry</answer>", "angry",
    ...                  "<answer>angry</answer><answer>angry</answer>"], label=["angry"] * 5)
    [1.0, 0.0, 0.0, 0.0, 0.0]
    """
    completions = _as_list(completions)
    labels = _column(label, len(completions), "label", "accuracy_reward")
    return [accuracy_reward_parts(c, y)["reward"] for c, y in zip(completions, labels)]


# ----------------------------------------------------------------------------- grounding
def grounding_reward_parts(completion: Any, cues: Any) -> dict[str, Any]:
    """The facts behind :func:`grounding_reward` for one completion and its clip's ``cues``.

    ``mentioned``: cue ids that ``r1omni.data.synth.cues.find_cue_mentions`` finds in the one
    ``<think>`` block (duplicates removed, first mention first); ``present``: the clip's
    ``cues["present"]``; ``supported`` / ``unsupported``: mentioned cues that are / are not
    really in the clip (the latter are hallucinated evidence).

    >>> p = grounding_reward_parts("<think>A smile and a raised voice.</think><answer>happy</answer>",
    ...                            {"present": ["smile", "high_pitch"]})
    >>> p["mentioned"], p["supported"], p["unsupported"], p["reward"]
    (['smile', 'loud_voice'], ['smile'], ['loud_voice'], 0.5)
    """
    think = single_block(completion_text(completion), THINK_OPEN, THINK_CLOSE)
    present_raw = cues.get("present") if isinstance(cues, dict) else None
    present = None
    if isinstance(present_raw, (list, tuple)):
        present = [c for c in present_raw if isinstance(c, str)]
    mentioned: list[str] = []
    if think is not None and present is not None:
        from r1omni.data.synth.cues import find_cue_mentions  # SynthEmo only: imported on use

        mentioned = list(dict.fromkeys(find_cue_mentions(think)))
    supported = [c for c in mentioned if c in set(present or ())]
    return {
        "has_think": think is not None,
        "has_cues": present is not None,
        "mentioned": mentioned,
        "present": present,
        "supported": supported,
        "unsupported": [c for c in mentioned if c not in supported],
        "reward": len(supported) / len(mentioned) if mentioned else 0.0,
    }


def grounding_reward(completions: Any, cues: Any = None, **kwargs: Any) -> list[float]:
    """Fraction of the cues named in ``<think>`` that are really present in the clip (SynthEmo).

    ``reward = |mentioned & present| / |mentioned|``, 0.0 when nothing is mentioned, when
    there is not exactly one ``<think>`` block, or when the sample has no ``cues["present"]``
    (non-SynthEmo data). It rewards precision of the stated evidence, not recall: naming one
    true cue scores 1.0, naming one true and one absent cue 0.5. Optional and off by default
    (not in :data:`r1omni.rewards.DEFAULT_REWARDS`); used by the attribution study. See
    :func:`grounding_reward_parts`.

    >>> grounding_reward(["<think>wide open eyes, open mouth</think><answer>surprise</answer>",
    ...                   "<think>nothing to see</think><answer>surprise</answer>",
    ...                   "<think>wide open eyes</think><answer>surprise</answer>"],
    ...                  cues=[{"present": ["wide_eyes", "open_mouth"]}] * 2 + [None])
    [1.0, 0.0, 0.0]
    """
    completions = _as_list(completions)
    cue_column = _column(cues, len(completions), "cues", "grounding_reward", broadcast_type=dict)
    return [grounding_reward_parts(c, q)["reward"] for c, q in zip(completions, cue_column)]


# ----------------------------------------------------------------------------- all of them
def reward_parts(completion: Any, label: Any = None, cues: Any = None) -> dict[str, dict[str, Any]]:
    """Every reward's parts for one completion, keyed by function name (for logs and widgets).

    ``grounding_reward`` is included only when ``cues`` is given.

    >>> parts = reward_parts("<think>tears</think><answer>sad</answer>", label="sadness")
    >>> {name: p["reward"] for name, p in parts.items()}
    {'format_reward': 1.0, 'accuracy_reward': 1.0}
    """
    parts = {
        "format_reward": format_reward_parts(completion),
        "accuracy_reward": accuracy_reward_parts(completion, label),
    }
    if cues is not None:
        parts["grounding_reward"] = grounding_reward_parts(completion, cues)
    return parts


# ----------------------------------------------------------------------------- helpers
def _as_list(completions: Any) -> list[Any]:
    """trl passes a list; a lone completion or anything else becomes a list of one."""
    if isinstance(completions, (list, tuple)) and not _is_message_list(completions):
        return list(completions)
    return [completions]


def _is_message_list(value: Sequence[Any]) -> bool:
    return len(value) > 0 and all(isinstance(m, dict) for m in value)


def _column(values: Any, n: int, name: str, func: str, broadcast_type: type = str) -> list[Any]:
    """A dataset column as a list of ``n`` values; a lone value is broadcast."""
    if isinstance(values, broadcast_type):
        return [values] * n
    if isinstance(values, (list, tuple)) and len(values) == n:
        return list(values)
    warnings.warn(
        f"{func}: column {name!r} must hold one value per completion ({n}); got "
        f"{type(values).__name__}{f' of length {len(values)}' if isinstance(values, (list, tuple)) else ''}"
        "; scoring 0.0",
        stacklevel=3,
    )
    return [None] * n
