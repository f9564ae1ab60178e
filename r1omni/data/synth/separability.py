"""How separable SynthEmo's emotions are from the face alone, the voice alone, and both.

A multinomial logistic regression (standardised inputs) is fitted on the *true generating
parameters* of the train split (``cues["face"]`` / ``cues["voice"]``, the keys of
``emotions.FACE_PARAMS`` / ``VOICE_PARAMS``) and scored on the test split. This is an upper
bound on what a model can read from the pixels and the waveform, and it shows that fusion
matters: each modality alone is ambiguous on its designed hard pairs.

CLI: ``python -m r1omni.data.synth.separability DIR`` prints both tables as markdown.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from r1omni.data.synth.emotions import FACE_HARD_PAIRS, FACE_PARAMS, VOICE_HARD_PAIRS, VOICE_PARAMS
from r1omni.io import read_jsonl

MODALITIES: dict[str, tuple[tuple[str, str], ...]] = {
    "visual": tuple(("face", k) for k in FACE_PARAMS),
    "audio": tuple(("voice", k) for k in VOICE_PARAMS),
    "both": tuple(("face", k) for k in FACE_PARAMS) + tuple(("voice", k) for k in VOICE_PARAMS),
}


def _observable(keys: tuple[tuple[str, str], ...], records: list[dict]) -> tuple[tuple[str, str], ...]:
    """Drop voice parameters an engine did not render (espeak-ng clips list theirs in
    ``cues.voice.rendered``; numpy-voice clips render all of them)."""
    rendered = None
    for rec in records:
        voice = rec.get("cues", {}).get("voice", {}) if isinstance(rec.get("cues"), dict) else {}
        if isinstance(voice, dict) and "rendered" in voice:
            names = set(voice["rendered"])
            rendered = names if rendered is None else rendered & names
    if rendered is None:
        return keys
    return tuple((part, name) for part, name in keys if part != "voice" or name in rendered)


def cue_features(records: list[dict], modality: str, source: str = "?") -> tuple[np.ndarray, np.ndarray]:
    """Feature matrix (N, D) of one modality's generating parameters and labels (N,)."""
    keys = _observable(MODALITIES[modality], records)
    X = np.empty((len(records), len(keys)))
    for i, rec in enumerate(records):
        for j, (part, name) in enumerate(keys):
            try:
                X[i, j] = rec["cues"][part][name]
            except (KeyError, TypeError):
                raise ValueError(
                    f"{source}: record {rec.get('id')!r} has no cues.{part}.{name} (not a SynthEmo manifest?)"
                ) from None
    return X, np.array([rec["label"] for rec in records])


def _fit_score(train: list[dict], test: list[dict], modality: str, src: tuple[str, str], seed: int):
    Xtr, ytr = cue_features(train, modality, src[0])
    Xte, yte = cue_features(test, modality, src[1])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, random_state=seed))
    pred = model.fit(Xtr, ytr).predict(Xte)
    return float(np.mean(pred == yte)), float(balanced_accuracy_score(yte, pred))


def separability(
    data_dir: str | os.PathLike, *, train_split: str = "train", eval_split: str = "test", seed: int = 0
) -> pd.DataFrame:
    """Accuracy and UAR of the classifier per input: rows visual / audio / both."""
    src = (str(Path(data_dir) / f"{train_split}.jsonl"), str(Path(data_dir) / f"{eval_split}.jsonl"))
    train, test = read_jsonl(src[0]), read_jsonl(src[1])
    rows = []
    for modality in MODALITIES:
        acc, uar = _fit_score(train, test, modality, src, seed)
        rows.append({"inputs": modality, "accuracy": round(acc, 3), "uar": round(uar, 3), "n_test": len(test)})
    return pd.DataFrame(rows)


def pair_separability(
    data_dir: str | os.PathLike, *, train_split: str = "train", eval_split: str = "test", seed: int = 0
) -> pd.DataFrame:
    """Two-class accuracy on each designed hard pair, from visual, audio and both inputs."""
    src = (str(Path(data_dir) / f"{train_split}.jsonl"), str(Path(data_dir) / f"{eval_split}.jsonl"))
    train, test = read_jsonl(src[0]), read_jsonl(src[1])
    labels = {r["label"] for r in train}
    rows = []
    for hard_from, pairs in (("face", FACE_HARD_PAIRS), ("voice", VOICE_HARD_PAIRS)):
        for a, b in pairs:
            if not {a, b} <= labels:
                continue
            tr = [r for r in train if r["label"] in (a, b)]
            te = [r for r in test if r["label"] in (a, b)]
            row = {"pair": f"{a} vs {b}", "hard_from": hard_from}
            for modality in MODALITIES:
                row[modality] = round(_fit_score(tr, te, modality, src, seed)[0], 3)
            rows.append(row)
    return pd.DataFrame(rows)


def to_markdown(df: pd.DataFrame) -> str:
    """A plain markdown table (no extra dependency)."""
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(map(str, row)) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m r1omni.data.synth.separability", description=__doc__.split("\n")[0]
    )
    parser.add_argument("data_dir", help="a SynthEmo directory (with train.jsonl and test.jsonl)")
    parser.add_argument("--train-split", default="train")
    parser.add_argument("--eval-split", default="test")
    args = parser.parse_args(argv)
    kw = dict(train_split=args.train_split, eval_split=args.eval_split)
    print(to_markdown(separability(args.data_dir, **kw)))
    print()
    print(to_markdown(pair_separability(args.data_dir, **kw)))


if __name__ == "__main__":
    main()
