"""All four analyses for one checkpoint (:func:`attribute_checkpoint`), and their JSON-ready record
for ``metrics.json`` (:func:`attribution_metrics`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r1omni.attribution.ablation import MODALITY_SUBSETS, modality_ablation, modality_reliance
from r1omni.attribution.conflict import conflict_follow, conflict_summary
from r1omni.attribution.gradients import gradient_attribution
from r1omni.attribution.grounding import grounding_summary


@dataclass
class AttributionConfig:
    """What :func:`attribute_checkpoint` runs besides the decoding settings (an ``EvalConfig``)."""

    subsets: tuple[str, ...] = MODALITY_SUBSETS
    """Modality subsets of the ablation."""
    method: str = "integrated_gradients"
    """Gradient attribution: "integrated_gradients" or "gradient_x_input"."""
    ig_steps: int = 64
    """Integration points of integrated gradients (log schedule)."""
    attribution_clips: int = 16
    """Test clips (seeded subset) whose greedy answers are attributed."""

    @classmethod
    def for_notebook(cls, *, smoke: bool = False, **fields: Any) -> AttributionConfig:
        """A notebook's settings; ``smoke`` caps them at 2 clips and 16 integration points (CI)."""
        if smoke:
            fields.update(ig_steps=16, attribution_clips=2)
        return cls(**fields)


def attribute_checkpoint(
    name: str,
    model_dir: str | Path,
    test_manifest: str | Path,
    conflict_manifest: str | Path,
    out_dir: str | Path,
    eval_config: Any = None,
    config: AttributionConfig | None = None,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """All four analyses for one checkpoint (predictions under ``out_dir``, resumable).

    Returns ``{"ablation": {subset: summary}, "conflict": conflict_summary,
    "conflict_table": DataFrame, "gradient": gradient_summary, "grounding": grounding_summary}``;
    grounding reads the video+audio predictions of the test split.
    """
    import dataclasses

    from r1omni.evaluate import EvalConfig, predict_split
    from r1omni.model import load_policy

    eval_config = eval_config or EvalConfig()
    config = config or AttributionConfig()
    out_dir = Path(out_dir)
    model, processor = load_policy(model_dir)
    model = model.to(eval_config.device).eval()
    ablation = modality_ablation(
        model_dir,
        test_manifest,
        out_dir,
        eval_config,
        subsets=config.subsets,
        model=model,
        processor=processor,
        name=name,
        progress=progress,
    )
    av = dataclasses.replace(eval_config, modalities="av")
    test_records = predict_split(
        model_dir,
        test_manifest,
        out_dir / f"{name}_av.jsonl",
        av,
        model=model,
        processor=processor,
        name=name,
        progress=progress,
    )
    conflict_records = predict_split(
        model_dir,
        conflict_manifest,
        out_dir / f"{name}_conflict.jsonl",
        av,
        model=model,
        processor=processor,
        name=name,
        progress=progress,
    )
    gradient = checkpoint_gradient(model, processor, test_manifest, eval_config, config, progress=progress)
    return {
        "ablation": ablation,
        "conflict": conflict_summary(conflict_records),
        "conflict_table": conflict_follow(conflict_records),
        "gradient": gradient,
        "grounding": grounding_summary(test_records),
    }


def checkpoint_gradient(
    model, processor, test_manifest, eval_config, config: AttributionConfig, *, progress: bool = False
) -> dict[str, Any]:
    """:func:`gradient_attribution` (``config.method``) of ``config.attribution_clips`` test clips,
    picked with ``eval_config.seed``, with the model on ``eval_config.device`` in eval mode."""
    from r1omni.data.manifest import load_manifest
    from r1omni.evaluate import select_examples

    clips = select_examples(load_manifest(test_manifest), config.attribution_clips, eval_config.seed)
    return gradient_attribution(
        model.to(eval_config.device).eval(),
        processor,
        clips,
        method=config.method,
        steps=config.ig_steps,
        max_new_tokens=eval_config.max_new_tokens,
        num_frames=eval_config.num_frames,
        progress=progress,
    )


def attribution_metrics(results: dict[str, dict[str, Any]], reading: str = "") -> dict[str, Any]:
    """JSON-ready numbers of every checkpoint for ``metrics.json`` (plus the computed reading)."""
    out: dict[str, Any] = {"reading": reading}
    for name, r in results.items():
        out[name] = {
            "ablation": {
                s: {k: m[k] for k in ("n", "war", "uar", "war_ci", "uar_ci", "per_class_recall", "unparseable_rate")}
                for s, m in r.get("ablation", {}).items()
            },
            "reliance_pp": modality_reliance(r.get("ablation", {})),
            "conflict": r.get("conflict"),
            "conflict_pairs": (
                r["conflict_table"].reset_index().to_dict(orient="records") if "conflict_table" in r else None
            ),
            "gradient": r.get("gradient"),
            "grounding": r.get("grounding"),
        }
    return out
