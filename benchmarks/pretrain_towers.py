"""Tower pretraining on the perception split, then the linear probe of the trained towers.

Trains the tiny preset's towers with ``r1omni.base.towers.pretrain_towers`` (no label read),
prints held-out R^2 per parameter, R^2 on the labelled splits' true parameters, the probe on
test and ood, and the minutes it took. Every ``TowerPretrainConfig`` field is a flag.

    OMP_NUM_THREADS=1 python benchmarks/pretrain_towers.py --data data/synthemo --num-train-epochs 10 \\
        --cache-dir /tmp/tower_inputs --out /tmp/pretrain.json [--save DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

import numpy as np
import torch

from r1omni.base.probe import probe, tower_inputs
from r1omni.base.towers import TowerPretrainConfig, evaluate_regression, pretrain_towers, regression_targets
from r1omni.data.synth.separability import separability, to_markdown
from r1omni.io import atomic_write_json
from r1omni.model import OmniModel, OmniProcessor


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="data/synthemo")
    parser.add_argument("--out", default=None)
    parser.add_argument("--save", default=None, help="save the OmniModel with the trained towers here")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--model-seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N perception clips")
    parser.add_argument("--checkpoint-dir", default=None)
    parser.add_argument("--no-probe", action="store_true", help="only train and report R^2 (no probe)")
    parser.add_argument(
        "--train-r2", action="store_true", help="also report R^2 on 400 of the training clips (over-fitting check)"
    )
    parser.add_argument("--override", action="append", default=[], help="preset override KEY=INT (e.g. visual_grid=3)")
    parser.add_argument(
        "--vision",
        action="append",
        default=[],
        help="vision tower config KEY=INT (e.g. image_size=112, patch_size=4, hidden_size=64)",
    )
    parser.add_argument("--audio", action="append", default=[], help="audio tower config KEY=INT")
    for f in dataclasses.fields(TowerPretrainConfig):
        kind = type(f.default)
        if kind is bool:
            parser.add_argument(
                f"--{f.name.replace('_', '-')}", type=lambda s: s.lower() in ("1", "true", "yes"), default=f.default
            )
        else:
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=f.default)
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    config = TowerPretrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TowerPretrainConfig)})
    overrides = {k: int(v) for k, v in (o.split("=") for o in args.override)}
    data = Path(args.data)
    from r1omni.model.presets import preset_config_and_tokenizer

    omni_config, tokenizer = preset_config_and_tokenizer("tiny", **overrides)
    omni_config.vision.update({k: int(v) for k, v in (o.split("=") for o in args.vision)})
    omni_config.audio.update({k: int(v) for k, v in (o.split("=") for o in args.audio)})
    torch.manual_seed(args.model_seed)
    model = OmniModel(omni_config)
    processor = OmniProcessor(tokenizer, omni_config)
    t0 = time.perf_counter()
    perception = tower_inputs(data / "perception.jsonl", processor, cache_dir=args.cache_dir, limit=args.limit)
    prep = time.perf_counter() - t0
    result = pretrain_towers(model, perception, config, checkpoint_dir=args.checkpoint_dir)
    print(f"inputs {prep:.1f} s, training {result.seconds / 60:.2f} min")
    for row in result.history:
        print(row)
    out = {
        "config": config.to_dict(),
        "overrides": overrides,
        "vision": args.vision,
        "audio": args.audio,
        "limit": args.limit,
        "history": result.history,
        "r2": result.r2,
        "train_minutes": round(result.seconds / 60, 2),
        "input_seconds": round(prep, 1),
        "threads": torch.get_num_threads(),
    }

    def mean(r2, prefix):
        vals = [v for k, v in r2.items() if k.startswith(prefix)]
        return round(float(np.mean(vals)), 4) if vals else None

    out["r2_mean"] = {p: mean(result.r2, p) for p in ("face.", "frame.", "voice.")}
    if args.train_r2:
        from r1omni.base.towers import _split

        tg = regression_targets(perception.records, perception.frame_times)
        train_idx, _ = _split(len(perception), config)
        r2 = evaluate_regression(model, result.heads, perception, tg, result.target_stats, train_idx[:400])
        out["r2_train"] = r2
        out["r2_train_mean"] = {p: mean(r2, p) for p in ("face.", "frame.", "voice.")}
    print("held-out R^2 means", out["r2_mean"], "train R^2 means", out.get("r2_train_mean"))
    if args.no_probe:
        print({k: v for k, v in result.r2.items() if k.startswith("face.")})
        if args.out:
            atomic_write_json(args.out, out)
        return out
    splits = {
        s: tower_inputs(data / f"{s}.jsonl", processor, cache_dir=args.cache_dir) for s in ("train", "test", "ood")
    }
    # R^2 of the heads on the labelled splits' true parameters (cues only; labels unused here)
    r2_labelled = {}
    for s in ("test", "ood"):
        tg = regression_targets(splits[s].records, splits[s].frame_times)
        r2_labelled[s] = evaluate_regression(model, result.heads, splits[s], tg, result.target_stats)
    rows = probe(model, splits, evaluate=("test", "ood"))
    # diagnostic: the same probe on the heads' predicted parameters (face 11 + voice 8)
    from r1omni.base.probe import fit_score
    from r1omni.base.towers import predict

    head_x = {
        s: torch.cat(
            [predict(model, result.heads, splits[s], result.target_stats)[k] for k in ("face", "voice")], 1
        ).numpy()
        for s in splits
    }
    labels = {s: np.array([r["label"] for r in splits[s].records]) for s in splits}
    out["head_probe"] = {
        s: round(fit_score(head_x["train"], labels["train"], head_x[s], labels[s])[0], 4) for s in ("test", "ood")
    }
    print("probe on the heads' predicted parameters", out["head_probe"])
    bounds = {s: separability(data, eval_split=s).set_index("inputs") for s in ("test", "ood")}
    for row in rows:
        row["cue_accuracy"] = float(bounds[row["split"]].loc[row["inputs"], "accuracy"])
    import pandas as pd

    print(to_markdown(pd.DataFrame(rows)))
    keys = sorted(result.r2)
    print(
        to_markdown(
            pd.DataFrame(
                [
                    {
                        "target": k,
                        "perception_val": result.r2[k],
                        "test": r2_labelled["test"].get(k),
                        "ood": r2_labelled["ood"].get(k),
                    }
                    for k in keys
                ]
            )
        )
    )
    out.update({"r2_labelled": r2_labelled, "probe": rows})
    if args.out:
        atomic_write_json(args.out, out)
    if args.save:
        model.save_pretrained(args.save)
    return out


if __name__ == "__main__":
    main()
