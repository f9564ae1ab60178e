"""pass@k of two checkpoints on the same clips (notebook 04's sampling, outside a run folder), and
the reading of what the second did to the first: sharpening or new capability.

For tuning runs made by ``benchmarks/grpo_tune.py``, whose cold start and RLVR models live in
its ``--work`` folder rather than in ``runs/<run_id>/``:

    OMP_NUM_THREADS=1 python benchmarks/pass_at_k_pair.py --data data/synthemo_oracle \\
        --before /work/tune13/s2/cold_2_<key>/model --after /work/tune13/s2/grpo_cold140_600_s2/model \\
        --out /work/tune13/passk_cold140_600_s2.json

``--before`` / ``--after`` are a grpo_tune row's ``cold_model_dir`` / ``rlvr_model_dir``. The
budget defaults to grpo_tune's greedy 96 tokens (notebook 04 samples with 128).

Samples go to ``--work`` (``<model>_<split>_samples.jsonl``, reused only for the same checkpoint,
settings and data, as in notebook 04); the JSON holds pass@k with its 95 % intervals per model and
split, and :func:`r1omni.evaluate.sampling.pass_at_k_reading`'s sentences.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from r1omni.evaluate.decode import EvalConfig
from r1omni.evaluate.sampling import pass_at_k_metrics, pass_at_k_reading, sample_models
from r1omni.io import atomic_write_json


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="SynthEmo folder (r1omni.data.synth output)")
    p.add_argument("--before", required=True, help="model dir reported as cold_start")
    p.add_argument("--after", required=True, help="model dir reported as rlvr")
    p.add_argument("--splits", default="test,ood", help="comma-separated splits")
    p.add_argument("--num-samples", type=int, default=8, help="completions per clip (n)")
    p.add_argument("--max-new-tokens", type=int, default=96, help="sampling budget per completion")
    p.add_argument("--max-examples", type=int, default=0, help="a seeded subset of clips per split (0 = all)")
    p.add_argument("--work", default="", help="folder for the samples (default: beside --out)")
    p.add_argument("--out", required=True, help="JSON with pass@k and the reading")
    p.add_argument("--label", default="", help="free text stored in the JSON (e.g. the trial and seed)")
    args = p.parse_args(argv)
    out = Path(args.out)
    work = Path(args.work) if args.work else out.with_suffix("")
    splits = [s for s in args.splits.split(",") if s]
    config = EvalConfig(
        batch_size=16,
        max_new_tokens=args.max_new_tokens,
        num_samples=args.num_samples,
        max_examples=args.max_examples or None,
    )
    models = {"cold_start": args.before, "rlvr": args.after}
    results = sample_models(models, {s: Path(args.data) / f"{s}.jsonl" for s in splits}, work, config)
    reading = pass_at_k_reading(results, splits=splits, n_boot=config.n_boot, seed=config.seed)
    settings = {
        "num_samples": config.num_samples,
        "temperature": config.sample_temperature,
        "max_new_tokens": config.max_new_tokens,
        "max_examples": config.max_examples,
        "splits": splits,
    }
    atomic_write_json(
        out,
        {
            "label": args.label,
            "models": models,
            "data": args.data,
            "settings": settings,
            "pass_at_k": pass_at_k_metrics(results),
            "reading": reading,
        },
    )
    print(reading, flush=True)


if __name__ == "__main__":
    main()
