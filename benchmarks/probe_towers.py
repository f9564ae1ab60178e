"""Linear probe of the tiny preset's frozen towers on SynthEmo.

Extracts, per clip, the frozen-tower features as the projectors see them (vision: hidden layer
``vision_feature_layer`` average-pooled to the ``visual_grid`` grid per frame, then mean and std
over frames; audio: encoder states average-pooled by ``audio_pool``; then, over frames / audio
tokens, the fixed statistics mean, std, max and mean absolute step ``|x_{t+1} - x_t|``),
fits a logistic regression (scikit-learn) on train and scores test, for visual-only, audio-only
and both. Printed next to the cue-level separability (``r1omni.data.synth.separability``: the same
classifier on the true generating parameters, an upper bound for what the towers could carry).

    python benchmarks/probe_towers.py --data data/synthemo --out /tmp/probe.json
    python benchmarks/probe_towers.py            # generates --per-class 30 data into /tmp
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from r1omni.data.dataset import ClipCache, ManifestDataset
from r1omni.data.synth.separability import separability, to_markdown
from r1omni.io import atomic_write_json
from r1omni.model import OmniModel, OmniProcessor
from r1omni.model.towers import audio_features, vision_features


def default_data() -> Path:
    for candidate in (Path("data/synthemo"), Path("/tmp/probe_towers_synthemo")):
        if (candidate / "train.jsonl").is_file():
            return candidate
    from r1omni.data.synth import generate

    out = Path("/tmp/probe_towers_synthemo")
    generate(out, per_class=30, seed=0)
    return out


def sequence_stats(x: torch.Tensor) -> torch.Tensor:
    """(N, T, D) -> (N, 4*D): mean, std, max and mean |x_{t+1} - x_t| over T."""
    step = (x[:, 1:] - x[:, :-1]).abs().mean(1)
    return torch.cat([x.mean(1), x.std(1), x.amax(1), step], 1)


@torch.no_grad()
def clip_features(
    model: OmniModel, processor: OmniProcessor, dataset: ManifestDataset, batch_size: int = 32
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(visual (N, 4*k*k*Dv), audio (N, 4*Da), labels (N,)): projector pooling + sequence_stats."""
    cfg = model.config
    vis, aud, labels = [], [], []
    for start in tqdm(range(0, len(dataset), batch_size), desc=f"features {dataset.manifest.name}"):
        items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        batch = processor([it["clip"] for it in items], modalities="av")
        v = vision_features(model.vision_tower, batch["pixel_values"], cfg.vision_feature_layer)  # (N, T, g*g, Dv)
        n, t, _, d = v.shape
        g, k = cfg.patch_grid, cfg.visual_grid
        v = torch.nn.functional.adaptive_avg_pool2d(v.reshape(n * t, g, g, d).permute(0, 3, 1, 2), k)
        v = v.reshape(n, t, -1)  # (N, T, Dv*k*k)
        vis.append(sequence_stats(v))
        a = audio_features(model.audio_tower, batch["input_features"])  # (N, S, Da)
        a = torch.nn.functional.avg_pool1d(a.transpose(1, 2), cfg.audio_pool, cfg.audio_pool)  # (N, Da, S')
        aud.append(sequence_stats(a.transpose(1, 2)))
        labels += [it["label"] for it in items]
    return torch.cat(vis).numpy(), torch.cat(aud).numpy(), np.array(labels)


def fit_score(xtr, ytr, xte, yte, seed: int = 0) -> tuple[float, float]:
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=0.1, random_state=seed))
    pred = clf.fit(xtr, ytr).predict(xte)
    return float(np.mean(pred == yte)), float(balanced_accuracy_score(yte, pred))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None, help="SynthEmo dir (default: data/synthemo, else generated)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument("--seed", type=int, default=0, help="model seed of the tiny preset")
    parser.add_argument("--visual-grid", type=int, default=None, help="override the preset's visual_grid")
    parser.add_argument("--clip-cache", default=None, help="ClipCache dir for decoded clips")
    args = parser.parse_args(argv)
    data = Path(args.data) if args.data else default_data()
    torch.manual_seed(args.seed)
    overrides = {} if args.visual_grid is None else {"visual_grid": args.visual_grid}
    model = OmniModel.from_preset("tiny", seed=args.seed, **overrides).eval()
    processor = OmniProcessor.from_preset("tiny", **overrides)
    cache = ClipCache(args.clip_cache)
    start = time.perf_counter()
    train = clip_features(model, processor, ManifestDataset(data / "train.jsonl", target="none", cache=cache))
    test = clip_features(model, processor, ManifestDataset(data / "test.jsonl", target="none", cache=cache))
    seconds = time.perf_counter() - start
    cues = separability(data).set_index("inputs")
    rows = []
    for name, cols in (("visual", [0]), ("audio", [1]), ("both", [0, 1])):
        xtr = np.concatenate([train[c] for c in cols], 1)
        xte = np.concatenate([test[c] for c in cols], 1)
        acc, uar = fit_score(xtr, train[2], xte, test[2], args.seed)
        rows.append(
            {
                "inputs": name,
                "tower_accuracy": round(acc, 3),
                "tower_uar": round(uar, 3),
                "cue_accuracy": float(cues.loc[name, "accuracy"]),
                "dim": int(xtr.shape[1]),
                "n_train": len(train[2]),
                "n_test": len(test[2]),
            }
        )
    import pandas as pd

    print(f"data: {data}  chance: {1 / len(set(train[2])):.3f}  feature extraction: {seconds:.1f} s")
    print(to_markdown(pd.DataFrame(rows)))
    result = {
        "data": str(data),
        "seed": args.seed,
        "rows": rows,
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
