"""Plots for notebook 04 (modality attribution): ablation, conflict probes, gradient shares, grounding.

Each function takes ``{checkpoint: result}`` dicts as produced by :mod:`r1omni.attribution`
and returns a matplotlib figure.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from r1omni.attribution import FOLLOWS, GROUPS, MODALITY_NAMES


def plot_ablation(ablations: Mapping[str, Mapping[str, Mapping]]):
    """WAR (left) and UAR (right) per modality subset, one colour per checkpoint."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    rows = [
        {"checkpoint": name, "input": MODALITY_NAMES.get(s, s), "WAR": 100 * m["war"], "UAR": 100 * m["uar"]}
        for name, per in ablations.items()
        for s, m in per.items()
    ]
    df = pd.DataFrame(rows)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, metric in zip(axes, ("WAR", "UAR")):
        sns.barplot(data=df, x="input", y=metric, hue="checkpoint", ax=ax)
        ax.set(ylabel=f"{metric} (%)", ylim=(0, 100), xlabel="", title=f"{metric} by input modalities")
    fig.tight_layout()
    return fig


def _stacked(ax, table: pd.DataFrame, title: str, ylabel: str) -> None:
    bottom = None
    for col in table.columns:
        ax.bar(table.index, table[col], bottom=bottom, label=col)
        bottom = table[col] if bottom is None else bottom + table[col]
    ax.set(title=title, ylabel=ylabel, ylim=(0, 100))
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1), fontsize=8)


def plot_conflict_follow(conflicts: Mapping[str, pd.DataFrame]):
    """Left: pooled share of conflict answers following face / voice / other / unparseable per
    checkpoint (stacked). Right: share following the face per (face, voice) pair."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    pooled = pd.DataFrame({name: 100 * t.loc[("all", "all"), list(FOLLOWS)] for name, t in conflicts.items()}).T
    per_pair = (
        pd.concat(
            {name: 100 * t.drop(index=("all", "all"))["face"] for name, t in conflicts.items()}, names=["checkpoint"]
        )
        .rename("follows face (%)")
        .reset_index()
    )
    per_pair["pair"] = per_pair.face_label + " / " + per_pair.voice_label
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [1, 2.5]})
    _stacked(ax0, pooled, "conflict clips: answer follows", "% of clips")
    sns.barplot(data=per_pair, x="pair", y="follows face (%)", hue="checkpoint", ax=ax1)
    ax1.set(ylim=(0, 100), xlabel="face label / voice label", title="follows the face, per emotion pair")
    ax1.tick_params(axis="x", rotation=60, labelsize=7)
    fig.tight_layout()
    return fig


def plot_attribution_shares(gradients: Mapping[str, Mapping]):
    """Left: mean share of |attribution| on video / audio / text tokens per checkpoint
    (stacked). Right: the per-clip distribution of each share (box plots)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    mean = pd.DataFrame({name: {g: 100 * r[g] for g in GROUPS} for name, r in gradients.items()}).T
    clips = pd.DataFrame(
        [
            {"checkpoint": name, "tokens": g, "share (%)": 100 * c[g]}
            for name, r in gradients.items()
            for c in r.get("per_clip", [])
            if "skipped" not in c
            for g in GROUPS
        ]
    )
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.6))
    _stacked(ax0, mean, "mean share of the answer's attribution", "% of |attribution|")
    if len(clips):
        sns.boxplot(data=clips, x="tokens", y="share (%)", hue="checkpoint", ax=ax1)
    else:
        ax1.text(0.5, 0.5, "no clip had an <answer> block to attribute", ha="center", va="center")
    ax1.set(ylim=(0, 100), title="per clip")
    fig.tight_layout()
    return fig


GROUNDING_BARS: dict[str, str] = {
    "visual_rate": "names visual cue",
    "audio_rate": "names audio cue",
    "both_rate": "names both",
    "hallucination_rate": "cues hallucinated",
    "cue_recall": "true cues named",
    "agreement_rate": "reasoning agrees with answer",
}


def plot_grounding(groundings: Mapping[str, Mapping]):
    """Grouped bars of the reasoning-grounding rates per checkpoint."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    rows = [
        {"checkpoint": name, "rate": label, "%": 100 * g[key]}
        for name, g in groundings.items()
        for key, label in GROUNDING_BARS.items()
    ]
    fig, ax = plt.subplots(figsize=(10, 3.6))
    sns.barplot(data=pd.DataFrame(rows), x="rate", y="%", hue="checkpoint", ax=ax)
    ax.set(ylim=(0, 100), xlabel="", title="what the <think> text says about the clip's true cues")
    ax.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    return fig
