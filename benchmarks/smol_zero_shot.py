"""What the smol preset answers to the emotion question before any training (README, "Real
pretrained parts, offline: the smol preset").

One test clip per label of a SynthEmo set, greedy decoding of ``--max-new-tokens`` tokens, asked
three ways: the question alone (``t``: only SmolLM2-135M-Instruct's own knowledge), with the audio
(``a``) and with both (``av``; the untrained projectors feed the LM random-looking media
embeddings). Per answer: the text, the emotion it names in ``<answer>`` (``parse_answer``), the
format reward, and the first emotion word of the text (``normalize_label`` over its words).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/smol_zero_shot.py --data data/synthemo \\
        --out runs/bench/smol_zero_shot.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

import torch

MODALITIES = ("t", "a", "av")


def first_emotion_word(text: str) -> str | None:
    """The first word (or word pair) of ``text`` that names an emotion label, canonical."""
    from r1omni.rewards.emotion import normalize_label

    words = re.findall(r"[a-z]+", text.lower())
    for i, word in enumerate(words):
        for cand in (f"{word} {words[i + 1]}" if i + 1 < len(words) else None, word):
            if cand and (label := normalize_label(cand)):
                return label
    return None


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="data/synthemo", help="SynthEmo folder (test.jsonl)")
    parser.add_argument("--smol", default=None, help="installed smol folder (default: models/smol)")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="greedy completion budget")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fresh projectors")
    parser.add_argument("--out", default=None, help="write the answers as JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

    from r1omni.data.media import load_clip
    from r1omni.io import read_jsonl
    from r1omni.model import OmniModel, OmniProcessor
    from r1omni.model.presets import smol_dir
    from r1omni.rewards.emotion import format_reward, parse_answer

    smol = smol_dir(args.smol)
    model = OmniModel.from_preset("smol", seed=args.seed, paths=smol).eval()
    processor = OmniProcessor.from_preset("smol", paths=smol)
    data = Path(args.data)
    records, seen = [], set()
    for rec in read_jsonl(data / "test.jsonl"):
        if rec["label"] not in seen:
            seen.add(rec["label"])
            records.append(rec)
    clips = [load_clip(data / rec["video"]) for rec in records]
    rows = []
    for mods in MODALITIES:
        t0 = time.perf_counter()
        batch = processor([None if mods == "t" else c for c in clips], modalities=mods)
        out = model.generate(batch, max_new_tokens=args.max_new_tokens)
        texts = processor.batch_decode(out.completion_ids)
        seconds = time.perf_counter() - t0
        for rec, text, fmt in zip(records, texts, format_reward(texts)):
            rows.append(
                {
                    "modalities": mods,
                    "label": rec["label"],
                    "answer": parse_answer(text),
                    "format_reward": fmt,
                    "first_emotion_word": first_emotion_word(text),
                    "text": text,
                }
            )
        print(f"{mods}: {len(texts)} answers in {seconds:.1f} s", flush=True)
    summary = {
        mods: {
            "answers_in_tags": sum(r["answer"] is not None for r in rows if r["modalities"] == mods),
            "format_reward_mean": round(
                sum(r["format_reward"] for r in rows if r["modalities"] == mods) / len(records), 3
            ),
            "names_an_emotion": sum(r["first_emotion_word"] is not None for r in rows if r["modalities"] == mods),
            "first_emotion_word_correct": sum(
                r["first_emotion_word"] == r["label"] for r in rows if r["modalities"] == mods
            ),
            "clips": len(records),
        }
        for mods in MODALITIES
    }
    for row in rows:
        print(f"[{row['modalities']}] {row['label']}: {row['text']!r}")
    print(json.dumps(summary, indent=1))
    result = {"max_new_tokens": args.max_new_tokens, "summary": summary, "answers": rows}
    if args.out:
        from r1omni.io import atomic_write_json

        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
