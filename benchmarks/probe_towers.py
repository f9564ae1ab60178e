"""Linear probe of frozen towers on SynthEmo (the library code is ``r1omni.base.probe``).

Fits a logistic regression on the train split's pooled tower features (as the projectors see
them, summarised by mean, std, max and mean step over frames / audio tokens) and scores it on
test and ood, for visual-only, audio-only and both, beside the cue-level bound (the same
classifier on the true generating parameters).

    python benchmarks/probe_towers.py --data data/synthemo --out /tmp/probe.json
    python benchmarks/probe_towers.py --data data/synthemo --model runs/x/01_base_model/towers
    python benchmarks/probe_towers.py            # generates --per-class 30 data into /tmp
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from r1omni.base.probe import probe_data
from r1omni.data.synth.separability import to_markdown
from r1omni.io import atomic_write_json
from r1omni.model import OmniModel, OmniProcessor


def default_data() -> Path:
    for candidate in (Path("data/synthemo"), Path("/tmp/probe_towers_synthemo")):
        if (candidate / "train.jsonl").is_file():
            return candidate
    from r1omni.data.synth import generate

    out = Path("/tmp/probe_towers_synthemo")
    generate(out, per_class=30, seed=0, perception=False)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None, help="SynthEmo dir (default: data/synthemo, else generated)")
    parser.add_argument("--model", default=None, help="a saved OmniModel dir (default: the tiny preset, random)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument("--seed", type=int, default=0, help="model seed of the tiny preset")
    parser.add_argument("--visual-grid", type=int, default=None, help="override the preset's visual_grid")
    parser.add_argument("--cache-dir", default=None, help="cache decoded tower inputs here (safetensors)")
    parser.add_argument("--splits", default="test,ood", help="splits to score (default test,ood)")
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    data = Path(args.data) if args.data else default_data()
    overrides = {} if args.visual_grid is None else {"visual_grid": args.visual_grid}
    if args.model:
        model = OmniModel.from_pretrained(args.model).eval()
        processor = OmniProcessor(OmniProcessor.from_preset("tiny").tokenizer, model.config)
    else:
        model = OmniModel.from_preset("tiny", seed=args.seed, **overrides).eval()
        processor = OmniProcessor.from_preset("tiny", **overrides)
    start = time.perf_counter()
    rows = probe_data(model, processor, data, evaluate=args.splits.split(","), cache_dir=args.cache_dir, seed=args.seed)
    seconds = time.perf_counter() - start
    import pandas as pd

    print(f"data: {data}  model: {args.model or 'tiny preset, seed ' + str(args.seed)}  {seconds:.1f} s")
    print(to_markdown(pd.DataFrame(rows)))
    result = {
        "data": str(data),
        "model": args.model,
        "seed": args.seed,
        "rows": rows,
        "seconds": round(seconds, 1),
        "tower_config": {
            "image_size": model.config.image_size,
            "patch_grid": model.config.patch_grid,
            "visual_grid": model.config.visual_grid,
            "audio_pool": model.config.audio_pool,
        },
    }
    if args.out:
        atomic_write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
