"""How many audio tokens a 2 s clip keeps in the smol preset (docs/tuning.md, "Audio tokens of the
smol preset").

Whisper pads every clip to its 30 s window: 1500 encoder positions, 500 audio tokens after the
projector's average pooling by 3. A SynthEmo clip is 2 s, so 467 of those tokens describe padding.
Three ways to keep fewer, each measured here on the frozen Whisper-base encoder of ``models/smol``:

``w30``       the 30 s window, every position kept: 500 tokens (the paper's layout)
``w30_crop``  the 30 s window, the encoder output cut to the clip's 2 s (first 100 positions): 33 tokens
``w2``        the encoder run on a 2 s window (the first 100 rows of its position table): 33 tokens
``w3``        the same with a 3 s window (the tiny preset's): 50 tokens

Per variant: encoder seconds per clip (median over batches), and two linear probes of the pooled
features as the projector sees them (:func:`r1omni.base.probe.sequence_stats`: mean, std, max, mean
step over the tokens): a logistic regression on emotion (fit on the train subset, scored on the test
subset, beside the same classifier on the true voice parameters: the voice-cue bound) and a ridge
regression of each voice parameter (R^2 on test). Then, in fresh processes (for the peak RSS), one
SFT step (forward + backward + AdamW on cached tower features, batch of 4 ``av`` clips and 60 target
tokens) and one greedy generation (4 prompts x 32 tokens) of the whole smol model at 500 and at 33
audio tokens.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/smol_audio_tokens.py --data data/synthemo \\
        --per-class 40 --out runs/bench/smol_audio_tokens.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

VARIANTS = {  # name: (window seconds, positions kept or None = all)
    "w30": (30, None),
    "w30_crop": (30, 100),
    "w2": (2, None),
    "w3": (3, None),
}


def subset(data: Path, per_class: int, out: Path) -> Path:
    """train/test manifests with the first ``per_class`` clips of each label (absolute video paths)."""
    from r1omni.io import atomic_write_jsonl, read_jsonl

    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        rows, seen = [], {}
        for rec in read_jsonl(data / f"{split}.jsonl"):
            if seen.get(rec["label"], 0) < per_class:
                seen[rec["label"]] = seen.get(rec["label"], 0) + 1
                rows.append({**rec, "video": str((data / rec["video"]).resolve())})
        atomic_write_jsonl(out / f"{split}.jsonl", rows)
    return out


def encode(smol: Path, manifest: Path, seconds: int, batch: int = 8) -> tuple[torch.Tensor, list[dict], list[float]]:
    """(N, 50 * seconds, 512) Whisper-base encoder states of every clip, the records, seconds per clip per batch."""
    from r1omni.data.media import load_clip
    from r1omni.io import read_jsonl
    from r1omni.model import OmniProcessor
    from r1omni.model.towers import load_audio_tower
    from r1omni.progress import progress_bar

    processor = OmniProcessor.from_preset("smol", paths=smol, audio_chunk_seconds=seconds)
    encoder, _ = load_audio_tower(smol / "whisper", max_source_positions=50 * seconds)
    encoder.eval()
    records = read_jsonl(manifest)
    feats, per_clip = [], []
    bar = progress_bar(total=len(records), desc=f"{manifest.stem}, {seconds} s window", unit="clip")
    for start in range(0, len(records), batch):
        chunk = records[start : start + batch]
        audio = [load_clip(r["video"]).audio for r in chunk]
        mel = processor.input_features(audio)
        t0 = time.perf_counter()
        with torch.no_grad():
            feats.append(encoder(input_features=mel).last_hidden_state)
        per_clip.append((time.perf_counter() - t0) / len(chunk))
        bar.update(len(chunk))
    bar.close()
    return torch.cat(feats), records, per_clip


def probes(train: torch.Tensor, test: torch.Tensor, rec_train: list[dict], rec_test: list[dict]) -> dict:
    """:func:`pooled_probes` of Whisper encoder states after the projector's pooling by 3."""
    from r1omni.base.probe import pool_audio

    return {
        "tokens": int(train.shape[1] // 3),
        **pooled_probes(pool_audio(train, 3), pool_audio(test, 3), rec_train, rec_test),
    }


def pooled_probes(train: torch.Tensor, test: torch.Tensor, rec_train: list[dict], rec_test: list[dict]) -> dict:
    """Emotion accuracy (logistic regression) and voice-parameter R^2 (ridge) of (N, S, D) audio
    tokens as the projector sees them, summarised by :func:`r1omni.base.probe.sequence_stats`."""
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from r1omni.base.probe import fit_score, sequence_stats
    from r1omni.base.targets import VOICE_TARGETS, regression_targets

    xtr, xte = sequence_stats(train).numpy(), sequence_stats(test).numpy()
    ytr = np.array([r["label"] for r in rec_train])
    yte = np.array([r["label"] for r in rec_test])
    acc, uar = fit_score(xtr, ytr, xte, yte)
    ones = torch.zeros(len(rec_train), 1), torch.zeros(len(rec_test), 1)
    vtr = regression_targets(rec_train, ones[0])["voice"].numpy()
    vte = regression_targets(rec_test, ones[1])["voice"].numpy()
    ridge = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-1, 4, 11)))
    pred = ridge.fit(xtr, vtr).predict(xte)
    r2 = 1 - ((vte - pred) ** 2).sum(0) / ((vte - vte.mean(0)) ** 2).sum(0)
    return {
        "emotion_accuracy": round(acc, 4),
        "emotion_uar": round(uar, 4),
        "voice_r2": {name: round(float(v), 4) for name, v in zip(VOICE_TARGETS, r2)},
        "voice_r2_mean": round(float(np.mean(r2)), 4),
    }


