"""One GRPO tuning trial: the ``course`` cold start (trained once per seed and reused), then GRPO
with overrides of the ``course`` preset, both decoded greedily on the chosen splits.

Appends one JSON line per (trial, seed) to ``--log`` with the overrides, the command, the
test / ood WAR / UAR / format rate of cold start and RLVR, a summary of the training curves
(reward, accuracy reward, frac_reward_zero_std, KL, entropy, length: first and last 10% of
steps, and 10 evenly spaced bins), the mean step time and the load average before / after.

    python -m r1omni.data.synth --out /work/data12c/oracle --per-class 100 --seed 0 --render oracle
    OMP_NUM_THREADS=1 python benchmarks/grpo_tune.py --data /work/data12c/oracle --tag base --seeds 0
    OMP_NUM_THREADS=1 python benchmarks/grpo_tune.py --data ... --tag t1 --grpo temperature=1.0 beta=0.0
    OMP_NUM_THREADS=1 python benchmarks/grpo_tune.py --data ... --tag small_cold --sft limit=140

The cold start is ``SFTConfig.from_preset("course", seed=seed)`` with the ``--sft`` overrides (as
benchmarks/grpo_course_gain.py); its model and its scores are cached under
``--work/cold_<seed>_<key>`` (key: the cold-start records and clips and the SFT config), so trials
of one seed and one cold start share it. Each row names both models (``cold_model_dir``,
``rlvr_model_dir``) for ``benchmarks/pass_at_k_pair.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

from r1omni.data.manifest import load_manifest, records_fingerprint
from r1omni.grpo import GRPOConfig, train_grpo
from r1omni.io import atomic_write_json, read_json
from r1omni.sft import SFTConfig, train_sft
from r1omni.train.loop import fingerprint
from r1omni.train.metrics_log import read_metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from grpo_course_gain import evaluate, overrides  # noqa: E402

CURVE_KEYS = (
    "reward",
    "rewards/accuracy/mean",
    "rewards/format/mean",
    "frac_reward_zero_std",
    "kl",
    "entropy",
    "completions/mean_length",
    "completions/clipped_ratio",
    "step_time",
)


def cold_start(
    seed: int, data: Path, work: Path, splits: list[str], max_new_tokens: int, sft_overrides: dict | None = None
) -> dict:
    """Train (once) and score (once per split) the course cold start of ``seed`` (with
    ``sft_overrides`` of the preset, e.g. ``{"limit": 140}`` for a smaller cold start).

    Its folder is keyed on the cold-start records and clips and the SFT config, and each split's
    score on that split's records and clips and the decoding budget: other data or settings train
    and score anew."""
    fixed = {"seed", "show_progress"} & set(sft_overrides or {})
    if fixed:
        raise ValueError(f"--sft {sorted(fixed)}: set by the script (the seed comes from --seeds)")
    sft = SFTConfig.from_preset("course", seed=seed, show_progress=False, **(sft_overrides or {}))
    manifest = data / "coldstart.jsonl"
    root = work / f"cold_{seed}_{fingerprint([records_fingerprint(load_manifest(manifest)), sft.to_dict()])}"
    model_dir = root / "model"
    scores_path = root / "scores.json"
    info = read_json(scores_path) if scores_path.is_file() else {}
    if not (model_dir / "model.safetensors").is_file():
        t0 = time.perf_counter()
        train_sft(sft, "tiny", manifest, root, model_dir=model_dir)
        info = {"sft_s": time.perf_counter() - t0, "scores": {}, "score_keys": {}}
    keys = {s: fingerprint([records_fingerprint(load_manifest(data / f"{s}.jsonl")), max_new_tokens]) for s in splits}
    missing = [s for s in splits if info.get("score_keys", {}).get(s) != keys[s]]
    if missing:
        info.setdefault("scores", {}).update(evaluate(model_dir, data, missing, root, max_new_tokens))
        info.setdefault("score_keys", {}).update({s: keys[s] for s in missing})
        atomic_write_json(scores_path, info)
    scores = {s: info["scores"][s] for s in splits}
    return {"model_dir": str(model_dir), "sft_s": info.get("sft_s"), "scores": scores}


def curve_summary(history: list[dict], bins: int = 10) -> dict:
    """First / last 10% means and ``bins`` evenly spaced bin means of each curve."""
    n = len(history)
    k = max(1, n // 10)

    def mean(rows, key):
        vals = [r[key] for r in rows if key in r]
        return sum(vals) / len(vals) if vals else float("nan")

    out = {"steps": n}
    for key in CURVE_KEYS:
        out[key] = {
            "first": mean(history[:k], key),
            "last": mean(history[-k:], key),
            "bins": [mean(history[i * n // bins : (i + 1) * n // bins], key) for i in range(bins)],
        }
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="SynthEmo folder (r1omni.data.synth output)")
    p.add_argument("--tag", required=True, help="name of the trial (run folder grpo_<tag>_s<seed>)")
    p.add_argument("--seeds", default="0", help="comma-separated seeds")
    p.add_argument("--splits", default="test,ood", help="splits decoded after each stage")
    p.add_argument("--work", default="/work/tune12c", help="run folders")
    p.add_argument("--log", default="docs/tuning_grpo_runs.jsonl", help="JSON lines, one per trial and seed")
    p.add_argument("--max-new-tokens", type=int, default=96, help="greedy decoding budget")
    p.add_argument("--grpo", nargs="*", default=[], help="GRPOConfig overrides of the course preset")
    p.add_argument("--sft", nargs="*", default=[], help="SFTConfig overrides of the cold start's course preset")
    p.add_argument("--cold-only", action="store_true", help="only train and score the cold starts")
    args = p.parse_args(argv)
    data, work = Path(args.data), Path(args.work)
    splits = [s for s in args.splits.split(",") if s]
    command = "OMP_NUM_THREADS={} python benchmarks/grpo_tune.py {}".format(
        os.environ.get("OMP_NUM_THREADS", ""),
        " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
    )
    for seed in [int(s) for s in args.seeds.split(",")]:
        cold = cold_start(seed, data, work, splits, args.max_new_tokens, overrides(args.sft))
        if args.cold_only:
            print(f"cold start seed {seed}: {cold['scores']}", flush=True)
            continue
        cfg = GRPOConfig.from_preset(
            "course",
            seed=seed,
            resume_from_checkpoint="never",
            show_progress=False,
            save_steps=0,
            feature_cache_dir=str(work / "feature_cache"),
            **overrides(args.grpo),
        )
        out_dir = work / f"grpo_{args.tag}_s{seed}"
        load0 = os.getloadavg()
        t0 = time.perf_counter()
        rl = train_grpo(cfg, cold["model_dir"], data, out_dir)
        grpo_s = time.perf_counter() - t0
        load1 = os.getloadavg()
        history = read_metrics(out_dir)
        curves = curve_summary(history)
        row = {
            "tag": args.tag,
            "seed": seed,
            "overrides": overrides(args.grpo),
            "sft_overrides": overrides(args.sft),
            "command": command,
            "grpo_s": grpo_s,
            "steps": rl.steps,
            "s_per_step": grpo_s / max(rl.steps, 1),
            "load_before": load0,
            "load_after": load1,
            "sft_s": cold["sft_s"],
            "cold_model_dir": cold["model_dir"],
            "rlvr_model_dir": str(rl.model_dir),
            "prompts_seen": rl.steps * cfg.prompts_per_step_per_process,
            "cold_start": cold["scores"],
            "rlvr": evaluate(Path(rl.model_dir), data, splits, out_dir, args.max_new_tokens),
            "curves": curves,
            "config": cfg.to_dict(),
        }
        Path(args.log).parent.mkdir(parents=True, exist_ok=True)
        with open(args.log, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        parts = [
            f"{args.tag} seed {seed}: {grpo_s / 60:.1f} min GRPO ({row['s_per_step']:.2f} s/step, "
            f"load {load0[0]:.1f}->{load1[0]:.1f})"
        ]
        for split in splits:
            c, r = cold["scores"][split], row["rlvr"][split]
            parts.append(
                f"  {split}: cold WAR {c['war']:.3f} UAR {c['uar']:.3f} fmt {c['format_rate']:.2f} -> "
                f"RLVR WAR {r['war']:.3f} UAR {r['uar']:.3f} fmt {r['format_rate']:.2f}"
            )
        acc, z = curves["rewards/accuracy/mean"], curves["frac_reward_zero_std"]
        parts.append(
            f"  train acc {acc['first']:.2f}->{acc['last']:.2f}, zero-std {z['first']:.2f}->{z['last']:.2f}, "
            f"kl last {curves['kl']['last']:.4f}"
        )
        print("\n".join(parts), flush=True)


if __name__ == "__main__":
    main()
