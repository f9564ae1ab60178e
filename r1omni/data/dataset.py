"""A torch ``Dataset`` over a manifest, and the collate function that builds an ``OmniBatch``.

Each item is one clip decoded with :func:`r1omni.data.media.load_clip`, its label, the
assistant text to train on, its cues and the modalities to show the model::

    ds = ManifestDataset("data/synthemo/coldstart.jsonl", target="conversation")
    item = ds[0]          # {"id", "clip", "label", "target", "cues", "modalities", "record"}
    collate = OmniCollator(processor)          # processor(clips, modalities=..., targets=...)
    batch = collate([ds[0], ds[1]])            # OmniBatch with input_ids, labels, media

Decoding a clip (video seek + audio resample) costs far more than a training step of the
tiny model, so decoded clips are kept in memory (bounded) and optionally on disk as ``.npz``
files keyed by the clip file's path, size and modification time plus the sampling settings;
a changed file therefore never reads a stale cache entry.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from r1omni.data.manifest import answer_target, load_manifest
from r1omni.data.media import LOADER_VERSION, Clip, MediaError, load_clip
from r1omni.io import atomic_open
from r1omni.settings import AUDIO_TOKEN, MODALITIES, NUM_FRAMES, SAMPLE_RATE, VIDEO_TOKEN

#: How the assistant text of an item is built.
TARGETS = ("conversation", "answer_only", "none")


def gpt_turn(record: dict[str, Any], where: str) -> str:
    """The ``gpt`` turn of a manifest record's ``conversations`` (the SFT target text)."""
    turns = record.get("conversations")
    if not isinstance(turns, list):
        raise ValueError(f"{where}: field 'conversations' must be a list of turns, got {type(turns).__name__}")
    values = [t.get("value") for t in turns if isinstance(t, dict) and t.get("from") == "gpt"]
    if len(values) != 1 or not isinstance(values[0], str) or not values[0].strip():
        raise ValueError(f"{where}: 'conversations' must hold exactly one non-empty gpt turn, got {turns!r}")
    return values[0]


def human_question(record: dict[str, Any], where: str) -> str:
    """The question of a manifest record's human turn, without its media placeholder lines (the
    processor puts the placeholders back for the modalities shown): the emotion question, or the
    perception split's describe question."""
    turns = record.get("conversations")
    values = [t.get("value") for t in turns or [] if isinstance(t, dict) and t.get("from") == "human"]
    if len(values) != 1 or not isinstance(values[0], str):
        raise ValueError(f"{where}: 'conversations' must hold exactly one human turn, got {turns!r}")
    lines = [ln for ln in values[0].splitlines() if ln.strip() not in (VIDEO_TOKEN, AUDIO_TOKEN)]
    question = "\n".join(lines).strip()
    if not question:
        raise ValueError(f"{where}: the human turn holds no question")
    return question


