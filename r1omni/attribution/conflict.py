"""Conflict probes: on clips whose face and voice show different emotions, which one the answer follows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pandas as pd

FOLLOWS = ("face", "voice", "other", "unparseable")


def follows(record: dict) -> str:
    """Which cue source the answer follows: "face", "voice", "other" or "unparseable"."""
    for key in ("face_label", "voice_label"):
        if key not in record:
            raise ValueError(f"prediction record {record.get('id')!r} has no {key!r} (not a SynthEmo record?)")
    if record["face_label"] == record["voice_label"]:
        raise ValueError(f"record {record.get('id')!r} is not a conflict clip: face = voice = {record['face_label']!r}")
    answer = record["answer"]
    if answer is None:
        return "unparseable"
    return "face" if answer == record["face_label"] else "voice" if answer == record["voice_label"] else "other"


def conflict_follow(records: Sequence[dict]) -> pd.DataFrame:
    """Per (face label, voice label) pair: n and the fraction of answers following each source.

    The last row, ``("all", "all")``, pools every conflict clip.
    """
    if not records:
        raise ValueError("no conflict records")
    rows = [{"face_label": r["face_label"], "voice_label": r["voice_label"], "follows": follows(r)} for r in records]
    df = pd.DataFrame(rows)
    table = pd.crosstab([df.face_label, df.voice_label], df.follows).reindex(columns=list(FOLLOWS), fill_value=0)
    total = table.sum().to_frame().T
    total.index = pd.MultiIndex.from_tuples([("all", "all")], names=table.index.names)
    table = pd.concat([table, total])
    n = table.sum(axis=1)
    out = table.div(n, axis=0)
    out.insert(0, "n", n)
    return out


def conflict_summary(records: Sequence[dict]) -> dict[str, float]:
    """Pooled follow rates: face_rate, voice_rate, other_rate, unparseable_rate, n."""
    counts = Counter(follows(r) for r in records)
    n = len(records)
    if n == 0:
        raise ValueError("no conflict records")
    return {"n": n, **{f"{k}_rate": counts[k] / n for k in FOLLOWS}}
