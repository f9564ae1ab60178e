"""Benchmark the tiny omni model on CPU: processor, forward, generate (KV cache on/off), a
training step with raw media vs cached tower features, and peak memory.

    python benchmarks/bench_model.py --threads 1 --out runs/bench/model.json

Clips are SynthEmo-like and built in memory (8 frames of 112x112 RGB, 2 s of 16 kHz audio), all
with both modalities ("av"). Times are medians over ``--repeats`` runs after one warm-up.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time

import numpy as np
import torch

from r1omni.data.media import Clip
from r1omni.io import atomic_write_json
from r1omni.model import FeatureCache, OmniModel, OmniProcessor

TARGET = "<think>The character's face has smiling lips and the voice has a lively melody.</think><answer>happy</answer>"


def synth_like_clips(n: int, seed: int = 0) -> list[Clip]:
    rng = np.random.default_rng(seed)
    return [
        Clip(
            path=f"/mem/bench{i}.mp4",
            frames=rng.integers(0, 256, (8, 112, 112, 3), dtype=np.uint8),
            audio=(0.1 * rng.standard_normal(32000)).astype(np.float32),
            sample_rate=16000,
            audio_missing=False,
            audio_silent=False,
            fps=10.0,
            duration=2.0,
        )
        for i in range(n)
    ]


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("OMP_NUM_THREADS", 1)),
        help="torch.set_num_threads (default: $OMP_NUM_THREADS or 1)",
    )
    ap.add_argument("--batch", type=int, default=4, help="clips per batch")
    ap.add_argument("--num-generations", type=int, default=4, help="num_return_sequences (GRPO group size)")
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cache-dir", default="/tmp/r1omni_bench_feature_cache", help="FeatureCache directory")
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    model, processor = OmniModel.from_preset("tiny", seed=0), OmniProcessor.from_preset("tiny")
    clips = synth_like_clips(args.batch)
    batch = processor(clips, modalities="av")
    train_batch = processor(clips, modalities="av", targets=[TARGET] * args.batch)
    prompt_tokens = int(batch["attention_mask"].sum())
    results: dict[str, float] = {}

    results["processor_s"] = median_seconds(lambda: processor(clips, modalities="av"), args.repeats)
    model.eval()
    with torch.no_grad():
        results["forward_s"] = median_seconds(lambda: model(**batch), args.repeats)
    results["forward_tokens_per_s"] = prompt_tokens / results["forward_s"]

    # sampled rows may stop at eos early: count the completion tokens actually produced
    def gen(use_cache: bool):
        out = model.generate(
            batch,
            max_new_tokens=args.max_new_tokens,
            do_sample=True,
            temperature=1.0,
            num_return_sequences=args.num_generations,
            use_cache=use_cache,
            generator=torch.Generator().manual_seed(0),
        )
        return int(out.completion_mask.sum())

    produced = gen(True)
    results["generate_s"] = median_seconds(lambda: gen(True), args.repeats)
    results["generate_no_cache_s"] = median_seconds(lambda: gen(False), args.repeats)
    results["generated_tokens"] = produced
    results["generate_tokens_per_s"] = produced / results["generate_s"]
    results["kv_cache_speedup"] = results["generate_no_cache_s"] / results["generate_s"]

    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step(b):
        loss = model(**b).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    cache = FeatureCache(args.cache_dir)
    cached_batch = cache.encode(model, train_batch, clips)
    results["train_step_raw_s"] = median_seconds(lambda: step(train_batch), args.repeats)
    results["train_step_cached_s"] = median_seconds(lambda: step(cached_batch), args.repeats)
    results["cache_lookup_s"] = median_seconds(lambda: cache.encode(model, train_batch, clips), args.repeats)
    results["train_step_speedup_with_cache"] = results["train_step_raw_s"] / results["train_step_cached_s"]
    results["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    meta = {
        "threads": args.threads,
        "batch": args.batch,
        "num_generations": args.num_generations,
        "max_new_tokens": args.max_new_tokens,
        "prompt_tokens_per_clip": prompt_tokens // args.batch,
        "parameters": sum(p.numel() for p in model.parameters()),
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
    }
    print(
        f"tiny omni model, CPU, {args.threads} thread(s), batch {args.batch} x 'av' clips "
        f"({meta['prompt_tokens_per_clip']} prompt tokens each)\n"
    )
    print("| measure | value |\n|---|---|")
    rows = [
        ("processor (batch)", f"{results['processor_s'] * 1e3:.1f} ms"),
        ("forward (batch)", f"{results['forward_s'] * 1e3:.1f} ms"),
        ("forward throughput", f"{results['forward_tokens_per_s']:.0f} tokens/s"),
        (
            f"generate {args.batch}x{args.num_generations}x{args.max_new_tokens}",
            f"{results['generate_s'] * 1e3:.1f} ms",
        ),
        ("generate throughput", f"{results['generate_tokens_per_s']:.0f} new tokens/s"),
        ("KV cache speed-up", f"{results['kv_cache_speedup']:.2f}x"),
        ("train step, raw media", f"{results['train_step_raw_s'] * 1e3:.1f} ms"),
        ("train step, cached features", f"{results['train_step_cached_s'] * 1e3:.1f} ms"),
        ("feature-cache speed-up", f"{results['train_step_speedup_with_cache']:.2f}x"),
        ("cache lookup (batch)", f"{results['cache_lookup_s'] * 1e3:.1f} ms"),
        ("peak RSS", f"{results['peak_rss_mib']:.0f} MiB"),
    ]
    for name, value in rows:
        print(f"| {name} | {value} |")
    if args.out:
        atomic_write_json(args.out, {"results": results, "meta": meta})
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