def step_costs(smol: str, seconds: int, repeats: int) -> dict:
    """One SFT step and one greedy generation of the smol model with a ``seconds`` audio window."""
    from r1omni.data.media import Clip
    from r1omni.model import OmniModel, OmniProcessor

    torch.manual_seed(0)
    model = OmniModel.from_preset("smol", paths=smol, audio_chunk_seconds=seconds)
    processor = OmniProcessor.from_preset("smol", paths=smol, audio_chunk_seconds=seconds)
    rng = np.random.default_rng(0)
    clips = [
        Clip(
            path=f"/mem/{i}.mp4",
            frames=rng.integers(0, 256, (8, 112, 112, 3), dtype=np.uint8),
            audio=(0.1 * rng.standard_normal(32_000)).astype(np.float32),
            sample_rate=16_000,
            audio_missing=False,
            audio_silent=False,
            fps=10.0,
            duration=2.0,
        )
        for i in range(4)
    ]
    target = "<think>The face " + "shows a wide smile and raised brows, " * 5 + "</think><answer>happy</answer>"
    batch = processor(clips, modalities="av", targets=[target] * 4)
    cached = model.encode_media(batch)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    model.train()
    sft = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        loss = model(**cached).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sft.append(time.perf_counter() - t0)
    model.eval()
    prompts = model.encode_media(processor(clips, modalities="av"))
    gen = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        model.generate(prompts, max_new_tokens=32)
        gen.append(time.perf_counter() - t0)
    return {
        "window_s": seconds,
        "audio_tokens": model.config.tokens_per_audio,
        "sequence_tokens": int(batch["input_ids"].shape[1]),
        "sft_step_s": round(float(np.median(sft[1:])), 3),
        "generate_4x32_s": round(float(np.median(gen[1:])), 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="data/synthemo", help="SynthEmo folder (train.jsonl, test.jsonl)")
    parser.add_argument("--smol", default=None, help="installed smol folder (default: models/smol)")
    parser.add_argument("--per-class", type=int, default=40, help="train and test clips per label")
    parser.add_argument("--repeats", type=int, default=3, help="timed SFT steps / generations per window")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated subset of {list(VARIANTS)}")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument("--step", type=int, default=None, help=argparse.SUPPRESS)  # child process: one window
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from r1omni.model.presets import smol_dir

    smol = smol_dir(args.smol)
    if args.step is not None:
        print(json.dumps(step_costs(str(smol), args.step, args.repeats)))
        return {}
    from r1omni.data.synth.separability import separability

    result: dict = {"data": str(args.data), "per_class": args.per_class, "threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as tmp:
        sub = subset(Path(args.data), args.per_class, Path(tmp))
        bound = separability(sub).set_index("inputs")
        result["voice_cue_bound"] = float(bound.loc["audio", "accuracy"])
        result["n_train"], result["n_test"] = (sum(1 for _ in open(sub / f"{s}.jsonl")) for s in ("train", "test"))
        names = args.variants.split(",")
        encoded: dict[int, tuple] = {}
        for seconds in sorted({VARIANTS[n][0] for n in names}):
            tr, rtr, ttr = encode(smol, sub / "train.jsonl", seconds)
            te, rte, tte = encode(smol, sub / "test.jsonl", seconds)
            encoded[seconds] = (tr, te, rtr, rte, float(np.median(ttr + tte)))
        result["variants"] = {}
        for name in names:
            seconds, keep = VARIANTS[name]
            tr, te, rtr, rte, per_clip = encoded[seconds]
            row = probes(tr[:, :keep], te[:, :keep], rtr, rte)
            row["encoder_s_per_clip"] = round(per_clip, 4)
            row["share_of_bound"] = round(row["emotion_accuracy"] / result["voice_cue_bound"], 3)
            result["variants"][name] = row
            print(name, json.dumps(row), flush=True)
    result["steps"] = {}
    for seconds in (30, 2):
        out = subprocess.run(
            [sys.executable, __file__, "--step", str(seconds), "--repeats", str(args.repeats), "--smol", str(smol)],
            check=True,
            capture_output=True,
            text=True,
        )
        result["steps"][f"w{seconds}"] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"w{seconds}", out.stdout.strip().splitlines()[-1], flush=True)
    s30, s2 = result["steps"]["w30"], result["steps"]["w2"]
    result["ratios_w30_over_w2"] = {
        k: round(s30[k] / s2[k], 2) for k in ("sft_step_s", "generate_4x32_s", "peak_rss_mib", "sequence_tokens")
    }
    print(json.dumps(result["ratios_w30_over_w2"]))
    if args.out:
        from r1omni.io import atomic_write_json

        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