class ClipCache:
    """Decoded clips, in memory (LRU, ``max_items``) and optionally on disk (``directory``)."""

    def __init__(self, directory: str | os.PathLike | None = None, max_items: int | None = 4096):
        self.directory = Path(directory) if directory else None
        self.max_items = max_items
        self._memory: OrderedDict[str, Clip] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(path: str | os.PathLike, **settings: Any) -> str:
        """Content key: real path, size, mtime, the decoding settings and the loader's version, hashed."""
        stat = Path(path).stat()
        raw = json.dumps(
            [os.path.realpath(path), stat.st_size, stat.st_mtime_ns, settings, LOADER_VERSION], sort_keys=True
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def get(self, path: str | os.PathLike, **settings: Any) -> Clip:
        """The decoded clip at ``path`` (``load_clip(path, **settings)``), cached."""
        key = self.key(path, **settings)
        if key in self._memory:
            self.hits += 1
            self._memory.move_to_end(key)
            return self._memory[key]
        clip = self._read_disk(key)
        if clip is None:
            self.misses += 1
            clip = load_clip(path, **settings)
            self._write_disk(key, clip)
        else:
            self.hits += 1
        self._memory[key] = clip
        if self.max_items is not None:
            while len(self._memory) > self.max_items:
                self._memory.popitem(last=False)
        return clip

    def _disk_path(self, key: str) -> Path | None:
        return None if self.directory is None else self.directory / f"{key}.npz"

    def _read_disk(self, key: str) -> Clip | None:
        path = self._disk_path(key)
        if path is None or not path.exists():
            return None
        with np.load(path, allow_pickle=False) as data:
            scalars = json.loads(str(data["scalars"]))
            audio = data["audio"] if "audio" in data.files else None
            return Clip(frames=data["frames"], audio=audio, **scalars)

    def _write_disk(self, key: str, clip: Clip) -> None:
        path = self._disk_path(key)
        if path is None:
            return
        arrays = {"frames": clip.frames}
        if clip.audio is not None:
            arrays["audio"] = clip.audio
        scalars = {f.name: getattr(clip, f.name) for f in dataclasses.fields(clip) if f.name not in ("frames", "audio")}
        arrays["scalars"] = np.array(json.dumps(scalars))
        with atomic_open(path, "wb") as fh:
            np.savez(fh, **arrays)


class ManifestDataset(torch.utils.data.Dataset):
    """The clips of one manifest, decoded lazily with ``load_clip``.

    Args:
        manifest: path of a ``.jsonl`` manifest (validated by ``load_manifest``: a missing
            field or a bad line raises a ``ValueError`` naming the file and line).
        target: ``"conversation"`` (the manifest's gpt turn, e.g. ``<think>..</think><answer>..</answer>``),
            ``"answer_only"`` (``<answer>label</answer>``, the label-only SFT baseline) or
            ``"none"`` (no target, for generation).
        modalities: what the model is shown: ``"av"``, ``"v"``, ``"a"`` or ``"t"`` (text only:
            no clip is decoded).
        num_frames, sample_rate, allow_missing_audio: passed to ``load_clip``.
        cache: a :class:`ClipCache` shared across datasets; a new in-memory one by default.
        limit: keep only the first ``limit`` records (``None`` = all; more than the manifest holds
            raises rather than silently using fewer).
    """

    def __init__(
        self,
        manifest: str | os.PathLike,
        *,
        target: str = "conversation",
        modalities: str = "av",
        num_frames: int = NUM_FRAMES,
        sample_rate: int = SAMPLE_RATE,
        allow_missing_audio: bool = False,
        cache: ClipCache | None = None,
        limit: int | None = None,
    ):
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        if modalities not in MODALITIES:
            raise ValueError(f"modalities must be one of {MODALITIES}, got {modalities!r}")
        self.manifest = Path(manifest)
        self.records = load_manifest(self.manifest)
        if limit is not None:
            if limit > len(self.records):
                raise ValueError(
                    f"{self.manifest}: limit={limit} but the manifest holds only {len(self.records)} records"
                )
            self.records = self.records[:limit]
        if not self.records:
            raise ValueError(f"{self.manifest}: manifest holds no records")
        self.target, self.modalities = target, modalities
        self.load_kwargs = dict(num_frames=num_frames, sample_rate=sample_rate, allow_missing_audio=allow_missing_audio)
        self.cache = cache if cache is not None else ClipCache()
        # Build every target and question up front, so a bad entry fails here and not mid-training.
        self.targets = [self._target(i, r) for i, r in enumerate(self.records)]
        self.questions = [human_question(r, self._where(i)) for i, r in enumerate(self.records)]

    def _where(self, index: int) -> str:
        return f"{self.manifest} record {index} (id={self.records[index].get('id')!r})"

    def _target(self, index: int, record: dict[str, Any]) -> str | None:
        if self.target == "none":
            return None
        if self.target == "answer_only":
            if "label" not in record:
                raise ValueError(f"{self._where(index)}: target='answer_only' needs a label (perception: none)")
            return answer_target(record["label"])
        return gpt_turn(record, self._where(index))

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        record = self.records[index]
        clip = None
        if self.modalities != "t":
            try:
                clip = self.cache.get(record["video_path"], **self.load_kwargs)
            except (MediaError, OSError) as err:
                raise ValueError(f"{self._where(index)}: cannot load clip {record['video_path']}: {err}") from err
        return {
            "id": record["id"],
            "clip": clip,
            "label": record.get("label"),
            "target": self.targets[index],
            "question": self.questions[index],
            "cues": record.get("cues", {}),
            "modalities": self.modalities,
            "record": record,
        }


class OmniCollator:
    """Collate dataset items into one ``OmniBatch`` with ``processor(clips, modalities=, targets=)``.

    With targets the batch carries ``labels`` (-100 on prompt and padding), ready for the
    completion-only loss; ``with_targets=False`` gives a generation batch (prompt only). Each item is
    asked its own record's question (the emotion question, or the perception split's describe
    question) unless ``question`` fixes one for all.
    """

    def __init__(self, processor: Any, *, with_targets: bool = True, question: str | None = None):
        self.processor, self.with_targets, self.question = processor, with_targets, question

    def __call__(self, items: Sequence[dict[str, Any]]):
        if not items:
            raise ValueError("cannot collate an empty list of items")
        targets = None
        if self.with_targets:
            targets = [it["target"] for it in items]
            missing = [it["id"] for it in items if it["target"] is None]
            if missing:
                raise ValueError(f"items {missing} have no target text (dataset built with target='none')")
        return self.processor(
            [it["clip"] for it in items],
            modalities=[it["modalities"] for it in items],
            question=self.question if self.question is not None else [it["question"] for it in items],
            targets=targets,
        )
