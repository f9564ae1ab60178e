"""Plots for notebook 01 (cold-start SFT): loss and learning-rate curves."""

from __future__ import annotations

import os
from collections.abc import Mapping

import pandas as pd


def metrics_frame(runs: Mapping[str, str | os.PathLike]) -> pd.DataFrame:
    """One long table of every run's ``metrics.jsonl`` rows, with a ``run`` column.

    ``runs`` maps a display name to a stage directory (or a ``metrics.jsonl`` path).
    """
    from r1omni.train.metrics_log import read_metrics

    frames = []
    for name, path in runs.items():
        rows = read_metrics(path)
        if not rows:
            raise ValueError(f"{path}: metrics file holds no rows")
        frames.append(pd.DataFrame(rows).assign(run=name))
    return pd.concat(frames, ignore_index=True)


def plot_loss(runs: Mapping[str, str | os.PathLike], *, smooth: int = 1):
    """Completion-token loss (left) and learning rate (right) against optimizer step.

    ``smooth`` > 1 adds a rolling mean over that many steps. Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    df = metrics_frame(runs)
    if smooth > 1:
        df["loss"] = df.groupby("run")["loss"].transform(lambda s: s.rolling(smooth, min_periods=1).mean())
    fig, (ax_loss, ax_lr) = plt.subplots(1, 2, figsize=(10, 3.5))
    sns.lineplot(data=df, x="step", y="loss", hue="run", ax=ax_loss)
    ax_loss.set(yscale="log", title="completion-token loss", ylabel="cross-entropy (nats/token)")
    sns.lineplot(data=df, x="step", y="learning_rate", hue="run", ax=ax_lr, legend=False)
    ax_lr.set(title="learning rate")
    fig.tight_layout()
    return fig
