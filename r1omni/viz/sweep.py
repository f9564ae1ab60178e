"""Plots of a sweep table (notebook 06_sweep_report).

The table comes from :func:`r1omni.sweep.collect_table`: one row per run with
``param.<name>`` columns (the run's notebook parameters) and flattened
``metrics.<stage>.<...>.<name>`` columns. A *setting* is a combination of the swept
parameters other than the seed; the spread over seeds is the error bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from r1omni.io import read_jsonl
from r1omni.runs import GRPO_STAGE
from r1omni.runs import runs_root as resolve_runs_root

SEED = "param.seed"


def metric_columns(table: pd.DataFrame, name: str) -> list[str]:
    """Numeric ``metrics.*`` columns whose trailing keys are ``name``: ``uar`` matches every
    ``...uar``, ``rlvr.test.uar`` only the RLVR model's test UAR.

    >>> t = pd.DataFrame({"metrics.04_evaluation.results.rlvr.test.uar": [0.5],
    ...                   "metrics.04_evaluation.results.base.test.uar": [0.1],
    ...                   "metrics.04_evaluation.results.rlvr.test.uar_ci": ["[0, 1]"]})
    >>> metric_columns(t, "rlvr.test.uar")
    ['metrics.04_evaluation.results.rlvr.test.uar']
    >>> len(metric_columns(t, "uar"))
    2
    """
    suffix = "." + name.lower()
    return [
        c
        for c in table.columns
        if c.startswith("metrics.") and c.lower().endswith(suffix) and pd.api.types.is_numeric_dtype(table[c])
    ]


def swept_parameters(table: pd.DataFrame, *, include_seed: bool = False) -> list[str]:
    """``param.*`` columns that take more than one value across the runs (seed left out unless asked)."""
    cols = [c for c in table.columns if c.startswith("param.") and table[c].astype(str).nunique() > 1]
    return [c for c in cols if include_seed or c != SEED]


def settings(table: pd.DataFrame) -> pd.Series:
    """A readable label per run naming its swept parameters except the seed, e.g. ``beta=0.04``.

    >>> settings(pd.DataFrame({"param.beta": [0.0, 0.04], "param.seed": [0, 1]})).tolist()
    ['beta=0.0', 'beta=0.04']
    """
    params = swept_parameters(table)
    if not params:
        return pd.Series(["all runs"] * len(table), index=table.index)
    return (
        table[params]
        .astype(str)
        .apply(lambda row: ", ".join(f"{c.removeprefix('param.')}={v}" for c, v in row.items()), axis=1)
    )


def summarize_sweep(table: pd.DataFrame, metrics: Sequence[str] = ("uar", "war")) -> pd.DataFrame:
    """Mean, std and number of runs (seeds) of every final metric column per setting, one row
    per (setting, metric); failed runs are left out.

    >>> t = pd.DataFrame({"status": ["complete"] * 4, "param.beta": [0, 0, 1, 1], "param.seed": [0, 1, 0, 1],
    ...                   "metrics.e.test.uar": [0.2, 0.4, 0.5, 0.5]})
    >>> summarize_sweep(t, ["uar"]).round(3).to_dict("records")[0]
    {'setting': 'beta=0', 'metric': 'e.test.uar', 'mean': 0.3, 'std': 0.141, 'runs': 2}
    """
    cols = [c for m in metrics for c in metric_columns(table, m)]
    if not cols:
        raise ValueError(
            f"no numeric metrics column ends in any of {list(metrics)}; "
            f"columns are: {', '.join(c for c in table.columns if c.startswith('metrics.'))}"
        )
    done = table[table["status"] != "failed"] if "status" in table else table
    long = done.assign(setting=settings(done)).melt(id_vars="setting", value_vars=cols, var_name="metric")
    long["metric"] = long["metric"].str.removeprefix("metrics.")
    out = long.groupby(["setting", "metric"], sort=False)["value"].agg(["mean", "std", "count"])
    return out.rename(columns={"count": "runs"}).reset_index()


def best_two(summary: pd.DataFrame, metric: str | None = None) -> dict | None:
    """The two settings with the highest mean of ``metric`` (the summary's first metric when None)
    in :func:`summarize_sweep`'s table: their names, ``gap`` between the means and ``sd`` (the
    root mean square of their seed standard deviations); None with fewer than two settings or
    without a standard deviation (one seed each).

    >>> t = pd.DataFrame({"setting": ["a", "b", "c"], "metric": ["m"] * 3, "mean": [0.3, 0.5, 0.45],
    ...                   "std": [0.01, 0.03, 0.03], "runs": [3, 3, 3]})
    >>> r = best_two(t); r["settings"], round(r["gap"], 3), round(r["sd"], 3)
    (['b', 'c'], 0.05, 0.03)
    """
    metric = metric or summary["metric"].iloc[0]
    rows = summary[summary["metric"] == metric].sort_values("mean", ascending=False).head(2)
    if len(rows) < 2 or rows["std"].isna().any():
        return None
    return {
        "metric": metric,
        "settings": rows["setting"].tolist(),
        "gap": float(rows["mean"].iloc[0] - rows["mean"].iloc[1]),
        "sd": float(np.sqrt(np.mean(rows["std"].to_numpy() ** 2))),
    }


def seeds_reading(summary: pd.DataFrame, metric: str | None = None) -> str:
    """One sentence from :func:`best_two`: the two best settings' gap ``d``, their seed standard
    deviation ``s`` and the seeds per setting that would separate them
    (:func:`r1omni.evaluate.seeds_to_separate`, ``n > 8 s^2 / d^2``)."""
    from r1omni.evaluate import seeds_to_separate

    gap = best_two(summary, metric)
    if gap is None:
        return "This table has fewer than two settings with several seeds each: there is no gap to test."
    n = seeds_to_separate(gap["gap"], gap["sd"]) if gap["gap"] > 0 else None
    return (
        f"Best two settings by {gap['metric']}: {gap['settings'][0]} and {gap['settings'][1]}, gap d ="
        f" {gap['gap']:.4f}, seed standard deviation s = {gap['sd']:.4f}. The difference of two n-seed means has"
        " standard error s * sqrt(2 / n), so 2 s sqrt(2 / n) < d needs n > 8 s^2 / d^2: "
        + (f"{n} seeds per setting." if n else "never (the means are equal).")
    )


def curve_ends(curves: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean over runs of each setting's first and last logged ``metric`` (from :func:`load_curves`)."""
    if curves.empty:
        return pd.DataFrame(columns=["first", "last"])
    ends = curves.sort_values("step").groupby(["setting", "run_id"])[metric].agg(["first", "last"])
    return ends.groupby("setting").mean()


