"""Cold start vs RLVR with the ``course`` presets: WAR / UAR / format rate, greedy decoding.

Per seed: cold-start SFT of the tiny preset (``SFTConfig.from_preset("course")``) on
``coldstart.jsonl``, then GRPO from it (``GRPOConfig.from_preset("course")``) on ``train.jsonl``;
both models decoded greedily on the chosen splits (``r1omni.evaluate.evaluate_split``). Prints a
Markdown table and writes every number (and the wall times) to ``--out``.

    python -m r1omni.data.synth --out /tmp/syn30 --per-class 30 --seed 0
    python benchmarks/grpo_course_gain.py --data /tmp/syn30 --seeds 0 --out /tmp/gain.json
    python benchmarks/grpo_course_gain.py --data /tmp/syn30 --grpo learning_rate=1e-3 temperature=1.0
"""

from __future__ import annotations

import argparse
import ast
import time
from pathlib import Path

from r1omni.evaluate.decode import EvalConfig, evaluate_split
from r1omni.grpo import GRPOConfig, train_grpo
from r1omni.io import atomic_write_json
from r1omni.sft import SFTConfig, train_sft

KEYS = ("war", "uar", "format_rate", "unparseable_rate", "mean_completion_tokens")


def overrides(pairs: list[str]) -> dict:
    """``["lr=1e-3", "loss_type='dapo'"]`` -> ``{"lr": 0.001, "loss_type": "dapo"}`` (Python literals)."""
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def evaluate(model_dir: Path, data: Path, splits: list[str], work: Path, max_new_tokens: int) -> dict:
    rows = {}
    for split in splits:
        s = evaluate_split(
            model_dir,
            data / f"{split}.jsonl",
            work / f"pred_{split}.jsonl",
            EvalConfig(batch_size=16, max_new_tokens=max_new_tokens),
            progress=False,
        )
        rows[split] = {k: s[k] for k in KEYS if k in s}
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="SynthEmo folder (r1omni.data.synth output)")
    p.add_argument("--seeds", default="0", help="comma-separated seeds")
    p.add_argument("--splits", default="val,test", help="splits decoded after each stage")
    p.add_argument("--work", default="/tmp/grpo_course_gain", help="run folders")
    p.add_argument("--out", default="/tmp/grpo_course_gain.json", help="JSON with every number")
    p.add_argument("--max-new-tokens", type=int, default=96, help="greedy decoding budget")
    p.add_argument("--grpo", nargs="*", default=[], help="GRPOConfig overrides, e.g. max_steps=100")
    args = p.parse_args(argv)
    data, work = Path(args.data), Path(args.work)
    splits = [s for s in args.splits.split(",") if s]
    results = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        t0 = time.perf_counter()
        cold = train_sft(
            SFTConfig.from_preset("course", seed=seed),
            "tiny",
            data / "coldstart.jsonl",
            work / f"cold_{seed}",
            model_dir=work / f"cold_{seed}" / "model",
        )
        t1 = time.perf_counter()
        cfg = GRPOConfig.from_preset(
            "course",
            seed=seed,
            resume_from_checkpoint="never",
            feature_cache_dir=str(work / "feature_cache"),
            **overrides(args.grpo),
        )
        rl = train_grpo(cfg, cold.model_dir, data, work / f"rlvr_{seed}")
        t2 = time.perf_counter()
        row = {
            "seed": seed,
            "sft_s": t1 - t0,
            "grpo_s": t2 - t1,
            "grpo_steps": rl.steps,
            "cold_start": evaluate(Path(cold.model_dir), data, splits, work / f"cold_{seed}", args.max_new_tokens),
            "rlvr": evaluate(Path(rl.model_dir), data, splits, work / f"rlvr_{seed}", args.max_new_tokens),
        }
        results.append(row)
        atomic_write_json(args.out, {"grpo": cfg.to_dict(), "results": results})
    print("| seed | split | model | WAR | UAR | format | unparseable |\n|---|---|---|---|---|---|---|")
    for row in results:
        for split in splits:
            for model in ("cold_start", "rlvr"):
                r = row[model][split]
                print(
                    f"| {row['seed']} | {split} | {model} | {r['war']:.3f} | {r['uar']:.3f} | "
                    f"{r['format_rate']:.2f} | {r.get('unparseable_rate', float('nan')):.2f} |"
                )
    print("seconds (sft, grpo):", [(round(r["sft_s"]), round(r["grpo_s"])) for r in results], "->", args.out)


if __name__ == "__main__":
    main()
