"""Plots of notebook 01: tower pretraining, caption scores and the probe. Each returns a figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd


def plot_tower_pretraining(towers: Mapping):
    """Left: training loss and held-out R^2 (face, voice) per epoch; right: held-out R^2 per
    parameter (the ones below 0.5 are what the towers still miss)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, (ax_curve, ax_r2) = plt.subplots(1, 2, figsize=(12, 3.6), gridspec_kw={"width_ratios": [1, 2]})
    history = pd.DataFrame(towers.get("history", []))
    if not history.empty:
        ax_curve.plot(history["epoch"], history["train_loss"], marker="o", label="train loss")
        ax2 = ax_curve.twinx()
        for col, style in (("val_r2_face", "s--"), ("val_r2_voice", "^--")):
            if col in history:
                ax2.plot(history["epoch"], history[col], style, label=col.replace("val_r2_", "R² "))
        ax2.set(ylim=(-0.1, 1.0), ylabel="held-out R²")
        ax2.legend(loc="center right", fontsize=8)
    ax_curve.set(title="tower pretraining", xlabel="epoch", ylabel="loss")
    r2 = pd.Series(towers.get("r2", {}), dtype=float).sort_values()
    if len(r2):
        colors = ["C0" if k.startswith("face") else "C1" for k in r2.index]
        sns.barplot(x=r2.values, y=r2.index, hue=r2.index, palette=colors, legend=False, ax=ax_r2)
        ax_r2.axvline(0.5, color="grey", lw=0.8, ls=":")
    ax_r2.set(title="held-out R² per parameter (face blue, voice orange)", xlabel="R²", xlim=(-0.1, 1.0))
    ax_r2.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    return fig


def plot_caption_f1(scores: Mapping[str, Mapping], cues: Sequence[str] | None = None):
    """F1 of each cue's mention in the captions, per split (cues absent from a split are left out)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    rows = [
        {"split": split, "cue": cue, "f1": prf["f1"], "support": prf["support"]}
        for split, s in scores.items()
        for cue, prf in s["cue"].items()
        if prf["support"] > 0 and (cues is None or cue in cues)
    ]
    frame = pd.DataFrame(rows)
    fig, ax = plt.subplots(figsize=(12, 3.6))
    if not frame.empty:
        sns.barplot(data=frame, x="cue", y="f1", hue="split", ax=ax)
        ax.legend(title="split", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set(ylim=(0, 1), title="caption F1 per cue", xlabel="", ylabel="F1")
    ax.tick_params(axis="x", rotation=60, labelsize=7)
    fig.tight_layout()
    return fig


def plot_probe(rows: Sequence[Mapping]):
    """Probe accuracy on emotion per split and input, for the trained and the random towers, with the
    true-cue bound as a black tick."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    frame = pd.DataFrame(list(rows))
    splits = list(dict.fromkeys(frame["split"]))
    fig, axes = plt.subplots(1, len(splits), figsize=(5 * len(splits), 3.4), squeeze=False)
    for ax, split in zip(axes[0], splits):
        part = frame[frame["split"] == split]
        sns.barplot(data=part, x="inputs", y="accuracy", hue="towers", ax=ax)
        bound = part.drop_duplicates("inputs").set_index("inputs")["cue_accuracy"]
        for i, name in enumerate(dict.fromkeys(part["inputs"])):
            ax.plot([i - 0.4, i + 0.4], [bound[name]] * 2, color="black", lw=2)
        ax.set(ylim=(0, 1), title=f"linear probe on emotion, {split} (black: true-cue bound)", xlabel="")
        ax.legend(title="towers", fontsize=8)
    fig.tight_layout()
    return fig
