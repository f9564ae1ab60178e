"""Captioning alignment of the base model, on towers already pretrained: held-out caption F1.

Trains the projectors and LM of a saved policy (the towers frozen) on the perception clips the base
learns from, with the SFT trainer's ``perception`` preset plus overrides, then captions held-out
perception clips greedily and scores them (``r1omni.data.synth.caption.caption_scores``). Used to
choose the alignment recipe (``docs/tuning.md``).

    OMP_NUM_THREADS=1 python benchmarks/base_alignment.py --policy runs/basedev/01_base_model/towers_model \\
        --fit runs/basedev/01_base_model/perception_fit.jsonl \\
        --heldout runs/basedev/01_base_model/perception_heldout.jsonl --out /tmp/align --sft learning_rate=3e-3
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

from r1omni.data.synth.caption import describe
from r1omni.evaluate import EvalConfig
from r1omni.evaluate.captions import caption_split
from r1omni.io import atomic_write_json, atomic_write_jsonl
from r1omni.sft import SFTConfig, train_sft


def _overrides(items: list[str]) -> dict:
    """``["learning_rate=3e-3"]`` -> ``{"learning_rate": 0.003}`` (Python literals)."""
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = ast.literal_eval(value)
    return out


def _rewritten_captions(fit: Path, out: Path, ordered: bool) -> Path:
    """``fit`` with every caption (and gpt turn) rewritten by ``describe(present, rng, ordered=ordered)``."""
    records = [json.loads(line) for line in fit.read_text().splitlines() if line.strip()]
    for rec in records:
        rng = np.random.default_rng(int(rec["id"].rsplit("_", 1)[1]))
        rec["caption"] = describe(rec["cues"]["present"], rng, ordered=ordered)
        rec["conversations"][1]["value"] = rec["caption"]
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(fit.parent / "media_roots.json", out / "media_roots.json")
    return atomic_write_jsonl(out / f"fit_{'cues' if ordered else 'random'}_order.jsonl", records)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--policy", required=True, help="a saved policy with pretrained towers")
    parser.add_argument("--fit", required=True, help="perception clips to align on")
    parser.add_argument("--heldout", required=True, help="held-out perception clips to caption")
    parser.add_argument("--out", required=True)
    parser.add_argument("--preset", default="perception")
    parser.add_argument("--sft", action="append", default=[], help="SFTConfig override KEY=VALUE")
    parser.add_argument("--num-captions", type=int, default=100, help="held-out clips captioned")
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument(
        "--order",
        choices=("data", "cues", "random"),
        default="data",
        help="keep the fit captions as the data has them, or rewrite them with the cues in CUES order "
        "(caption version 2) or in random order (version 1)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    out = Path(args.out)
    overrides = _overrides(args.sft)
    config = SFTConfig.from_preset(args.preset, **overrides)
    fit = args.fit if args.order == "data" else _rewritten_captions(Path(args.fit), out, args.order == "cues")
    start = time.perf_counter()
    result = train_sft(config, args.policy, fit, out / "alignment", model_dir=out / "model")
    train_s = time.perf_counter() - start
    eval_config = EvalConfig(max_examples=args.num_captions, max_new_tokens=args.max_new_tokens, batch_size=16)
    rows, scores = caption_split(out / "model", args.heldout, out / "captions.jsonl", eval_config, name="base")
    report = {
        "command": "OMP_NUM_THREADS=1 python benchmarks/base_alignment.py " + " ".join(argv or sys.argv[1:]),
        "overrides": overrides,
        "steps": result.steps,
        "final_loss": result.final_loss,
        "train_s": train_s,
        "n": scores["n"],
        "overall": {k: scores["overall"][k] for k in ("precision", "recall", "f1")},
        "modality": {m: round(v["f1"], 3) for m, v in scores["modality"].items()},
        "examples": [{"completion": r["completion"], "truth": r["truth"]} for r in rows[:3]],
    }
    atomic_write_json(out / "report.json", report)
    print(json.dumps({k: v for k, v in report.items() if k != "examples"}, indent=1))
    for ex in report["examples"]:
        print(ex["completion"][:240], "| truth:", ex["truth"])
    return report


if __name__ == "__main__":
    main()
