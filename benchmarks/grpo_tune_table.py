"""Markdown tables of ``benchmarks/grpo_tune.py`` logs: one row per (trial, seed), and per-trial
means ± std over seeds; ``--curves TAG`` prints the binned training curves of a trial.

    python benchmarks/grpo_tune_table.py docs/tuning_grpo_runs.jsonl
    python benchmarks/grpo_tune_table.py docs/tuning_grpo_runs.jsonl --curves course
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def rows_table(rows: list[dict]) -> str:
    out = [
        "| trial | seed | steps x clips x G | cold test UAR | RLVR test WAR / UAR | cold ood UAR | RLVR ood WAR / UAR "
        "| RLVR fmt test/ood | train acc first->last | zero-std first->last | KL last | s/step | GRPO min | load |",
        "|" + "---|" * 14,
    ]
    for r in rows:
        c, v, cv = r["cold_start"], r["rlvr"], r["curves"]
        cfg = r["config"]
        acc, z = cv["rewards/accuracy/mean"], cv["frac_reward_zero_std"]
        out.append(
            f"| {r['tag']} | {r['seed']} "
            f"| {r['steps']} x {cfg['per_device_train_batch_size']} x {cfg['num_generations']} "
            f"| {pct(c['test']['uar'])} | {pct(v['test']['war'])} / {pct(v['test']['uar'])} | {pct(c['ood']['uar'])} "
            f"| {pct(v['ood']['war'])} / {pct(v['ood']['uar'])} "
            f"| {v['test']['format_rate']:.2f}/{v['ood']['format_rate']:.2f} "
            f"| {acc['first']:.2f}->{acc['last']:.2f} | {z['first']:.2f}->{z['last']:.2f} | {cv['kl']['last']:.3f} "
            f"| {r['s_per_step']:.2f} | {r['grpo_s'] / 60:.1f} | {r['load_before'][0]:.1f}->{r['load_after'][0]:.1f} |"
        )
    return "\n".join(out)


def ms(vals: list[float], scale: float = 100.0) -> str:
    vals = [scale * v for v in vals]
    sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return f"{statistics.mean(vals):.1f} ± {sd:.1f}"


def seeds_table(rows: list[dict]) -> str:
    by = defaultdict(list)
    for r in rows:
        by[r["tag"]].append(r)
    out = [
        "| trial | seeds | model | test WAR | test UAR | ood WAR | ood UAR | test gain UAR (per seed) | GRPO min |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for tag, rs in by.items():
        gains = [r["rlvr"]["test"]["uar"] - r["cold_start"]["test"]["uar"] for r in rs]
        seeds = ",".join(str(r["seed"]) for r in rs)
        for model in ("cold_start", "rlvr"):
            cells = [ms([r[model][s][k] for r in rs]) for s in ("test", "ood") for k in ("war", "uar")]
            extra = f"{ms(gains)} ({', '.join(f'{100 * g:+.1f}' for g in gains)})" if model == "rlvr" else ""
            mins = ms([r["grpo_s"] / 60 for r in rs], scale=1.0) if model == "rlvr" else ""
            out.append(f"| {tag} | {seeds} | {model} | " + " | ".join(cells) + f" | {extra} | {mins} |")
    return "\n".join(out)


def curves(rows: list[dict], tag: str) -> str:
    keys = ("rewards/accuracy/mean", "frac_reward_zero_std", "kl", "entropy", "completions/mean_length")
    out = []
    for r in rows:
        if r["tag"] != tag:
            continue
        out.append(f"{tag} seed {r['seed']} ({r['steps']} steps, 10 bins):")
        for k in keys:
            out.append(f"  {k:24s} " + " ".join(f"{x:.3f}" for x in r["curves"][k]["bins"]))
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("log")
    p.add_argument("--curves", default="")
    args = p.parse_args()
    rows = [json.loads(line) for line in open(args.log) if line.strip()]
    if args.curves:
        print(curves(rows, args.curves))
        return
    print(rows_table(rows))
    print()
    print(seeds_table(rows))


if __name__ == "__main__":
    main()
