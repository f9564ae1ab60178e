"""Seconds per GRPO step: r1omni's loop vs trl's GRPOTrainer, and the feature cache on vs off.

Part 1 (same text-only policy, same machine, one run): a tiny Qwen2 causal LM (hidden 64,
2 layers, BPE tokenizer trained here) saved to a directory; both trainers get that directory
(trl needs a path to rebuild the reference model when beta > 0), the same prompts (all of the
same token length), prompts per step, group size, completion length, beta, loss type
("grpo"), learning rate, and the same reward function. Both run on the CPU in fp32
(trl: ``use_cpu=True, bf16=False``). A step = generation + rewards + reference/old log-probs +
one optimizer update; its time is the wall time between consecutive step ends. Each trainer
runs ``--repeats`` times, alternating, and the step times are pooled. Reported: the median
over the steps after ``--warmup`` of each run, and the ratio r1omni / trl (< 1 = r1omni faster).

Part 2: r1omni's loop on the tiny omni preset over a few SynthEmo-like clips, with
``use_feature_cache`` on and off (the frozen towers run once per clip vs on every forward).

    python benchmarks/bench_grpo_vs_trl.py --steps 12 --out benchmarks/results/grpo_vs_trl.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

WORDS = (
    "red blue green small large quick slow bright dark warm cold happy calm loud quiet soft "
    "river stone cloud field tree light sound voice face smile"
).split()


def count_a(completions, **kwargs):
    """Toy verifiable reward with variance across samples (same function for both trainers)."""
    return [c.count("a") / 10.0 for c in completions]


def make_prompts(tokenizer, n: int, length: int, seed: int) -> list[str]:
    """``n`` distinct prompts of exactly ``length`` tokens (so neither trainer pads)."""
    rng = np.random.default_rng(seed)
    out: list[str] = []
    while len(out) < n:
        ids = tokenizer(" ".join(rng.choice(WORDS, size=4 * length)))["input_ids"][:length]
        text = tokenizer.decode(ids)
        if len(tokenizer(text)["input_ids"]) == length and text not in out:
            out.append(text)
    return out


def step_times(ends: list[float], start: float, warmup: int) -> list[float]:
    """Durations between consecutive step ends, the first ``warmup`` dropped."""
    times = [b - a for a, b in zip([start] + ends[:-1], ends)]
    return times[warmup:]


def run_r1omni_text(policy_dir: str, prompts: list[str], args, out_dir: Path) -> dict:
    from r1omni.grpo import GRPOConfig, train_grpo

    cfg = GRPOConfig.from_preset(
        "r1omni",
        num_generations=args.num_generations,
        per_device_train_batch_size=args.prompts_per_step,
        gradient_accumulation_steps=1,
        max_completion_length=args.completion_length,
        max_prompt_length=512,
        max_steps=args.steps,
        beta=args.beta,
        learning_rate=1e-6,
        loss_type="grpo",
        scale_rewards="group",
        temperature=1.0,
        reward_funcs=[count_a],
        bf16=False,
        device="cpu",
        save_steps=0,
        sample_log_steps=0,
        show_progress=False,
        seed=args.seed,
        use_feature_cache=False,
    )
    ends: list[float] = []
    start = time.perf_counter()
    res = train_grpo(
        cfg,
        policy_dir,
        [{"id": i, "prompt": p} for i, p in enumerate(prompts)],
        out_dir,
        callbacks=[lambda step, info: ends.append(time.perf_counter())],
    )
    lengths = [h["completions/mean_length"] for h in res.history]
    return {"step_s": step_times(ends, start, args.warmup), "mean_completion_length": float(np.mean(lengths))}


def run_trl(policy_dir: str, prompts: list[str], args, out_dir: Path) -> dict:
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    ends: list[float] = []
    lengths: list[float] = []

    class Timer(TrainerCallback):
        def on_step_end(self, *a, **k):
            ends.append(time.perf_counter())

        def on_log(self, _args, _state, _control, logs=None, **k):
            if logs and "completions/mean_length" in logs:
                lengths.append(logs["completions/mean_length"])

    n = args.prompts_per_step * args.num_generations
    config = GRPOConfig(
        output_dir=str(out_dir),
        use_cpu=True,
        bf16=False,
        report_to="none",
        save_strategy="no",
        per_device_train_batch_size=n,
        gradient_accumulation_steps=1,
        num_generations=args.num_generations,
        max_completion_length=args.completion_length,
        max_steps=args.steps,
        beta=args.beta,
        learning_rate=1e-6,
        loss_type="grpo",
        scale_rewards="group",
        temperature=1.0,
        top_p=1.0,
        top_k=0,
        logging_steps=1,
        use_bias_correction_kl=False,
        seed=args.seed,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    dataset = Dataset.from_dict({"prompt": prompts})
    trainer = GRPOTrainer(
        model=policy_dir, reward_funcs=count_a, args=config, train_dataset=dataset, callbacks=[Timer()]
    )
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # trl would print every log dict
    start = time.perf_counter()
    trainer.train()
    return {
        "step_s": step_times(ends, start, args.warmup),
        "mean_completion_length": float(np.mean(lengths)) if lengths else float("nan"),
    }


def run_cache(data_dir: Path, args, out_dir: Path, use_cache: bool) -> dict:
    from r1omni.grpo import GRPOConfig, train_grpo

    cfg = GRPOConfig.from_preset(
        "course",
        num_generations=args.num_generations,
        per_device_train_batch_size=args.prompts_per_step,
        gradient_accumulation_steps=1,
        max_completion_length=args.completion_length,
        max_steps=args.cache_steps,
        use_feature_cache=use_cache,
        save_steps=0,
        sample_log_steps=0,
        show_progress=False,
        seed=args.seed,
        device="cpu",
    )
    ends: list[float] = []
    start = time.perf_counter()
    train_grpo(cfg, "tiny", data_dir, out_dir, callbacks=[lambda step, info: ends.append(time.perf_counter())])
    return {"step_s": step_times(ends, start, args.warmup)}


def make_clips(directory: Path, n: int) -> Path:
    """``n`` short clips (8 frames 64x64, 1 s tone) with a train manifest (no SynthEmo needed)."""
    from r1omni.data.manifest import make_record
    from r1omni.data.media import write_clip
    from r1omni.settings import DFEW_LABELS

    rng = np.random.default_rng(0)
    (directory / "clips").mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        frames = rng.integers(0, 255, (8, 64, 64, 3), dtype=np.uint8)
        t = np.arange(16000, dtype=np.float32) / 16000
        write_clip(
            directory / "clips" / f"c{i}.mp4",
            frames,
            (0.3 * np.sin(2 * np.pi * (200 + 50 * i) * t)).astype(np.float32),
            fps=8,
        )
        records.append(make_record(id=f"c{i}", video=f"clips/c{i}.mp4", label=DFEW_LABELS[i % 7], split="train"))
    (directory / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return directory


def summary(times: list[float]) -> dict:
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "n": len(times)}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=12, help="GRPO steps per trainer")
    p.add_argument("--warmup", type=int, default=2, help="first steps not timed")
    p.add_argument("--num-generations", type=int, default=4)
    p.add_argument("--prompts-per-step", type=int, default=2)
    p.add_argument("--prompt-length", type=int, default=16)
    p.add_argument("--completion-length", type=int, default=16)
    p.add_argument("--beta", type=float, default=0.04)
    p.add_argument("--cache-steps", type=int, default=10, help="omni steps per cache setting")
    p.add_argument("--repeats", type=int, default=2, help="alternating runs of each trainer (times pooled)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier on shared cores)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-cache", action="store_true", help="only the trl comparison")
    p.add_argument("--out", help="write the JSON here too")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    from r1omni.grpo import TextPolicy, make_tiny_text_policy

    result: dict = {
        "machine": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "platform": platform.platform(),
            "threads": args.threads,
            "cuda": torch.cuda.is_available(),
        },
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        policy_dir = str(
            make_tiny_text_policy(
                tmp / "policy", [" ".join(WORDS)] * 50 + WORDS, hidden_size=64, num_layers=2, seed=args.seed
            )
        )
        tok = TextPolicy.load(policy_dir).tokenizer
        prompts = make_prompts(tok, args.prompts_per_step * (args.steps + 2), args.prompt_length, args.seed)
        import transformers
        import trl

        result["machine"].update(trl=trl.__version__, transformers=transformers.__version__)
        ours, theirs = {"step_s": [], "len": []}, {"step_s": [], "len": []}
        for rep in range(args.repeats):  # alternate, so load drift on a shared machine hits both
            for name, fn, acc in (("ours", run_r1omni_text, ours), ("trl", run_trl, theirs)):
                r = fn(policy_dir, prompts, args, tmp / f"{name}{rep}")
                acc["step_s"] += r["step_s"]
                acc["len"].append(r["mean_completion_length"])
        ours["mean_completion_length"] = float(np.mean(ours["len"]))
        theirs["mean_completion_length"] = float(np.mean(theirs["len"]))
        result["text_policy"] = {
            "r1omni": {**summary(ours["step_s"]), "mean_completion_length": ours["mean_completion_length"]},
            "trl": {**summary(theirs["step_s"]), "mean_completion_length": theirs["mean_completion_length"]},
        }
        result["text_policy"]["ratio_r1omni_over_trl"] = (
            result["text_policy"]["r1omni"]["median_s"] / result["text_policy"]["trl"]["median_s"]
        )
        # the fastest step of each: less sensitive to other processes on a shared machine
        result["text_policy"]["ratio_of_min_r1omni_over_trl"] = (
            result["text_policy"]["r1omni"]["min_s"] / result["text_policy"]["trl"]["min_s"]
        )
        if not args.skip_cache:
            data = make_clips(tmp / "clips", n=args.prompts_per_step * 3)
            on, off = {"step_s": []}, {"step_s": []}
            for rep in range(args.repeats):
                on["step_s"] += run_cache(data, args, tmp / f"cache_on{rep}", use_cache=True)["step_s"]
                off["step_s"] += run_cache(data, args, tmp / f"cache_off{rep}", use_cache=False)["step_s"]
            result["omni_tiny_feature_cache"] = {"on": summary(on["step_s"]), "off": summary(off["step_s"])}
            result["omni_tiny_feature_cache"]["speedup_off_over_on"] = (
                result["omni_tiny_feature_cache"]["off"]["median_s"]
                / result["omni_tiny_feature_cache"]["on"]["median_s"]
            )

    tp = result["text_policy"]
    print(
        f"\nGRPO step, tiny text Qwen2 (hidden 64, 2 layers), {args.prompts_per_step} prompts x "
        f"{args.num_generations} generations, {args.prompt_length}+{args.completion_length} tokens, "
        f"beta {args.beta}, CPU, {args.threads} thread(s)\n"
    )
    print("| trainer | median s/step | min | max | steps timed | mean completion length |")
    print("|---|---|---|---|---|---|")
    for name in ("r1omni", "trl"):
        r = tp[name]
        print(
            f"| {name} | {r['median_s']:.4f} | {r['min_s']:.4f} | {r['max_s']:.4f} | {r['n']} | "
            f"{r['mean_completion_length']:.1f} |"
        )
    print(
        f"\nratio r1omni / trl: {tp['ratio_r1omni_over_trl']:.2f} (medians), "
        f"{tp['ratio_of_min_r1omni_over_trl']:.2f} (fastest steps)"
    )
    if "omni_tiny_feature_cache" in result:
        fc = result["omni_tiny_feature_cache"]
        print("\n| omni tiny, feature cache | median s/step | min | max |\n|---|---|---|---|")
        for name in ("on", "off"):
            print(f"| {name} | {fc[name]['median_s']:.4f} | {fc[name]['min_s']:.4f} | {fc[name]['max_s']:.4f} |")
        print(f"\nspeed-up from the cache (off / on): {fc['speedup_off_over_on']:.2f}x")
    print("\n" + json.dumps(result, indent=2))
    if args.out:
        from r1omni.io import atomic_write_json

        atomic_write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
