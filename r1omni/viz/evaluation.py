"""Plots for notebook 03 (evaluation): confusion matrices, per-class recall, in- vs out-of-distribution.

Inputs are :func:`r1omni.evaluate.summarize_predictions` dicts; every function returns a matplotlib figure.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd


def save_figure(fig, directory: str | os.PathLike, name: str, *, dpi: int = 110) -> Path:
    """Save ``fig`` as ``directory/name.png`` (atomically) and return the path."""
    from io import BytesIO

    from r1omni.io import atomic_write_bytes

    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return atomic_write_bytes(Path(directory) / f"{name}.png", buf.getvalue())


def confusion_frame(summary: Mapping, *, normalize: bool = True) -> pd.DataFrame:
    """The confusion matrix of a summary as a DataFrame (rows true, columns predicted),
    row-normalised to recall when ``normalize``; all-zero columns for (other)/(unparseable)
    are dropped."""
    mat = pd.DataFrame(summary["confusion"]).T.fillna(0)
    mat = mat.loc[:, (mat.sum(axis=0) > 0) | ~mat.columns.str.startswith("(")]
    if normalize:
        rows = mat.sum(axis=1).replace(0, np.nan)
        mat = mat.div(rows, axis=0)
    return mat


def plot_confusions(summaries: Mapping[str, Mapping], *, normalize: bool = True, ncols: int = 2):
    """One seaborn heatmap per model (title: name, WAR, UAR)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    names = list(summaries)
    ncols = min(ncols, len(names))
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 4.4 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        s = summaries[name]
        mat = confusion_frame(s, normalize=normalize)
        sns.heatmap(
            mat,
            ax=ax,
            annot=True,
            fmt=".2f" if normalize else "d",
            cmap="Blues",
            vmin=0,
            vmax=1 if normalize else None,
            cbar=False,
            annot_kws={"size": 7},
        )
        ax.set(title=f"{name}: WAR {100 * s['war']:.1f}, UAR {100 * s['uar']:.1f}", xlabel="predicted", ylabel="true")
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_per_class_recall(summaries: Mapping[str, Mapping]):
    """Grouped bars: recall per class (x), one colour per model."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    rows = [
        {"model": m, "class": c, "recall": 100 * r}
        for m, s in summaries.items()
        for c, r in s["per_class_recall"].items()
    ]
    fig, ax = plt.subplots(figsize=(9, 3.5))
    sns.barplot(data=pd.DataFrame(rows), x="class", y="recall", hue="model", ax=ax)
    ax.set(ylabel="recall (%)", ylim=(0, 100), title="per-class recall")
    fig.tight_layout()
    return fig


def plot_splits(
    results: Mapping[str, Mapping[str, Mapping]],
    *,
    splits: Sequence[str] | None = None,
    metrics: Sequence[str] = ("war", "uar"),
):
    """WAR and UAR with 95% bootstrap intervals per model, one bar per split
    (in-distribution ``test`` vs out-of-distribution ``ood``)."""
    import matplotlib.pyplot as plt

    splits = list(splits or dict.fromkeys(s for per in results.values() for s in per))
    models = list(results)
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
    width = 0.8 / max(len(splits), 1)
    x = np.arange(len(models))
    for ax, metric in zip(axes[0], metrics):
        for j, split in enumerate(splits):
            vals = [100 * results[m][split][metric] if split in results[m] else np.nan for m in models]
            lo = [100 * results[m][split][f"{metric}_ci"][0] if split in results[m] else np.nan for m in models]
            hi = [100 * results[m][split][f"{metric}_ci"][1] if split in results[m] else np.nan for m in models]
            err = np.array([np.subtract(vals, lo), np.subtract(hi, vals)])
            ax.bar(x + (j - (len(splits) - 1) / 2) * width, vals, width, yerr=err, capsize=3, label=split)
        ax.set(
            xticks=x,
            xticklabels=models,
            ylabel=f"{metric.upper()} (%)",
            ylim=(0, 100),
            title=f"{metric.upper()} by split (95% bootstrap CI)",
        )
        ax.legend(title="split")
    fig.tight_layout()
    return fig


def plot_pass_at_k(results: Mapping[str, Mapping[str, Mapping]], *, splits: Sequence[str] | None = None):
    """pass@k against k (log 2 axis) per model, one panel per split, with 95% bootstrap bands over clips
    (``r1omni.evaluate.pass_at_k_summary`` results)."""
    import matplotlib.pyplot as plt

    splits = list(splits or dict.fromkeys(s for per in results.values() for s in per))
    fig, axes = plt.subplots(1, len(splits), figsize=(5 * len(splits), 3.6), squeeze=False)
    for ax, split in zip(axes[0], splits):
        for i, (model, per) in enumerate(results.items()):
            if split not in per:
                continue
            ks = [int(k) for k in per[split]["pass_at_k"]]
            vals = [100 * per[split]["pass_at_k"][str(k)] for k in ks]
            lo = [100 * per[split]["pass_at_k_ci"][str(k)][0] for k in ks]
            hi = [100 * per[split]["pass_at_k_ci"][str(k)][1] for k in ks]
            ax.plot(ks, vals, marker="o", color=f"C{i}", label=model)
            ax.fill_between(ks, lo, hi, color=f"C{i}", alpha=0.15)
        ax.set_xscale("log", base=2)
        ax.set(title=f"pass@k on {split} (temperature 1)", xlabel="k", ylabel="pass@k (%)", ylim=(0, 100))
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
