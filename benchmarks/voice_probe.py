"""How much of SynthEmo's voice cues frozen Whisper-base carries, against the tiny audio tower.

Three audio towers on the same clips (the first ``--per-class`` train and test clips of each label):
the smol preset's frozen Whisper-base (its 2 s window, pooled by 3: 33 tokens), the tiny audio tower
trained by notebook 01's tower pretraining (the shared base, ``data/bases/pretrained``), and the
same tiny tower untrained (its random DCT initialisation, ``tiny`` preset, seed 0). For each, as
the audio projector sees them (:func:`r1omni.base.probe.sequence_stats` of its pooled tokens): a
logistic-regression probe of emotion (fit on train, scored on test), its share of the voice-cue
bound (the same classifier on the clips' true voice parameters), and a ridge regression of each
voice parameter (R^2 on test).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/voice_probe.py --data data/synthemo \\
        --base data/bases/pretrained --out runs/bench/voice_probe.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from smol_audio_tokens import encode, pooled_probes, subset  # noqa: E402


def tiny_audio_tokens(model, processor, manifest: Path) -> tuple[torch.Tensor, list[dict]]:
    """(N, S', D) pooled audio tokens of a tiny-tower model for every clip of ``manifest``."""
    from r1omni.base.probe import pooled_features, tower_inputs

    inputs = tower_inputs(manifest, processor, progress=False)
    return pooled_features(model, inputs)[1], inputs.records


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/synthemo", help="SynthEmo folder (train.jsonl, test.jsonl)")
    parser.add_argument("--base", default="data/bases/pretrained", help="a base folder built by notebook 01")
    parser.add_argument("--smol", default=None, help="installed smol folder (default: models/smol)")
    parser.add_argument("--per-class", type=int, default=40, help="train and test clips per label")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from r1omni.base.probe import pool_audio
    from r1omni.data.synth.separability import separability
    from r1omni.model.policy_io import load_policy, load_preset
    from r1omni.model.presets import smol_dir

    base_model = Path(args.base) / "model"
    if not (base_model / "config.json").is_file():
        raise FileNotFoundError(f"{base_model.resolve()}: no base model (build one with notebook 01)")
    result: dict = {"data": str(args.data), "base": str(args.base), "per_class": args.per_class}
    with tempfile.TemporaryDirectory() as tmp:
        sub = subset(Path(args.data), args.per_class, Path(tmp))
        result["voice_cue_bound"] = float(separability(sub).set_index("inputs").loc["audio", "accuracy"])
        towers = {}
        tr, rtr, _ = encode(smol_dir(args.smol), sub / "train.jsonl", 2)
        te, rte, _ = encode(smol_dir(args.smol), sub / "test.jsonl", 2)
        towers["whisper-base (smol, frozen)"] = (pool_audio(tr, 3), pool_audio(te, 3), rtr, rte)
        for name, (model, processor) in (
            ("tiny, trained (base)", load_policy(base_model)),
            ("tiny, random", load_preset("tiny", seed=0)),
        ):
            model.eval()
            tr, rtr = tiny_audio_tokens(model, processor, sub / "train.jsonl")
            te, rte = tiny_audio_tokens(model, processor, sub / "test.jsonl")
            towers[name] = (tr, te, rtr, rte)
        result["n_train"], result["n_test"] = len(rtr), len(rte)
        result["towers"] = {}
        for name, (tr, te, rtr, rte) in towers.items():
            row = {"tokens": int(tr.shape[1]), "dim": int(tr.shape[2]), **pooled_probes(tr, te, rtr, rte)}
            row["share_of_bound"] = round(row["emotion_accuracy"] / result["voice_cue_bound"], 3)
            result["towers"][name] = row
    print(f"voice-cue bound (true voice parameters): {result['voice_cue_bound'] * 100:.1f} %")
    print("| audio tower | tokens x dim | emotion probe | share of bound | voice R^2 (mean) |")
    print("|---|---|---|---|---|")
    for name, r in result["towers"].items():
        print(
            f"| {name} | {r['tokens']} x {r['dim']} | {r['emotion_accuracy'] * 100:.1f} % | {r['share_of_bound']:.2f}"
            f" | {r['voice_r2_mean']:.2f} |"
        )
    for name, r in result["towers"].items():
        print(name, json.dumps(r["voice_r2"]))
    if args.out:
        from r1omni.io import atomic_write_json

        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
