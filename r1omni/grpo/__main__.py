"""``[accelerate launch -m] python -m r1omni.grpo --policy DIR --data DIR --output DIR``: one GRPO run.

Without ``--config`` the ``--preset`` is used (default ``r1omni``, the paper's settings).
"""

from __future__ import annotations

import argparse
import sys

from r1omni.grpo.config import PRESETS, GRPOConfig
from r1omni.grpo.trainer import train_grpo
from r1omni.io import read_json


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m r1omni.grpo", description="GRPO training (r1omni)")
    p.add_argument("--config", help="GRPOConfig as JSON (GRPOConfig.to_dict); default: the preset")
    p.add_argument("--preset", default="r1omni", help=f"preset when --config is not given, one of {sorted(PRESETS)}")
    p.add_argument("--policy", required=True, help="saved policy dir or omni preset name")
    p.add_argument("--data", required=True, help="manifest .jsonl or data dir")
    p.add_argument("--output", required=True, help="output dir (e.g. runs/<run_id>/03_rlvr_grpo)")
    args = p.parse_args(argv)
    try:
        config = GRPOConfig.from_dict(read_json(args.config)) if args.config else GRPOConfig.from_preset(args.preset)
    except (ValueError, TypeError, FileNotFoundError) as err:
        p.error(str(err))
    result = train_grpo(config, args.policy, args.data, args.output)
    print(f"{result.steps} steps -> {result.model_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
