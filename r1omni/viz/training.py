"""Plots for notebook 02 (RLVR with GRPO): curves from ``metrics.jsonl``, the samples table.

Every function takes ``runs``: a mapping from a display name to a stage directory (or a
``metrics.jsonl`` path), so one figure can compare runs (e.g. ``beta=0.04`` vs ``beta=0``).
The metric names are documented in :mod:`r1omni.grpo.metrics`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from r1omni.viz.sft import metrics_frame

Runs = Mapping[str, str | os.PathLike]


def reward_frame(runs: Runs) -> pd.DataFrame:
    """Long table (run, step, reward function, mean) of every ``rewards/<name>/mean`` column,
    plus the total ``reward`` under the name "total"."""
    df = metrics_frame(runs)
    cols = [c for c in df.columns if c.startswith("rewards/") and c.endswith("/mean")]
    long = df.melt(id_vars=["run", "step"], value_vars=cols + ["reward"], var_name="function", value_name="mean")
    long["function"] = long["function"].str.replace("rewards/", "").str.replace("/mean", "")
    long.loc[long["function"] == "reward", "function"] = "total"
    return long.dropna(subset=["mean"])


def plot_grpo(runs: Runs, *, smooth: int | None = None):
    """A 2 x 3 grid against step: loss; mean reward per function (and the total);
    frac_reward_zero_std; KL to the reference; completion length (mean, min-max band);
    policy entropy. ``smooth`` > 1 adds a rolling mean over that many steps; None picks one
    step in 30 of the longest run (none for short runs). Returns the matplotlib figure."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    df = metrics_frame(runs)
    rewards = reward_frame(runs)
    if smooth is None:
        smooth = max(1, int(df.groupby("run")["step"].count().max()) // 30)
    if smooth > 1:
        roll = lambda s: s.rolling(smooth, min_periods=1).mean()  # noqa: E731
        for col in ("loss", "kl", "entropy", "frac_reward_zero_std", "completions/mean_length"):
            df[col] = df.groupby("run")[col].transform(roll)
        rewards["mean"] = rewards.groupby(["run", "function"])["mean"].transform(roll)
    fig, axes = plt.subplots(2, 3, figsize=(14, 7))
    (ax_loss, ax_rew, ax_zero), (ax_kl, ax_len, ax_ent) = axes
    many = len(runs) > 1
    sns.lineplot(data=df, x="step", y="loss", hue="run", ax=ax_loss, legend=many)
    ax_loss.set(title="GRPO loss (not a fit error: can be ~0 or < 0)")
    sns.lineplot(data=rewards, x="step", y="mean", hue="function", style="run" if many else None, ax=ax_rew)
    ax_rew.set(title="mean reward per function", ylabel="reward")
    sns.lineplot(data=df, x="step", y="frac_reward_zero_std", hue="run", ax=ax_zero, legend=False)
    ax_zero.set(title="groups with equal rewards (no signal)", ylim=(-0.05, 1.05))
    sns.lineplot(data=df, x="step", y="kl", hue="run", ax=ax_kl, legend=False)
    ax_kl.set(title="KL(policy || reference), k3 per token")
    for i, (name, part) in enumerate(df.groupby("run", sort=False)):
        color = f"C{i}"
        ax_len.plot(part["step"], part["completions/mean_length"], color=color, label=name)
        ax_len.fill_between(
            part["step"], part["completions/min_length"], part["completions/max_length"], color=color, alpha=0.2
        )
    ax_len.set(title="completion length (tokens; band = min..max)", xlabel="step")
    sns.lineplot(data=df, x="step", y="entropy", hue="run", ax=ax_ent, legend=False)
    ax_ent.set(title="policy entropy (nats/token)")
    fig.tight_layout()
    return fig


def samples_table(stage: str | os.PathLike, *, step: int | str = "last", max_chars: int = 160) -> pd.DataFrame:
    """The sample completions logged at ``step`` ("last", "first" or a step number) in
    ``<stage>/samples.jsonl``, one row per completion with its rewards and advantage."""
    from r1omni.io import read_jsonl

    path = Path(stage) / "samples.jsonl" if Path(stage).is_dir() else Path(stage)
    df = pd.DataFrame(read_jsonl(path))
    if df.empty:
        raise ValueError(f"{path}: no samples logged (GRPOConfig.sample_log_steps = 0?)")
    steps = sorted(df["step"].unique())
    chosen = steps[-1] if step == "last" else steps[0] if step == "first" else int(step)
    if chosen not in steps:
        raise ValueError(f"{path}: no samples at step {chosen}; logged steps: {steps}")
    out = df[df["step"] == chosen].reset_index(drop=True)
    out["completion"] = out["completion"].str.slice(0, max_chars)
    return out
