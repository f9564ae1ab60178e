"""EMER (Explainable Multimodal Emotion Reasoning) -> ``coldstart.jsonl`` with reasoning targets.

R1-Omni's cold start used 232 EMER clips: each explanation becomes the ``<think>`` part of a
``<think>explanation</think><answer>label</answer>`` target. Expected layout::

    ROOT/
      gt-eng.csv | final-EMER-reason.csv | *.json    # the EMER annotation (or set annotation)
      <videos_dir>/sample_00000667.mp4 ...            # the MER2023 clips (any depth, .mp4/.avi/...)
      [label file]                                     # MER2023 labels, when the annotation has none
      [subtitle file]                                  # MER2023 transcriptions, optional

Annotation columns (CSV with a header, or JSON: a list of objects, or an object keyed by
clip name) are matched by name, first hit wins:

- clip name: ``names``, ``name``, ``video``, ``video_name``
- label: ``emotions``, ``emotion``, ``discrete``, ``label`` (EMER-V1 has it; EMER-V2's
  ``final-EMER-reason.csv`` does not, so give MER2023's label CSV as ``labels_file``)
- explanation: ``reasons``, ``reason``, ``english``, ``description``, ``explanation``
- subtitle: ``subtitles``, ``subtitle``, ``transcription`` (or from ``subtitles_file``, whose
  ``english``/``subtitle`` column is used)

MER2023's labels map onto the workbook's: neutral, angry, happy, sad, surprise keep their names,
``worried`` -> ``anxious`` (a MAFW label; the mapping R1-Omni used is not published). The
manifest is checked against the MAFW label set (the DFEW 7 plus the 4 MAFW additions).
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from r1omni.data.adapters.common import (
    AdapterError,
    AdapterResult,
    index_videos,
    relative_video,
    require_dir,
    write_splits,
)
from r1omni.data.manifest import make_record
from r1omni.settings import ANSWER_CLOSE, ANSWER_OPEN, MAFW_LABELS, THINK_CLOSE, THINK_OPEN

NAME = "emer"
LABEL_SET = "mafw"
#: MER2023 / EMER label names -> workbook labels.
LABELS: dict[str, str] = {
    "worried": "anxious",
    "worry": "anxious",
    "anger": "angry",
    "happiness": "happy",
    "sadness": "sad",
    "surprised": "surprise",
}
LABELS.update({label: label for label in MAFW_LABELS})
NAME_COLUMNS = ("names", "name", "video", "video_name")
LABEL_COLUMNS = ("emotions", "emotion", "discrete", "label")
REASON_COLUMNS = ("reasons", "reason", "english", "description", "explanation")
SUBTITLE_COLUMNS = ("subtitles", "subtitle", "transcription")
ANNOTATION_NAMES = ("gt-eng.csv", "final-EMER-reason.csv", "emer.json", "emer.csv")
TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)


@dataclass
class Options:
    """EMER adapter settings."""

    annotation: str = ""
    """The EMER annotation file (relative to the root); empty = the first of gt-eng.csv,
    final-EMER-reason.csv, emer.json, emer.csv found under the root."""
    videos_dir: str = "."
    """Folder (relative to the root, or absolute) searched recursively for the MER2023 clips."""
    labels_file: str = ""
    """CSV of MER2023 labels (clip name + label column), for annotations without labels."""
    subtitles_file: str = ""
    """CSV of MER2023 transcriptions (clip name + ``english`` or ``subtitle`` column); optional."""
    split: str = "coldstart"
    """The split name written into every record (and the manifest file name)."""


def read_table(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line or index, row with lower-case keys) from a CSV with a header or a JSON file."""
    if path.suffix.lower() == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            data = [dict(v, name=k) if isinstance(v, dict) else {"name": k, "reason": v} for k, v in data.items()]
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise AdapterError(NAME, path, [f"{path}: expected a JSON list of objects or an object keyed by clip name"])
        return [(i, {str(k).lower(): v for k, v in row.items()}) for i, row in enumerate(data, 1)]
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return [
            (line, {str(k).lower().strip(): v for k, v in row.items() if k is not None})
            for line, row in enumerate(csv.DictReader(fh), 2)
        ]


