"""``[accelerate launch -m] python -m r1omni.sft --policy tiny --manifest M --output DIR``: one SFT run."""

from __future__ import annotations

import argparse
import json
import sys

from r1omni.sft.config import SFT_PRESETS, SFTConfig
from r1omni.sft.trainer import train_sft


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m r1omni.sft", description="Cold-start / label-only SFT (r1omni)")
    parser.add_argument("--preset", default="course", help=f"SFT preset, one of {sorted(SFT_PRESETS)}")
    parser.add_argument(
        "--set", default="{}", help="JSON object of SFTConfig fields to override, e.g. '{\"max_steps\": 5}'"
    )
    parser.add_argument("--policy", required=True, help="saved policy dir or model preset name (e.g. tiny)")
    parser.add_argument("--manifest", required=True, help="training manifest (coldstart.jsonl or train.jsonl)")
    parser.add_argument("--output", required=True, help="output dir (metrics.jsonl, tb/, checkpoints/)")
    parser.add_argument("--model-dir", default=None, help="where the trained policy goes (default OUTPUT/model)")
    args = parser.parse_args(argv)
    try:
        config = SFTConfig.from_preset(args.preset, **json.loads(args.set))
    except (ValueError, TypeError) as err:
        parser.error(str(err))
    result = train_sft(config, args.policy, args.manifest, args.output, model_dir=args.model_dir)
    print(
        json.dumps(
            {
                "model_dir": result.model_dir,
                "steps": result.steps,
                "final_loss": result.final_loss,
                "resumed_from": result.resumed_from,
                "seconds": result.seconds,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
