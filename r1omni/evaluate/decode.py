"""Greedy decoding of a manifest split into a resumable JSON-lines predictions file, and its scoring."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from r1omni.evaluate.metrics import summarize_predictions
from r1omni.io import file_digest
from r1omni.progress import progress_bar
from r1omni.settings import NUM_FRAMES, PROMPT, SAMPLE_RATE


@dataclass
class EvalConfig:
    """How a split is decoded and scored."""

    batch_size: int = 8
    """Clips per ``generate`` call (predictions are appended to the file after each batch)."""
    max_new_tokens: int = 256
    """Completion budget per clip (the paper allows 512)."""
    max_examples: int | None = None
    """Score a seeded random subset of this many clips (manifest order kept); None = all."""
    modalities: str = "av"
    """Which inputs the model gets: "av" (video+audio), "v", "a" or "t" (neither, text only)."""
    label_set: str = "dfew"
    """Label set of the split ("dfew", "mafw", "ravdess"): rows of the confusion matrix."""
    device: str = "cpu"
    """Torch device for decoding."""
    num_frames: int = NUM_FRAMES
    """Frames sampled per clip (uniform midpoints)."""
    sample_rate: int = SAMPLE_RATE
    """Audio sample rate in Hz."""
    n_boot: int = 1000
    """Bootstrap resamples for the 95% intervals."""
    seed: int = 0
    """Seed of the subset choice and of the bootstrap."""
    on_mismatch: str = "restart"
    """When the predictions file was made by another checkpoint or other decoding settings:
    "restart" (warn, discard it, decode afresh) or "error"."""
    num_samples: int = 8
    """pass@k: completions sampled per clip (``r1omni.evaluate.sampling``)."""
    sample_temperature: float = 1.0
    """pass@k: sampling temperature (1.0: the policy's own distribution)."""

    @classmethod
    def for_notebook(
        cls,
        *,
        max_examples: int = 0,
        max_new_tokens: int = 128,
        bootstrap_samples: int = 1000,
        smoke: bool = False,
        **fields: Any,
    ) -> EvalConfig:
        """A notebook's decoding settings: ``max_examples`` 0 = every clip; ``smoke`` caps them at
        4 clips per split, 16 tokens, 2 samples per clip and 50 bootstrap resamples (CI). ``fields``
        are set as given."""
        if smoke:
            fields["num_samples"] = min(fields.get("num_samples", 2), 2)
            return cls(max_examples=4, max_new_tokens=16, n_boot=50, **fields)
        return cls(max_examples=max_examples or None, max_new_tokens=max_new_tokens, n_boot=bootstrap_samples, **fields)


#: Manifest fields copied into every prediction record (when the manifest line has them).
PASSTHROUGH_FIELDS: tuple[str, ...] = ("split", "domain", "face_label", "voice_label", "cues", "subtitle")


def select_examples(records: Sequence[dict], max_examples: int | None, seed: int = 0) -> list[dict]:
    """A seeded random subset of ``max_examples`` records, kept in manifest order (None = all).

    Asking for more records than there are raises: a subset never shrinks silently.
    """
    records = list(records)
    if max_examples is None:
        return records
    if max_examples < 1:
        raise ValueError(f"max_examples must be >= 1 or None, got {max_examples}")
    if max_examples > len(records):
        raise ValueError(
            f"max_examples={max_examples} but the split holds only {len(records)} clips; "
            f"ask for at most {len(records)} (or None for all)"
        )
    if max_examples == len(records):
        return records
    keep = np.sort(np.random.default_rng(seed).choice(len(records), size=max_examples, replace=False))
    return [records[i] for i in keep]


def checkpoint_fingerprint(model_dir: str | os.PathLike) -> str:
    """First 16 hex digits of the sha256 of ``model_dir/model.safetensors`` ("unsaved" without
    one), so predictions of a retrained checkpoint are never mistaken for the old ones."""
    from r1omni.model.omni import WEIGHTS_NAME

    weights = Path(model_dir) / WEIGHTS_NAME
    if not weights.is_file():
        return "unsaved"
    return file_digest(weights)[:16]


def decoding_settings(model_dir: str | os.PathLike, config: EvalConfig, examples: Sequence[dict]) -> dict[str, Any]:
    """What a predictions file depends on: the checkpoint's weights, the decoding settings, the
    clip loader's version and the content of what is decoded (every manifest line and every clip
    file's bytes, :func:`r1omni.data.manifest.records_fingerprint`), so that the same ids from
    another data set (SynthEmo's ids do not depend on its seed) are decoded anew."""
    from r1omni.data.manifest import records_fingerprint
    from r1omni.data.media import LOADER_VERSION

    return {
        "checkpoint": checkpoint_fingerprint(model_dir),
        "max_new_tokens": config.max_new_tokens,
        "num_frames": config.num_frames,
        "sample_rate": config.sample_rate,
        "loader": LOADER_VERSION,
        "data": records_fingerprint(examples),
    }


def prediction_record(
    example: dict, completion: str, completion_tokens: int, *, model: str, modalities: str, settings: dict | None = None
) -> dict[str, Any]:
    """One line of a predictions file: id, label, raw completion, parsed answer (shared parser of
    :mod:`r1omni.rewards`, None when unparseable), rewards (format, accuracy, and grounding for
    clips with ``cues["present"]``), completion length in tokens, and the manifest's
    :data:`PASSTHROUGH_FIELDS` (of ``cues`` only ``present`` is kept)."""
    from r1omni.rewards import accuracy_reward, format_reward, grounding_reward, parse_answer

    label = example["label"]
    rewards = {
        "format": float(format_reward([completion])[0]),
        "accuracy": float(accuracy_reward([completion], label=[label])[0]),
    }
    if isinstance(example.get("cues"), dict) and "present" in example["cues"]:
        rewards["grounding"] = float(grounding_reward([completion], cues=[example["cues"]])[0])
    row = {
        "id": example["id"],
        "label": label,
        "completion": completion,
        "answer": parse_answer(completion),
        "rewards": rewards,
        "completion_tokens": int(completion_tokens),
        "model": model,
        "modalities": modalities,
        "settings": settings or {},
    }
    for key in PASSTHROUGH_FIELDS:
        if key in example:
            row[key] = example[key]
    if isinstance(row.get("cues"), dict):  # only the true cue ids are needed downstream
        row["cues"] = {"present": list(row["cues"].get("present", []))}
    return row


def read_predictions(path: str | os.PathLike) -> list[dict]:
    """Read a predictions file, dropping (and truncating away) a torn last line left by a kill.

    A malformed line anywhere else raises naming the file and line.
    """
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    rows, good_bytes = [], 0
    for lineno, line in enumerate(lines, 1):
        try:
            rows.append(json.loads(line))
            good_bytes += len(line.encode("utf-8"))
        except json.JSONDecodeError as err:
            if lineno != len(lines) or line.endswith("\n"):
                raise ValueError(f"{path}:{lineno}: not valid JSON ({err})") from None
            with path.open("r+b") as fh:  # torn last line: cut it off, it is recomputed
                fh.truncate(good_bytes)
    return rows


def _append_rows(path: Path, rows: Iterable[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


GenerateFn = Callable[[list[dict]], list[tuple[str, int]]]


def predict(
    examples: Sequence[dict],
    generate_fn: GenerateFn,
    out_path: str | os.PathLike,
    *,
    batch_size: int,
    model: str,
    modalities: str,
    settings: dict | None = None,
    on_mismatch: str = "restart",
    progress: bool = True,
    record_fn: Callable[..., dict] | None = None,
) -> list[dict]:
    """Decode ``examples`` in batches, appending each batch's records to ``out_path``.

    ``generate_fn(batch_of_examples) -> [(completion_text, n_completion_tokens), ...]``.
    Ids already in ``out_path`` are skipped (resume after a kill). Records made with another
    ``model``, ``modalities`` or ``settings`` (checkpoint fingerprint, decoding budget) are never
    mixed in: with ``on_mismatch="restart"`` the file is discarded with a warning, with
    "error" a ValueError says so. Returns the records of ``examples`` in their order.
    ``record_fn(example, text, n_tokens, model=, modalities=, settings=)`` makes each line
    (default :func:`prediction_record`; captions have their own, ``r1omni.evaluate.captions``).
    """
    record_fn = record_fn or prediction_record
    if on_mismatch not in ("restart", "error"):
        raise ValueError(f"on_mismatch must be 'restart' or 'error', got {on_mismatch!r}")
    out_path = Path(out_path)
    want = (model, modalities, settings or {})
    rows = read_predictions(out_path)
    stale = next((r for r in rows if (r.get("model"), r.get("modalities"), r.get("settings", {})) != want), None)
    if stale is not None:
        msg = (
            f"{out_path}: holds predictions of model={stale.get('model')!r} modalities={stale.get('modalities')!r} "
            f"settings={stale.get('settings')}, not {want[0]!r}/{want[1]!r}/{want[2]}"
        )
        if on_mismatch == "error":
            raise ValueError(msg + "; use another out_path or delete the file")
        warnings.warn(msg + "; discarding them and decoding afresh", stacklevel=2)
        out_path.unlink()
        rows = []
    done = {}
    for row in rows:
        done.setdefault(row["id"], row)
    ids = [e["id"] for e in examples]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate ids in the examples to evaluate")
    todo = [e for e in examples if e["id"] not in done]
    batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
    for batch in progress_bar(batches, desc=f"decode {model} [{modalities}]", disable=not progress):
        outputs = generate_fn(batch)
        if len(outputs) != len(batch):
            raise RuntimeError(f"generate_fn returned {len(outputs)} outputs for {len(batch)} examples")
        rows = [
            record_fn(e, text, n, model=model, modalities=modalities, settings=settings)
            for e, (text, n) in zip(batch, outputs)
        ]
        _append_rows(out_path, rows)
        done.update((r["id"], r) for r in rows)
    return [done[i] for i in ids]


def make_generate_fn(model: Any, processor: Any, config: EvalConfig, *, question: str = PROMPT) -> GenerateFn:
    """Greedy decoding of a batch of manifest records with an ``OmniModel``, asked ``question``
    (the emotion question; the base model's captions are asked the perception question)."""
    import torch

    from r1omni.data.media import load_clip

    def generate(batch: list[dict]) -> list[tuple[str, int]]:
        if config.modalities == "t":
            clips = [None] * len(batch)
        else:
            clips = [
                load_clip(e["video_path"], num_frames=config.num_frames, sample_rate=config.sample_rate) for e in batch
            ]
        inputs = processor(clips, modalities=config.modalities, question=question).to(config.device)
        with torch.no_grad():
            out = model.generate(inputs, max_new_tokens=config.max_new_tokens, do_sample=False)
        lengths = out.completion_mask.sum(dim=1).tolist()  # (B,)
        ids = [row[:n].tolist() for row, n in zip(out.completion_ids, lengths)]
        texts = processor.batch_decode(ids, skip_special_tokens=True)
        return list(zip(texts, [int(n) for n in lengths]))

    return generate


def predict_split(
    model_dir: str | os.PathLike,
    manifest: str | os.PathLike,
    out_path: str | os.PathLike,
    config: EvalConfig | None = None,
    *,
    model: Any = None,
    processor: Any = None,
    name: str | None = None,
    progress: bool = True,
) -> list[dict]:
    """Greedy-decode the (seeded subset of the) ``manifest`` with the policy in ``model_dir``;
    return the prediction records, written to / resumed from ``out_path``. An already loaded
    ``model``/``processor`` may be passed to skip loading ``model_dir``."""
    from r1omni.data.manifest import load_manifest

    config = config or EvalConfig()
    model_dir = Path(model_dir)
    examples = select_examples(load_manifest(manifest), config.max_examples, config.seed)
    if model is None or processor is None:
        if not model_dir.is_dir():
            raise FileNotFoundError(f"model directory {model_dir} does not exist")
        from r1omni.model import load_policy

        model, processor = load_policy(model_dir)
    model = model.to(config.device).eval()
    return predict(
        examples,
        make_generate_fn(model, processor, config),
        out_path,
        batch_size=config.batch_size,
        model=name or model_dir.as_posix(),
        modalities=config.modalities,
        settings=decoding_settings(model_dir, config, examples),
        on_mismatch=config.on_mismatch,
        progress=progress,
    )


#: What ``smoke=True`` caps in :func:`preview_generations` (CI).
SMOKE_PREVIEW: dict[str, int] = {"num_examples": 2, "max_new_tokens": 16}


def preview_generations(
    model: Any,
    processor: Any,
    manifest: str | os.PathLike,
    *,
    num_examples: int = 8,
    max_new_tokens: int = 96,
    modalities: str = "av",
    device: str = "cpu",
    seed: int = 0,
    smoke: bool = False,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Greedy completions on a seeded subset of ``manifest`` with their rewards, and a summary.

    Returns ``(records, summary)``: one :func:`prediction_record` per clip (id, label, completion,
    answer, rewards.format, rewards.accuracy, ...) and :func:`summarize_predictions`' dict
    (``format_rate``, ``war``, ``uar``, ``n``, ...) plus the ``max_new_tokens`` used. ``smoke``
    caps the sizes (:data:`SMOKE_PREVIEW`). Nothing is written to disk.
    """
    from r1omni.data.manifest import load_manifest

    if smoke:
        num_examples, max_new_tokens = SMOKE_PREVIEW["num_examples"], SMOKE_PREVIEW["max_new_tokens"]
    config = EvalConfig(
        batch_size=num_examples,
        max_new_tokens=max_new_tokens,
        modalities=modalities,
        device=device,
        seed=seed,
        n_boot=200,
    )
    examples = select_examples(load_manifest(manifest), num_examples, seed)
    was_training = model.training
    model = model.to(device).eval()
    outputs = make_generate_fn(model, processor, config)(examples)
    model.train(was_training)
    records = [
        prediction_record(e, text, n, model="preview", modalities=modalities) for e, (text, n) in zip(examples, outputs)
    ]
    summary = summarize_predictions(records, n_boot=config.n_boot, seed=seed)
    summary["max_new_tokens"] = max_new_tokens
    return records, summary


def evaluate_split(
    model_dir: str | os.PathLike,
    manifest: str | os.PathLike,
    out_path: str | os.PathLike,
    config: EvalConfig | None = None,
    *,
    model: Any = None,
    processor: Any = None,
    name: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """:func:`predict_split` then :func:`summarize_predictions` (labels of ``config.label_set``).

    Returns the summary plus ``model``, ``manifest``, ``modalities``, ``predictions`` (the
    path of the JSON-lines file) and ``config``.
    """
    from r1omni.settings import labels_for

    config = config or EvalConfig()
    name = name or Path(model_dir).as_posix()
    records = predict_split(
        model_dir, manifest, out_path, config, model=model, processor=processor, name=name, progress=progress
    )
    summary = summarize_predictions(records, labels_for(config.label_set), n_boot=config.n_boot, seed=config.seed)
    summary.update(
        model=name,
        manifest=str(manifest),
        modalities=config.modalities,
        predictions=str(out_path),
        config=asdict(config),
    )
    return summary


def evaluate_models(
    model_dirs: dict[str, str | os.PathLike],
    manifests: dict[str, str | os.PathLike],
    out_dir: str | os.PathLike,
    config: EvalConfig | None = None,
    *,
    progress: bool = True,
) -> dict[str, dict[str, dict]]:
    """:func:`evaluate_split` for every checkpoint and split, loading each checkpoint once.

    Predictions go to ``out_dir/<model>_<split>.jsonl``. Returns ``results[model][split]``.
    """
    from r1omni.model import load_policy

    config = config or EvalConfig()
    missing = [f"{split} ({path})" for split, path in manifests.items() if not Path(path).is_file()]
    if missing:
        raise FileNotFoundError("manifests not found: " + ", ".join(missing))
    results: dict[str, dict[str, dict]] = {}
    for name, model_dir in model_dirs.items():
        model, processor = load_policy(model_dir)
        results[name] = {
            split: evaluate_split(
                model_dir,
                manifest,
                Path(out_dir) / f"{name}_{split}.jsonl",
                config,
                model=model,
                processor=processor,
                name=name,
                progress=progress,
            )
            for split, manifest in manifests.items()
        }
    return results
