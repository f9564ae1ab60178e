"""Reference: the ``course_label_only`` SFT (answer-only targets on train.jsonl, from the tiny base),
greedy WAR / UAR on the chosen splits; one JSON line per seed appended to ``--log``.

    OMP_NUM_THREADS=1 python benchmarks/label_only_ref.py --data /work/data12c/oracle --seeds 0
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from grpo_tune import evaluate

from r1omni.sft import SFTConfig, train_sft


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--seeds", default="0")
    p.add_argument("--splits", default="test,ood")
    p.add_argument("--work", default="/work/tune12c")
    p.add_argument("--log", default="docs/tuning_grpo_label_only.jsonl")
    args = p.parse_args()
    data, work = Path(args.data), Path(args.work)
    for seed in [int(s) for s in args.seeds.split(",")]:
        root = work / f"label_only_{seed}"
        t0 = time.perf_counter()
        res = train_sft(
            SFTConfig.from_preset("course_label_only", seed=seed, show_progress=False),
            "tiny",
            data / "train.jsonl",
            root,
            model_dir=root / "model",
        )
        row = {
            "seed": seed,
            "sft_s": time.perf_counter() - t0,
            "scores": evaluate(Path(res.model_dir), data, args.splits.split(","), root, 96),
        }
        with open(args.log, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
