"""Checkpoints side by side (:func:`compare_checkpoints`), the paragraph read from the numbers
(:func:`write_reading`), and the README section of a run (:func:`attribution_report`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from r1omni.attribution.ablation import MODALITY_NAMES, MODALITY_SUBSETS, modality_reliance
from r1omni.attribution.conflict import FOLLOWS
from r1omni.attribution.gradients import GROUPS
from r1omni.evaluate.paper import markdown_table
from r1omni.io import read_json
from r1omni.runs import ATTRIBUTION_STAGE


def flat_metrics(result: dict[str, Any]) -> dict[tuple[str, str], float]:
    """One checkpoint's attribution numbers as ``{(analysis, metric): value}`` (rates in %).

    ``result`` has any of the keys "ablation" (``{subset: summary}``), "conflict"
    (:func:`conflict_summary`), "gradient" (group shares, see :func:`gradient_summary`)
    and "grounding" (:func:`grounding_summary`).
    """
    out: dict[tuple[str, str], float] = {}
    ablation = result.get("ablation", {})  # display order: av, v, a, t (JSON files sort keys)
    order = [s for s in MODALITY_SUBSETS if s in ablation] + sorted(set(ablation) - set(MODALITY_SUBSETS))
    ablation = {s: ablation[s] for s in order}
    for subset, m in ablation.items():
        out[("ablation", f"WAR {MODALITY_NAMES.get(subset, subset)}")] = 100 * m["war"]
    for subset, m in ablation.items():
        out[("ablation", f"UAR {MODALITY_NAMES.get(subset, subset)}")] = 100 * m["uar"]
    if "unparseable_rate" in result.get("ablation", {}).get("av", {}):
        out[("ablation", "unparseable video+audio")] = 100 * result["ablation"]["av"]["unparseable_rate"]
    for key, value in modality_reliance(result.get("ablation", {})).items():
        out[("ablation", key.replace("_", " ") + " (pp)")] = value
    for key in FOLLOWS:
        if "conflict" in result:
            out[("conflict", f"follows {key}")] = 100 * result["conflict"][f"{key}_rate"]
    for g in GROUPS:
        if "gradient" in result:
            out[("gradient", f"{g} share")] = 100 * result["gradient"][g]
    for key in (
        "think_rate",
        "visual_rate",
        "audio_rate",
        "both_rate",
        "none_rate",
        "hallucination_rate",
        "cue_recall",
        "agreement_rate",
        "contradiction_rate",
    ):
        if "grounding" in result:
            out[("grounding", key.replace("_", " "))] = 100 * result["grounding"][key]
    return out


def compare_checkpoints(results: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """All four analyses side by side: rows (analysis, metric), one column per checkpoint."""
    cols = {name: flat_metrics(r) for name, r in results.items()}
    table = pd.DataFrame(cols)
    table.index = pd.MultiIndex.from_tuples(table.index, names=["analysis", "metric"])
    return table


def _pct(x: float | None) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.0f}%"


def _change(pp: float) -> str:
    """'costs 12 points' for a WAR drop of 12 pp when a modality is removed, 'adds 3 points' for a gain."""
    return f"costs {pp:.0f} points" if pp >= 0 else f"adds {-pp:.0f} points"


def _finite(*xs: float | None) -> bool:
    return all(x is not None and np.isfinite(x) for x in xs)


def write_reading(
    results: dict[str, dict[str, Any]], *, before: str | None = None, after: str | None = None, tol: float = 2.0
) -> str:
    """A one-paragraph reading of :func:`compare_checkpoints`'s numbers, comparing checkpoint
    ``before`` (default: the first) with ``after`` (default: the last). Every number and
    every judgement ("more", "less", "follows the face", the verdict on the paper's claim) is
    computed from ``results``; differences under ``tol`` percentage points count as "about the
    same", and undefined rates (nothing to measure) are said to be so."""
    if not results:
        raise ValueError("no checkpoints to read")
    names = list(results)
    before, after = before or names[0], after or names[-1]
    for name in (before, after):
        if name not in results:
            raise ValueError(f"checkpoint {name!r} is not among the results {names}")
    b, a = flat_metrics(results[before]), flat_metrics(results[after])
    single = before == after

    def pair(key: tuple[str, str]) -> str:
        if single or key not in b:
            return _pct(a.get(key))
        return f"{_pct(a.get(key))} ({before}: {_pct(b.get(key))})"

    def trend(
        key: tuple[str, str],
        more: str = "more often than",
        less: str = "less often than",
        same: str = "about as often as",
    ) -> str | None:
        if single or not _finite(a.get(key), b.get(key)):
            return None
        d = a[key] - b[key]
        return same if abs(d) < tol else (more if d > 0 else less)

    s = []
    unparseable = a.get(("ablation", "unparseable video+audio"))
    if _finite(unparseable) and unparseable > 50:
        s.append(
            f"Caution: {_pct(unparseable)} of {after}'s answers cannot be parsed, so the rates below rest "
            "on few answers."
        )
    if ("ablation", "WAR video+audio") in a:
        s.append(
            f"With video and audio, {after} reaches WAR {pair(('ablation', 'WAR video+audio'))} "
            f"and UAR {pair(('ablation', 'UAR video+audio'))}."
        )
        vc, ac = a.get(("ablation", "video carries (pp)")), a.get(("ablation", "audio carries (pp)"))
        if _finite(vc, ac):
            lead = (
                "both about equally" if abs(vc - ac) < tol else "more on the video" if vc > ac else "more on the audio"
            )
            s.append(
                f"Removing the video {_change(vc)} of {after}'s WAR and removing the audio {_change(ac)}, "
                f"so its answers rest {lead}"
                + (
                    ""
                    if single or not _finite(b.get(("ablation", "video carries (pp)")))
                    else f" ({before}: {b[('ablation', 'video carries (pp)')]:.0f} and "
                    f"{b[('ablation', 'audio carries (pp)')]:.0f} points)"
                )
                + "."
            )
            t_audio = trend(("ablation", "audio carries (pp)"), "more", "less", "about as much")
            if t_audio:
                s.append(
                    f"{after} relies {t_audio} on the audio {'as' if t_audio == 'about as much' else 'than'} "
                    f"{before} does."
                )
    if ("conflict", "follows face") in a:
        fa, vo = a[("conflict", "follows face")], a[("conflict", "follows voice")]
        side = (
            "siding with the face"
            if fa - vo >= tol
            else "siding with the voice"
            if vo - fa >= tol
            else "favouring neither"
        )
        s.append(
            f"When face and voice disagree, {after} follows the face in {pair(('conflict', 'follows face'))} "
            f"of clips and the voice in {pair(('conflict', 'follows voice'))}, {side}."
        )
    if ("gradient", "video share") in a:
        if _finite(a[("gradient", "video share")]):
            s.append(
                f"Integrated gradients give the video tokens {pair(('gradient', 'video share'))} of the "
                f"answer's attribution, the audio tokens {pair(('gradient', 'audio share'))} and the "
                f"text {pair(('gradient', 'text share'))}."
            )
        else:
            s.append(f"No answer of {after} could be attributed (no clip had an <answer> block).")
    if ("grounding", "visual rate") in a:
        s.append(
            f"In its reasoning {after} names visual cues in {pair(('grounding', 'visual rate'))} of clips, "
            f"audio cues in {pair(('grounding', 'audio rate'))} and both in {pair(('grounding', 'both rate'))}; "
            f"{pair(('grounding', 'hallucination rate'))} of the cues it names are not in the clip, and the "
            f"label its reasoning concludes agrees with its answer in {pair(('grounding', 'agreement rate'))}."
        )
        if not single:
            t_both = trend(("grounding", "both rate"))
            t_hall = trend(("grounding", "hallucination rate"))
            if t_both is None or not _finite(a[("grounding", "both rate")]) or a[("grounding", "both rate")] == 0:
                verdict = f"{after}'s reasoning never names both modalities, so this run does not support"
            else:
                hall = f" and hallucinates {t_hall} it" if t_hall else ""
                ok = t_both == "more often than" and t_hall != "more often than"
                verdict = (
                    f"{after} names both modalities {t_both} {before}{hall}: this run "
                    f"{'supports' if ok else 'does not support'}"
                )
            s.append(
                f"{verdict} the paper's claim that RLVR makes the roles of audio and video visible in the reasoning."
            )
    return " ".join(s)


def attribution_report(run_directory: str | os.PathLike) -> str:
    """The README section of one run's attribution: the side-by-side table and its reading (from
    notebook 04's ``metrics.json``; a run without it is named as missing)."""
    run_directory = Path(run_directory)
    path = run_directory / ATTRIBUTION_STAGE / "metrics.json"
    if not path.is_file():
        return f"(no {path}: notebook {ATTRIBUTION_STAGE} has not run)\n"
    metrics = read_json(path)
    results = {k: v for k, v in metrics.items() if k != "reading"}
    return "\n".join(
        [
            f"### Modality attribution ({run_directory.name}; rates in %)",
            "",
            markdown_table(compare_checkpoints(results)),
            "",
            metrics.get("reading", ""),
            "",
        ]
    )
