"""The reward playground for notebook 02: type a completion and a label, see each reward and why.

:func:`reward_table` is the pure function behind the widget (one row per check of every
reward, from :func:`r1omni.rewards.reward_parts`); :func:`reward_playground` wraps it in
ipywidgets, recomputing on every keystroke.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import pandas as pd

from r1omni.rewards import DEFAULT_REWARDS, REWARD_FUNCS, reward_parts
from r1omni.settings import MAFW_LABELS, RAVDESS_LABELS

#: Completions that show the reward rules and the hacking holes they close (label: angry).
EXAMPLES: dict[str, str] = {
    "well formed": "<think>Lowered eyebrows and a loud, forceful voice.</think>\n<answer>angry</answer>",
    "synonym": "<think>Lowered eyebrows.</think><answer>Anger.</answer>",
    "no answer tags": "<think>Lowered eyebrows.</think> angry",
    "two labels": "<think>Hard to tell.</think><answer>angry or sad</answer>",
    "a sentence": "<think>Lowered eyebrows.</think><answer>the emotion is angry</answer>",
    "negation": "<think>A smile.</think><answer>not angry</answer>",
    "two answer blocks": "<think>?</think><answer>sad</answer><answer>angry</answer>",
    "blank reasoning": "<think> </think><answer>angry</answer>",
    "hallucinated cue": "<think>A smile and a trembling voice.</think><answer>happy</answer>",
}


def reward_table(completion: Any, label: Any, cues_present: Sequence[str] | None = None) -> pd.DataFrame:
    """Every reward's checks for one completion: columns ``reward``, ``part``, ``value``.

    Rows come from :func:`r1omni.rewards.reward_parts` (the grounding reward only when
    ``cues_present`` is given); each reward ends with its ``reward`` row, and a last row
    holds R1-Omni's total, accuracy + format.

    >>> t = reward_table("<think>tears</think><answer>Sadness</answer>", "sad")
    >>> t[t.part == "reward"].set_index("reward").value.to_dict()
    {'format_reward': 1.0, 'accuracy_reward': 1.0, 'total (accuracy + format)': 2.0}
    """
    cues = None if cues_present is None else {"present": list(cues_present)}
    parts = reward_parts(completion, label=label, cues=cues)
    rows = [
        {"reward": name, "part": part, "value": value}
        for name, checks in parts.items()
        for part, value in checks.items()
        if part != "reward"
    ]
    rows += [{"reward": name, "part": "reward", "value": checks["reward"]} for name, checks in parts.items()]
    rows.sort(key=lambda r: list(parts).index(r["reward"]))  # stable: each reward's rows together
    total = sum(parts[REWARD_FUNCS[n].__name__]["reward"] for n in DEFAULT_REWARDS)
    rows.append({"reward": "total (accuracy + format)", "part": "reward", "value": total})
    return pd.DataFrame(rows, columns=["reward", "part", "value"])


def reward_table_html(table: pd.DataFrame) -> str:
    """An HTML rendering of :func:`reward_table`: reward rows in bold, failed checks in red.

    >>> reward_table_html(reward_table("sad", "sad")).count("color:#b00020")  # no tags: all fail
    9
    """

    def row(r: pd.Series) -> str:
        value = r.value
        failed = value is False or (r.part == "reward" and value == 0)
        style = "font-weight:bold;" if r.part == "reward" else ""
        style += "color:#b00020;" if failed else ""
        shown = f"{value:.3g}" if isinstance(value, float) else html.escape(repr(value))
        return (
            f"<tr style='{style}'><td>{html.escape(r.reward)}</td><td>{html.escape(r.part)}</td><td>{shown}</td></tr>"
        )

    body = "".join(row(r) for _, r in table.iterrows())
    return f"<table><tr><th>reward</th><th>part</th><th>value</th></tr>{body}</table>"


def reward_playground(
    completion: str = EXAMPLES["well formed"],
    label: str = "angry",
    labels: Sequence[str] = tuple(dict.fromkeys(MAFW_LABELS + RAVDESS_LABELS)),
):
    """An ipywidgets box: an example picker, a completion text area, a label box and an
    optional comma-separated list of the clip's present cue ids (enables the grounding
    reward); the table below updates on every change. Returns the widget to display.

    >>> box = reward_playground("<think>x</think><answer>fear</answer>", label="afraid")
    >>> "<td>total (accuracy + format)</td><td>reward</td><td>2</td>" in box.children[-1].value
    True
    >>> menu, text = box.children[0], box.children[1]
    >>> menu.value = "well formed"; text.value = text.value + " edited"; menu.value
    '(typed)'
    >>> menu.value = "well formed"; text.value == EXAMPLES["well formed"]  # the same example again
    True
    """
    import ipywidgets as w

    example = w.Dropdown(options=["(typed)"] + list(EXAMPLES), value="(typed)", description="example")
    text = w.Textarea(value=completion, description="completion", layout=w.Layout(width="95%", height="90px"))
    label_box = w.Combobox(value=label, options=list(labels), description="label", ensure_option=False)
    cues_box = w.Text(value="", description="cues", placeholder="present cue ids, e.g. smile, high_pitch")
    out = w.HTML()

    def refresh(_: Any = None) -> None:
        present = [c.strip() for c in cues_box.value.split(",") if c.strip()] or None
        out.value = reward_table_html(reward_table(text.value, label_box.value, present))

    def pick(change: dict) -> None:
        if change["new"] in EXAMPLES:
            text.value = EXAMPLES[change["new"]]

    def edited(change: dict) -> None:  # a typed change: the menu says so, and any example can be picked again
        if example.value in EXAMPLES and change["new"] != EXAMPLES[example.value]:
            example.value = "(typed)"

    example.observe(pick, names="value")
    text.observe(edited, names="value")
    for widget in (text, label_box, cues_box):
        widget.observe(refresh, names="value")
    refresh()
    return w.VBox([example, text, w.HBox([label_box, cues_box]), out])
