"""The paper's table form with its reference rows, its reading computed from the numbers, and the
same table over several runs (seeds) as mean ± std, as Markdown for the README."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from r1omni.io import read_json
from r1omni.runs import EVAL_STAGE

#: The paper's Table (WAR / UAR in %, real data: DFEW/MAFW test sets, RAVDESS out of
#: distribution), keyed like :data:`r1omni.runs.MODEL_DIRS`. Reference only: not comparable one-to-one
#: with SynthEmo numbers. Source: R1-Omni (arXiv 2503.05379), see shared/reference/r1omni.md.
PAPER_RESULTS: dict[str, dict[str, Any]] = {
    "base": {"name": "HumanOmni-0.5B", "DFEW": (22.64, 19.44), "MAFW": (20.18, 13.52), "RAVDESS": (7.33, 9.38)},
    "cold_start": {
        "name": "EMER-SFT (cold start)",
        "DFEW": (38.66, 35.31),
        "MAFW": (38.39, 28.02),
        "RAVDESS": (29.00, 27.19),
    },
    "label_sft": {
        "name": "MAFW-DFEW-SFT (label-only SFT)",
        "DFEW": (60.23, 44.39),
        "MAFW": (50.44, 30.39),
        "RAVDESS": (29.33, 30.75),
    },
    "rlvr": {"name": "R1-Omni (RLVR)", "DFEW": (65.83, 56.27), "MAFW": (57.68, 40.04), "RAVDESS": (43.00, 44.69)},
}
PAPER_DATASETS: tuple[str, ...] = ("DFEW", "MAFW", "RAVDESS")


#: Display order of SynthEmo splits (others follow alphabetically).
SPLIT_ORDER: tuple[str, ...] = ("test", "val", "ood", "conflict", "train", "coldstart")


def ordered_splits(splits) -> list[str]:
    """``splits`` in :data:`SPLIT_ORDER`, others after it alphabetically.

    >>> ordered_splits(["ood", "zeta", "test"])
    ['test', 'ood', 'zeta']
    """
    return sorted(set(splits), key=lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER), s))


def compare_models(
    results: dict[str, dict[str, dict]], *, include_paper: bool = True, with_ci: bool = False
) -> pd.DataFrame:
    """The paper's table form: one row per model, columns (data set, WAR/UAR) in %.

    ``results[model][split] = summarize_predictions(...)`` dict. Our rows have source "this run (SynthEmo)";
    with ``include_paper`` the paper's rows follow with source "paper (real data, reference
    only)" and values only under DFEW / MAFW / RAVDESS (NaN elsewhere, and ours NaN there).
    ``with_ci`` adds "WAR 95% CI" / "UAR 95% CI" string columns for our splits. Splits appear in
    :data:`SPLIT_ORDER`.
    """
    splits = ordered_splits(s for per in results.values() for s in per)
    rows, index = [], []
    for model, per in results.items():
        row: dict[tuple[str, str], Any] = {("", "source"): "this run (SynthEmo)"}
        for split in splits:
            if split not in per:
                continue
            m = per[split]
            row[(split, "WAR")] = 100.0 * m["war"]
            row[(split, "UAR")] = 100.0 * m["uar"]
            if with_ci:
                row[(split, "WAR 95% CI")] = "[{:.1f}, {:.1f}]".format(*(100 * x for x in m["war_ci"]))
                row[(split, "UAR 95% CI")] = "[{:.1f}, {:.1f}]".format(*(100 * x for x in m["uar_ci"]))
        rows.append(row)
        index.append(model)
    if include_paper:
        for ref in PAPER_RESULTS.values():
            row = {("", "source"): "paper (real data, reference only)"}
            for ds in PAPER_DATASETS:
                row[(ds, "WAR")], row[(ds, "UAR")] = ref[ds]
            rows.append(row)
            index.append(f"paper: {ref['name']}")
    table = pd.DataFrame(rows, index=pd.Index(index, name="model"))
    ordered = [("", "source")] + [c for c in table.columns if c[0] in splits]
    ordered += [c for c in table.columns if c[0] in PAPER_DATASETS and c not in ordered]
    table = table[ordered]
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["data", "metric"])
    return table


#: Summary keys recorded in ``metrics.json`` (the confusion matrices stay in the prediction files).
RECORDED_KEYS: tuple[str, ...] = (
    "n",
    "war",
    "uar",
    "war_ci",
    "uar_ci",
    "per_class_recall",
    "unparseable_rate",
    "format_rate",
    "accuracy_reward",
    "mean_completion_tokens",
)


def evaluation_metrics(results: dict[str, dict[str, dict]]) -> dict[str, dict[str, dict]]:
    """The JSON-ready part of :func:`evaluate_models`' results for ``metrics.json``."""
    return {m: {s: {k: v[k] for k in RECORDED_KEYS} for s, v in per.items()} for m, per in results.items()}


