"""Get a data set ready for the workbook: generate SynthEmo or run a real-data adapter, once.

Notebook 00 calls :func:`prepare_data`; every later notebook reads the folder it recorded.
A folder that already holds the requested data is reused; one that holds *different* data
(another seed, size or label set) raises instead of being silently reused or overwritten
(pass ``regenerate=True`` to rebuild it).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1omni.data.manifest import validate_manifest
from r1omni.io import atomic_replace_dir, atomic_write_json, file_lock, read_json, respect_umask
from r1omni.settings import PERCEPTION_SPLIT

#: Per-class count of the smoke-sized SynthEmo set (CI).
SMOKE_PER_CLASS = 2
#: The file an adapter run leaves next to its manifests (what it was built from).
ADAPTER_STAMP = "adapter.json"


@dataclass
class PreparedData:
    """What :func:`prepare_data` found or made."""

    source: str
    """``"synthemo"`` or an adapter name."""
    data_dir: Path
    """Absolute folder holding the ``<split>.jsonl`` manifests."""
    manifests: dict[str, Path]
    """split -> manifest path."""
    generated: bool
    """True when this call generated / converted the data, False when it reused it."""
    seconds: float
    """Wall time of the generation (0 when reused)."""
    settings: dict[str, Any] = field(default_factory=dict)
    """The settings the data was built with."""


def _synthemo(
    data_dir: Path, per_class: int, seed: int, label_set: str, regenerate: bool, workers: int | None, render: str
) -> PreparedData:
    from r1omni.data.synth import SPLITS, generate
    from r1omni.data.synth.build import stamp_settings

    wanted = {"per_class": per_class, "seed": seed, "labels": label_set, **stamp_settings(render)}
    split_names = (*SPLITS, PERCEPTION_SPLIT)
    stamp = data_dir / "synthemo.json"
    if stamp.is_file() and not regenerate:
        info = read_json(stamp)
        have = {**info.get("config", {}), **{k: info.get(k) for k in stamp_settings(render)}}
        found = {key: have.get(key) for key in wanted}
        if found != wanted:
            raise ValueError(
                f"{data_dir} holds a SynthEmo set built with {found}, not {wanted}; "
                "use another data_dir or regenerate=True"
            )
        manifests = {split: data_dir / f"{split}.jsonl" for split in split_names}
        missing = [str(p) for p in manifests.values() if not p.is_file()]
        if missing:
            raise FileNotFoundError(
                f"{data_dir}: incomplete SynthEmo set, missing {missing}; regenerate=True rebuilds it"
            )
        return PreparedData("synthemo", data_dir, manifests, False, 0.0, wanted)
    if data_dir.exists() and any(data_dir.iterdir()) and not stamp.is_file():
        raise ValueError(f"{data_dir} is not empty and holds no SynthEmo set; refusing to replace it")
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{data_dir.name}.", suffix=".building", dir=data_dir.parent))
    respect_umask(tmp, directory=True)
    try:
        start = time.perf_counter()
        generate(tmp, per_class=per_class, seed=seed, labels=label_set, workers=workers, render=render)
        seconds = time.perf_counter() - start
        atomic_replace_dir(tmp, data_dir)  # manifests hold clip paths relative to themselves: safe to move
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return PreparedData("synthemo", data_dir, {s: data_dir / f"{s}.jsonl" for s in split_names}, True, seconds, wanted)


def _adapter(source: str, data_dir: Path, source_root: str, regenerate: bool, options: dict) -> PreparedData:
    from r1omni.data.adapters import build_manifests

    if not source_root:
        raise ValueError(f"source {source!r} needs source_root: the folder you downloaded")
    wanted = {"source": source, "source_root": str(Path(source_root).resolve()), **options}
    stamp = data_dir / ADAPTER_STAMP
    if stamp.is_file() and not regenerate:
        have = read_json(stamp)
        if have.get("settings") != wanted:
            raise ValueError(
                f"{data_dir} holds manifests built with {have.get('settings')}, not {wanted}; "
                "use another data_dir or regenerate=True"
            )
        manifests = {split: Path(p) for split, p in have["manifests"].items()}
        return PreparedData(source, data_dir, manifests, False, 0.0, wanted)
    start = time.perf_counter()
    result = build_manifests(source, source_root, data_dir, **options)
    seconds = time.perf_counter() - start
    atomic_write_json(
        stamp,
        {
            "settings": wanted,
            "manifests": {s: str(p) for s, p in result.manifests.items()},
            "counts": result.counts,
            "skipped": result.skipped,
        },
    )
    return PreparedData(source, data_dir, dict(result.manifests), True, seconds, wanted)


def prepare_data(
    source: str,
    data_dir: str | os.PathLike,
    *,
    per_class: int = 100,
    seed: int = 0,
    label_set: str = "dfew",
    source_root: str = "",
    regenerate: bool = False,
    workers: int | None = None,
    smoke: bool = False,
    render: str = "drawn",
    **adapter_options: Any,
) -> PreparedData:
    """Make sure ``data_dir`` holds the data set and return its manifests.

    ``source="synthemo"``: generate SynthEmo (``per_class``, ``seed``, ``label_set``, ``render``
    "drawn" or "oracle"; ``smoke``: :data:`SMOKE_PER_CLASS` clips per class) unless ``data_dir``
    already holds exactly that set, drawn by this version of SynthEmo.
    Any adapter name (``dfew``, ``mafw``, ``ravdess``, ``emer``): convert ``source_root`` with
    that adapter (``adapter_options`` are its ``Options`` fields) unless already done with the
    same settings.
    """
    data_dir = Path(data_dir).resolve()
    if source == "synthemo" and adapter_options:
        raise ValueError(f"SynthEmo takes no adapter options, got {sorted(adapter_options)}")
    # One builder per data folder: runs that share it wait here, and the second reuses what the first built.
    with file_lock(data_dir.with_name(f".{data_dir.name}.lock"), wait=True, what="data folder"):
        if source != "synthemo":
            return _adapter(source, data_dir, source_root, regenerate, adapter_options)
        return _synthemo(
            data_dir, SMOKE_PER_CLASS if smoke else per_class, seed, label_set, regenerate, workers, render
        )


def label_set_of(source: str, label_set: str = "dfew") -> str:
    """The label set a source's manifests use: ``label_set`` for SynthEmo, else the adapter's own."""
    if source == "synthemo":
        return label_set
    from r1omni.data.adapters import get_adapter

    return get_adapter(source).LABEL_SET


def validate_splits(
    prepared: PreparedData, *, check_media: bool = True, labels: str | None = None, allow_missing_audio: bool = False
) -> dict[str, list[dict]]:
    """Validate every manifest (all problems of a manifest at once) and return split -> records."""
    return {
        split: validate_manifest(path, check_media=check_media, labels=labels, allow_missing_audio=allow_missing_audio)
        for split, path in prepared.manifests.items()
    }
