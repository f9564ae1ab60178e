"""RAVDESS -> ``test.jsonl`` (the paper's out-of-distribution test set).

Expected layout (the ``Video_Speech_Actor_XX.zip`` / ``Video_Song_Actor_XX.zip`` archives
unpacked side by side; any depth)::

    ROOT/Actor_01/01-01-01-01-01-01-01.mp4 ...
    ROOT/Actor_24/...

A file name holds seven two-digit fields, ``modality-channel-emotion-intensity-statement-
repetition-actor``:

- modality: 01 full audio-video, 02 video only (no audio track), 03 audio only (``.wav``)
- vocal channel: 01 speech, 02 song
- emotion: 01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful (-> fear),
  07 disgust, 08 surprised (-> surprise)
- intensity: 01 normal, 02 strong (neutral has no strong intensity)
- statement: 01 "Kids are talking by the door", 02 "Dogs are sitting by the door" (the subtitle)
- repetition: 01 or 02
- actor: 01..24 (odd numbers male, even female)

By default only full audio-video clips (modality 01) of speech and song are kept; files of
other modalities are skipped and counted. A name that does not decode raises.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from r1omni.data.adapters.common import AdapterError, AdapterResult, relative_video, require_dir, write_splits
from r1omni.data.manifest import make_record
from r1omni.settings import RAVDESS_LABELS

NAME = "ravdess"
LABEL_SET = "ravdess"
MODALITIES = {1: "audio-video", 2: "video-only", 3: "audio-only"}
CHANNELS = {1: "speech", 2: "song"}
EMOTIONS = dict(enumerate(RAVDESS_LABELS, 1))  # 1 neutral ... 6 fear, 8 surprise
INTENSITIES = {1: "normal", 2: "strong"}
STATEMENTS = {1: "Kids are talking by the door", 2: "Dogs are sitting by the door"}
FILENAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")


@dataclass
class Options:
    """RAVDESS adapter settings."""

    modalities: str = "audio-video"
    """Comma-separated modalities to keep: ``audio-video`` and/or ``video-only`` (the latter has
    no audio track; load it with ``allow_missing_audio=True``)."""
    channels: str = "speech,song"
    """Comma-separated vocal channels to keep: ``speech`` and/or ``song``."""
    actors: str = ""
    """Comma-separated actor numbers to keep (e.g. ``"19,20,21,22,23,24"``); empty = all 24."""
    split: str = "test"
    """The split name written into every record (and the manifest file name)."""


def decode_name(stem: str) -> dict:
    """Decode a RAVDESS file stem into its seven fields.

    >>> d = decode_name("01-01-06-02-02-01-12")
    >>> d["label"], d["intensity"], d["subtitle"], d["actor"], d["actor_sex"]
    ('fear', 'strong', 'Dogs are sitting by the door', 12, 'female')
    """
    match = FILENAME.match(stem)
    if match is None:
        raise ValueError(f"{stem!r} is not a RAVDESS name (expected 7 two-digit fields joined by '-')")
    modality, channel, emotion, intensity, statement, repetition, actor = map(int, match.groups())
    tables = (
        ("modality", MODALITIES, modality),
        ("vocal channel", CHANNELS, channel),
        ("emotion", EMOTIONS, emotion),
        ("intensity", INTENSITIES, intensity),
        ("statement", STATEMENTS, statement),
    )
    for field_name, table, code in tables:
        if code not in table:
            raise ValueError(f"{stem!r}: unknown {field_name} code {code:02d} (known: {sorted(table)})")
    if repetition not in (1, 2) or not 1 <= actor <= 24:
        raise ValueError(f"{stem!r}: repetition must be 01-02 and actor 01-24")
    return {
        "modality": MODALITIES[modality],
        "vocal_channel": CHANNELS[channel],
        "label": EMOTIONS[emotion],
        "intensity": INTENSITIES[intensity],
        "statement": statement,
        "subtitle": STATEMENTS[statement],
        "repetition": repetition,
        "actor": actor,
        "actor_sex": "male" if actor % 2 else "female",
    }


def _choices(text: str, allowed, what: str) -> set:
    values = {v.strip() for v in text.split(",") if v.strip()}
    unknown = values - set(allowed)
    if unknown or not values:
        raise ValueError(f"{what}: {sorted(unknown) or 'nothing'} not in {sorted(allowed)}")
    return values


def _actors(text: str) -> set[int]:
    if not text.strip():
        return set(range(1, 25))
    try:
        actors = {int(a) for a in text.split(",") if a.strip()}
    except ValueError:
        raise ValueError(f"actors must be comma-separated numbers 1..24, got {text!r}") from None
    if not actors or not actors <= set(range(1, 25)):
        raise ValueError(f"actors must be comma-separated numbers 1..24, got {text!r}")
    return actors


def build(
    root: str | os.PathLike,
    out: str | os.PathLike,
    options: Options | None = None,
    *,
    check_media: bool = False,
    skip_missing: bool = False,
) -> AdapterResult:
    """Write ``out/<split>.jsonl`` with one record per kept clip under ``ROOT/**/Actor_XX/``.

    ``skip_missing`` has no effect (the files found are the data set); ``check_media``
    decodes every clip (video-only clips are allowed to lack audio).
    """
    options = options or Options()
    root = require_dir(NAME, Path(root))
    modalities = _choices(options.modalities, ("audio-video", "video-only"), "modalities")
    channels = _choices(options.channels, CHANNELS.values(), "channels")
    actors = _actors(options.actors)
    problems, skipped, rows = [], [], []
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".") and re.fullmatch(r"Actor_\d{2}", p.parent.name)
    )
    if not files:
        raise AdapterError(NAME, root, [f"no files in Actor_XX folders under {root}"])
    for path in files:
        try:
            meta = decode_name(path.stem)
        except ValueError as err:
            problems.append(f"{path}: {err}")
            continue
        if int(path.parent.name[-2:]) != meta["actor"]:
            problems.append(f"{path}: actor {meta['actor']:02d} in the name but folder {path.parent.name}")
            continue
        keep = (
            meta["modality"] in modalities
            and meta["vocal_channel"] in channels
            and meta["actor"] in actors
            and path.suffix.lower() == ".mp4"
        )
        if not keep:
            skipped.append(f"{path}: {meta['modality']} {meta['vocal_channel']} actor {meta['actor']:02d} not selected")
            continue
        label = meta.pop("label")
        subtitle = meta.pop("subtitle")
        rows.append(
            make_record(
                id=f"ravdess-{path.stem}",
                video=relative_video(path, Path(out)),
                label=label,
                split=options.split,
                subtitle=subtitle,
                source=NAME,
                meta=meta,
            )
        )
    if problems:
        raise AdapterError(NAME, root, problems)
    if not rows:
        raise AdapterError(
            NAME,
            root,
            [
                f"no clip matched modalities={options.modalities!r} "
                f"channels={options.channels!r} actors={options.actors!r}"
            ],
        )
    return write_splits(
        out,
        media_root=root,
        records={options.split: rows},
        labels=LABEL_SET,
        check_media=check_media,
        skipped=skipped,
        allow_missing_audio="video-only" in modalities,
    )