def evaluation_reading(
    results: dict[str, dict[str, dict]],
    *,
    before: str = "cold_start",
    after: str = "rlvr",
    in_split: str = "test",
    out_split: str = "ood",
) -> str:
    """Sentences answering "does ``after`` beat ``before`` in and out of distribution?" from the
    numbers: WAR/UAR differences and whether the 95% bootstrap intervals of WAR overlap."""
    if before not in results or after not in results:
        return f"(no comparison: both {before!r} and {after!r} must be evaluated)"
    out = []
    for split, where in ((in_split, "in distribution"), (out_split, "out of distribution")):
        if split not in results[before] or split not in results[after]:
            continue
        b, a = results[before][split], results[after][split]
        d_war, d_uar = 100 * (a["war"] - b["war"]), 100 * (a["uar"] - b["uar"])
        overlap = a["war_ci"][0] <= b["war_ci"][1] and b["war_ci"][0] <= a["war_ci"][1]
        verb = "beats" if d_war > 0 else "trails" if d_war < 0 else "ties"
        out.append(
            f"{where.capitalize()} ({split}, n={a['n']}), {after} {verb} {before} by {abs(d_war):.1f} "
            f"points of WAR ({100 * a['war']:.1f} vs {100 * b['war']:.1f}) and "
            f"{'gains' if d_uar >= 0 else 'loses'} {abs(d_uar):.1f} points of UAR; the 95% intervals of WAR "
            + ("overlap, so the difference is within resampling noise." if overlap else "do not overlap.")
        )
    return " ".join(out)


def markdown_table(table: pd.DataFrame, *, digits: int = 1) -> str:
    """A GitHub Markdown table of ``table`` (index first; MultiIndex labels joined by a space;
    floats rounded to ``digits``; NaN shown as an em dash).

    >>> print(markdown_table(pd.DataFrame({"WAR": [65.831, float("nan")]}, index=["a", "b"])))
    |  | WAR |
    |---|---|
    | a | 65.8 |
    | b | — |
    """

    def label(x: Any) -> str:
        return " ".join(str(p) for p in x if str(p)) if isinstance(x, tuple) else str(x)

    def cell(x: Any) -> str:
        if isinstance(x, float):
            return "—" if math.isnan(x) else f"{x:.{digits}f}"
        return str(x)

    header = "| " + " | ".join([""] + [label(c) for c in table.columns]) + " |"
    rule = "|" + "---|" * (len(table.columns) + 1)
    rows = [
        "| " + " | ".join([label(i)] + [cell(v) for v in row]) + " |"
        for i, row in zip(table.index, table.itertuples(index=False))
    ]
    return "\n".join([header, rule, *rows])


def evaluation_report(run_directory: str | os.PathLike) -> str:
    """The README section of one run's evaluation: the paper's table with its reference rows and its
    reading (from notebook 03's ``metrics.json``; a run without it is named as missing)."""
    run_directory = Path(run_directory)
    path = run_directory / EVAL_STAGE / "metrics.json"
    if not path.is_file():
        return f"(no {path}: notebook {EVAL_STAGE} has not run)\n"
    metrics = read_json(path)
    return "\n".join(
        [
            f"### Evaluation ({run_directory.name}; WAR / UAR in %)",
            "",
            markdown_table(compare_models(metrics["results"])),
            "",
            metrics.get("reading", ""),
            "",
        ]
    )


def seed_table(results: list[dict[str, dict[str, dict]]], *, metrics: tuple[str, ...] = ("war", "uar")) -> pd.DataFrame:
    """Mean and sample std (over runs, e.g. seeds) of each model's metrics per split, in %.

    ``results`` holds one ``metrics.json["results"]`` of notebook 03 per run. Cells read
    ``mean ± std``; a model or split missing from a run is an error (runs must be comparable).

    >>> r = lambda w: {"rlvr": {"test": {"war": w, "uar": w}}}
    >>> seed_table([r(0.2), r(0.3), r(0.4)]).loc["rlvr", ("test", "WAR")]
    '30.0 ± 10.0'
    """
    if not results:
        raise ValueError("seed_table needs the results of at least one run")
    models = list(results[0])
    splits = ordered_splits(next(iter(results[0].values())))
    rows = {}
    for model in models:
        row = {}
        for split in splits:
            for metric in metrics:
                try:
                    values = pd.Series([100.0 * run[model][split][metric] for run in results])
                except KeyError as err:
                    raise ValueError(
                        f"a run has no {model}/{split}/{metric} ({err}); runs are not comparable"
                    ) from None
                row[(split, metric.upper())] = _mean_std(values)
        rows[model] = row
    return _runs_frame(rows, "metric", len(results))