def pick(row: dict, columns: tuple[str, ...]) -> str | None:
    for column in columns:
        value = row.get(column)
        if value is not None and str(value).strip():
            return str(value)
    return None


def clean_explanation(text: str) -> str:
    """Collapse whitespace; explanation text must not hold the target's own tags."""
    text = re.sub(r"\s+", " ", text).strip()
    for tag in TAGS:
        if tag in text:
            raise ValueError(f"explanation contains the tag {tag}")
    return text


def _lookup(path: Path, columns: tuple[str, ...], what: str) -> dict[str, str]:
    table = {}
    for _, row in read_table(path):
        name, value = pick(row, NAME_COLUMNS), pick(row, columns)
        if name is None or value is None:
            raise AdapterError(NAME, path, [f"{path}: every row needs a clip name and a {what} column {columns}"])
        table[Path(name).stem] = value
    return table


def build(
    root: str | os.PathLike,
    out: str | os.PathLike,
    options: Options | None = None,
    *,
    check_media: bool = False,
    skip_missing: bool = False,
) -> AdapterResult:
    """Write ``out/<split>.jsonl`` (``coldstart`` by default) with one explained record per clip.

    Every problem (no label, unknown label, empty explanation, clip not found) is reported at
    once in one :class:`AdapterError`; ``skip_missing`` leaves clips not on disk out instead.
    """
    options = options or Options()
    root = require_dir(NAME, Path(root))
    if options.annotation:
        annotation = root / options.annotation
    else:
        hits = [p for name in ANNOTATION_NAMES for p in sorted(root.rglob(name))]
        if not hits:
            raise AdapterError(NAME, root, [f"no annotation file ({', '.join(ANNOTATION_NAMES)}) under {root}"])
        annotation = hits[0]
    if not annotation.is_file():
        raise AdapterError(NAME, root, [f"annotation file {annotation} does not exist"])
    labels = _lookup(root / options.labels_file, LABEL_COLUMNS, "label") if options.labels_file else {}
    subtitles = (
        _lookup(root / options.subtitles_file, ("english", "subtitle", "subtitles"), "subtitle")
        if options.subtitles_file
        else {}
    )
    videos = index_videos(require_dir(NAME, root / options.videos_dir))

    problems, skipped, rows, seen = [], [], [], set()
    for line, row in read_table(annotation):
        where = f"{annotation}:{line}"
        name = pick(row, NAME_COLUMNS)
        if name is None:
            problems.append(f"{where}: no clip name (columns {NAME_COLUMNS})")
            continue
        stem = Path(name).stem
        raw = pick(row, LABEL_COLUMNS) or labels.get(stem)
        reason = pick(row, REASON_COLUMNS)
        if stem in seen:
            problems.append(f"{where}: clip {stem} annotated twice")
            continue
        seen.add(stem)
        if raw is None:
            problems.append(f"{where}: clip {stem} has no label (no label column and not in labels_file)")
            continue
        if raw.strip().lower() not in LABELS:
            problems.append(f"{where}: unknown label {raw!r} (known: {', '.join(sorted(LABELS))})")
            continue
        try:
            think = clean_explanation(reason or "")
            if not think:
                raise ValueError("empty explanation")
        except ValueError as err:
            problems.append(f"{where}: clip {stem}: {err}")
            continue
        video = videos.get(stem)
        if video is None:
            (skipped if skip_missing else problems).append(
                f"{where}: clip {stem} not found under {root / options.videos_dir}"
            )
            continue
        subtitle = pick(row, SUBTITLE_COLUMNS) or subtitles.get(stem, "")
        rows.append(
            make_record(
                id=f"emer-{stem}",
                video=relative_video(video, Path(out)),
                label=LABELS[raw.strip().lower()],
                split=options.split,
                subtitle=re.sub(r"\s+", " ", subtitle).strip(),
                think=think,
                source=NAME,
            )
        )
    if problems:
        raise AdapterError(NAME, root, problems)
    if not rows:
        raise AdapterError(NAME, root, [f"{annotation}: no usable rows"])
    return write_splits(
        out, media_root=root, records={options.split: rows}, labels=LABEL_SET, check_media=check_media, skipped=skipped
    )
