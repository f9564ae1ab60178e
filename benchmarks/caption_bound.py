"""What the frozen towers' features allow a caption to say: per-cue linear probes, against the base.

For every cue, a logistic regression on the probe features of the towers (``r1omni.base.probe``:
the pooled features' mean, std, max and mean absolute step) predicts "present" from the fit
clips' ``cues.present``, and names the cues it finds on held-out perception clips. Its caption F1
(``r1omni.data.synth.caption.caption_scores``) is what a perfect LM reading these features
linearly would reach; beside it the best constant caption (the cues present in at least
``--prior`` of the fit clips) and, with ``--captions``, the base's own greedy captions.

    OMP_NUM_THREADS=1 python benchmarks/caption_bound.py --policy data/bases/pretrained/towers_model \\
        --fit data/bases/pretrained/perception_fit.jsonl --heldout data/bases/pretrained/perception_heldout.jsonl \\
        --captions runs/<run_id>/01_base_model/captions/heldout.jsonl --cache data/bases/pretrained/inputs_cache
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch

from r1omni.base.probe import PROBE_C, probe_features, tower_inputs
from r1omni.data.synth.caption import caption_scores
from r1omni.data.synth.cues import CUES
from r1omni.io import read_jsonl
from r1omni.model import load_policy


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--policy", required=True, help="a saved policy whose towers are probed")
    parser.add_argument("--fit", required=True)
    parser.add_argument("--heldout", required=True)
    parser.add_argument("--captions", default="", help="the base's held-out caption rows (optional)")
    parser.add_argument("--cache", default=None, help="tower_inputs cache folder")
    parser.add_argument("--prior", type=float, default=0.5)
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model, processor = load_policy(args.policy)
    feats = {}
    truth = {}
    for name in ("fit", "heldout"):
        inputs = tower_inputs(getattr(args, name), processor, cache_dir=args.cache, progress=False)
        v, a = probe_features(model, inputs)
        feats[name] = {"face": v, "voice": a}
        truth[name] = [set(r["cues"]["present"]) for r in inputs.records]
    predicted = [set() for _ in truth["heldout"]]
    prior = [set() for _ in truth["heldout"]]
    for cue, info in CUES.items():
        y = np.array([cue in t for t in truth["fit"]])
        if y.mean() >= args.prior:
            for p in prior:
                p.add(cue)
        if y.all() or not y.any():
            continue
        x_fit, x_held = feats["fit"][info.modality], feats["heldout"][info.modality]
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=PROBE_C))
        for p, hit in zip(predicted, clf.fit(x_fit, y).predict(x_held)):
            if hit:
                p.add(cue)
    rows = {"linear probe per cue": caption_scores(predicted, truth["heldout"])}
    rows[f"constant (cues in >= {args.prior:.0%} of fit clips)"] = caption_scores(prior, truth["heldout"])
    if args.captions:
        caps = {r["id"]: r["predicted"] for r in read_jsonl(args.captions)}
        ids = [r["id"] for r in read_jsonl(args.heldout)]
        kept = [i for i, cid in enumerate(ids) if cid in caps]
        rows["base captions"] = caption_scores([caps[ids[i]] for i in kept], [truth["heldout"][i] for i in kept])
    report = {
        name: {
            "overall_f1": round(s["overall"]["f1"], 3),
            "precision": round(s["overall"]["precision"], 3),
            "recall": round(s["overall"]["recall"], 3),
            **{f"{m}_f1": round(v["f1"], 3) for m, v in s["modality"].items()},
        }
        for name, s in rows.items()
    }
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