def pass_at_k_seed_table(runs: list[dict[str, dict[str, dict]]]) -> pd.DataFrame:
    """Mean and sample std over runs of each model's pass@k per split, in %: one row per model, one
    column per (split, k); ``runs`` holds one ``metrics.json["pass_at_k"]`` of the evaluation per run.

    >>> r = lambda p: {"rlvr": {"test": {"pass_at_k": {"1": p, "8": 2 * p}}}}
    >>> pass_at_k_seed_table([r(0.2), r(0.4)]).loc["rlvr", ("test", "pass@8")]
    '60.0 ± 28.3'
    """
    if not runs:
        raise ValueError("pass_at_k_seed_table needs the pass@k of at least one run")
    rows = {}
    for model, per in runs[0].items():
        row = {}
        for split in ordered_splits(per):
            for k in per[split]["pass_at_k"]:
                try:
                    values = pd.Series([100.0 * run[model][split]["pass_at_k"][k] for run in runs])
                except KeyError as err:
                    raise ValueError(f"a run has no pass@{k} for {model}/{split} ({err})") from None
                row[(split, f"pass@{k}")] = _mean_std(values)
        rows[model] = row
    return _runs_frame(rows, "k", len(runs))


def _mean_std(values: pd.Series) -> str:
    """A seed-table cell: ``mean ± std`` with the sample std (nan for one run)."""
    std = values.std(ddof=1) if len(values) > 1 else float("nan")
    return f"{values.mean():.1f} ± {std:.1f}"


def _runs_frame(rows: dict[str, dict[tuple[str, str], str]], column: str, n_runs: int) -> pd.DataFrame:
    """A row per model, a (data, ``column``) column per cell, the run count in the index name."""
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["data", column])
    table.index.name = f"model (mean ± std over {n_runs} runs)"
    return table


def seed_gains(results: list[dict[str, dict[str, dict]]], *, after: str = "rlvr", before: str = "cold_start") -> str:
    """One line per split: ``after`` minus ``before`` UAR in points, per run and mean ± std."""
    lines = []
    for split in ordered_splits(next(iter(results[0].values()))):
        gains = [100.0 * (run[after][split]["uar"] - run[before][split]["uar"]) for run in results]
        spread = f" ± {pd.Series(gains).std(ddof=1):.1f}" if len(gains) > 1 else ""
        per_run = ", ".join(f"{g:+.1f}" for g in gains)
        lines.append(f"- {after} - {before}, UAR on {split}: {sum(gains) / len(gains):+.1f}{spread} points ({per_run})")
    return "\n".join(lines)


def seeds_report(run_directories: list[str | os.PathLike]) -> str:
    """Markdown of :func:`seed_table` over the runs' evaluation results, naming the runs, with the
    RLVR - cold start gains (:func:`seed_gains`) and, when every run sampled, the pass@k table."""
    metrics = []
    for rdir in run_directories:
        path = Path(rdir) / EVAL_STAGE / "metrics.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: notebook {EVAL_STAGE} has not run for this run")
        metrics.append(read_json(path))
    results = [m["results"] for m in metrics]
    names = ", ".join(Path(r).name for r in run_directories)
    out = [
        f"### Evaluation over {len(results)} runs ({names}; WAR / UAR in %)",
        "",
        markdown_table(seed_table(results)),
        "",
    ]
    if all("rlvr" in r and "cold_start" in r for r in results):
        out += [seed_gains(results), ""]
    if all("pass_at_k" in m for m in metrics):
        out += [
            "pass@k in % (mean ± std over the runs):",
            "",
            markdown_table(pass_at_k_seed_table([m["pass_at_k"] for m in metrics])),
            "",
        ]
    return "\n".join(out)


def report_cli(argv: list[str] | None, *, prog: str, description: str, one_run: Callable[[str], str]) -> int:
    """The README-table command lines: ``one_run(run_dir)`` for one run, :func:`seeds_report` for
    several; a folder that is not a directory exits 2, a missing stage too (naming it)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("run_dirs", nargs="+", help="runs/<run_id> folder(s) of finished runs (several: mean ± std)")
    args = parser.parse_args(argv)
    for rdir in args.run_dirs:
        if not Path(rdir).is_dir():
            parser.error(f"{rdir} is not a directory")
    try:
        print(one_run(args.run_dirs[0]) if len(args.run_dirs) == 1 else seeds_report(args.run_dirs))
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