def plot_metrics_vs_parameters(table: pd.DataFrame, metrics: Sequence[str] = ("uar", "war")):
    """One panel per (final metric column, swept parameter): the mean over seeds with a
    standard-deviation bar, and every run as a dot. Returns the matplotlib figure."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    cols = [c for m in metrics for c in metric_columns(table, m)]
    if not cols:
        raise ValueError(f"no numeric metrics column ends in any of {list(metrics)}")
    params = swept_parameters(table) or ([SEED] if SEED in table else ["run_id"])
    fig, axes = plt.subplots(
        len(cols), len(params), figsize=(3.6 * len(params), 2.6 * len(cols)), squeeze=False, sharey="row"
    )
    for i, col in enumerate(cols):
        for j, param in enumerate(params):
            ax, data = axes[i][j], table.assign(**{param: table[param].astype(str)})
            sns.pointplot(data=data, x=param, y=col, errorbar="sd", capsize=0.15, color="black", ax=ax)
            dots = (
                dict(hue=SEED, palette="crest", legend=(i == 0 and j == len(params) - 1))
                if SEED in data
                else dict(color="tab:blue")
            )
            sns.stripplot(data=data, x=param, y=col, alpha=0.7, ax=ax, **dots)
            if ax.get_legend() is not None:
                ax.get_legend().set_title("seed")
            ax.set_xlabel(param.removeprefix("param."))
            ax.set_ylabel(col.removeprefix("metrics.") if j == 0 else "")
    fig.suptitle("final metrics: mean ± sd over seeds (dots are runs)", fontsize=9)
    fig.tight_layout()
    return fig


def load_curves(table: pd.DataFrame, runs_root: str | Path, stage: str = "", metric: str = "reward") -> pd.DataFrame:
    """Long table ``run_id, setting, seed, step, <metric>`` from every run's
    ``runs/<run_id>/<stage>/metrics.jsonl`` (``stage`` "" = the GRPO stage). Runs without that file
    are listed in ``.attrs["missing"]`` and the stage read in ``.attrs["stage"]``; a file without
    ``metric`` raises naming the file and its keys."""
    stage = stage or GRPO_STAGE
    labels, frames, missing = settings(table), [], []
    for idx, row in table.iterrows():
        path = resolve_runs_root(runs_root) / row["run_id"] / stage / "metrics.jsonl"
        if not path.is_file():
            missing.append(row["run_id"])
            continue
        rows = read_jsonl(path)
        if rows and metric not in rows[0]:
            raise ValueError(f"{path}: no key {metric!r} (keys: {', '.join(sorted(rows[0]))})")
        frame = pd.DataFrame([{"step": r["step"], metric: r[metric]} for r in rows])
        frames.append(frame.assign(run_id=row["run_id"], setting=labels[idx], seed=row.get(SEED)))
    curves = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["step", metric, "run_id", "setting", "seed"])
    )
    curves.attrs["missing"] = missing
    curves.attrs["stage"] = stage
    return curves


def plot_curves(curves: pd.DataFrame, metric: str = "reward"):
    """``metric`` vs step, one line per setting (mean over seeds, shaded ± sd)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    if curves.empty:
        ax.text(0.5, 0.5, "no training curves in these runs", ha="center", va="center")
        return fig
    sns.lineplot(data=curves, x="step", y=metric, hue="setting", errorbar="sd", ax=ax)
    ax.set_title(f"{metric} per step, per setting (mean ± sd over seeds)")
    fig.tight_layout()
    return fig
