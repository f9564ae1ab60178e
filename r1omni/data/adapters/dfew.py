"""DFEW (Dynamic Facial Expression in-the-Wild) -> ``train.jsonl`` / ``test.jsonl`` for one fold.

Expected layout (as the DFEW download unpacks; ``clips_dir`` may point elsewhere)::

    ROOT/
      Clip/original/00001.mp4 ... 16372.mp4          # the movie clips with their audio
      EmoLabel_DataSplit/
        train(single-labeled)/set_1.csv ... set_5.csv
        test(single-labeled)/set_1.csv ... set_5.csv

Each CSV has a header ``video_name,label``; ``video_name`` is the clip number (``1`` or
``00001``) and ``label`` DFEW's code: 1 happy, 2 sad, 3 neutral, 4 angry, 5 surprise,
6 disgust, 7 fear (0 marks clips without a single label, which the single-labeled files
leave out). Clips are found by file stem (``00001`` or ``1``) anywhere under ``clips_dir``.
DFEW has no transcripts, so ``subtitle`` is empty; ``cues`` is ``{}``.
"""

from __future__ import annotations

import csv
import os
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

NAME = "dfew"
LABEL_SET = "dfew"
#: DFEW's label codes.
CODES: dict[int, str] = {1: "happy", 2: "sad", 3: "neutral", 4: "angry", 5: "surprise", 6: "disgust", 7: "fear"}
#: split name -> folder of the per-fold CSVs.
SPLIT_DIRS: dict[str, str] = {"train": "train(single-labeled)", "test": "test(single-labeled)"}


@dataclass
class Options:
    """DFEW adapter settings."""

    fold: int = 1
    """Which of DFEW's 5 cross-validation folds (``set_<fold>.csv``) to write."""
    clips_dir: str = "Clip/original"
    """Folder (relative to the root, or absolute) that holds the clips with audio."""
    labels_dir: str = "EmoLabel_DataSplit"
    """Folder (relative to the root) that holds the ``train(...)``/``test(...)`` CSV folders."""


def read_split_csv(path: Path) -> list[tuple[str, int, int]]:
    """(zero-padded clip name, label code, CSV line) for every row of a DFEW split CSV."""
    rows = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"video_name", "label"} <= set(reader.fieldnames):
            raise AdapterError(NAME, path, [f"{path}: expected columns video_name,label, got {reader.fieldnames}"])
        for lineno, row in enumerate(reader, 2):
            try:
                rows.append((f"{int(row['video_name']):05d}", int(row["label"]), lineno))
            except (TypeError, ValueError):
                raise AdapterError(
                    NAME, path, [f"{path}:{lineno}: video_name and label must be integers, got {row}"]
                ) from None
    return rows


def build(
    root: str | os.PathLike,
    out: str | os.PathLike,
    options: Options | None = None,
    *,
    check_media: bool = False,
    skip_missing: bool = False,
) -> AdapterResult:
    """Write ``out/train.jsonl`` and ``out/test.jsonl`` for ``options.fold``.

    Every problem (missing CSV, unknown code, clip not found) is reported at once in one
    :class:`AdapterError`; with ``skip_missing`` clips not found are left out and listed in
    ``AdapterResult.skipped`` instead. ``check_media`` decodes every clip.
    """
    options = options or Options()
    root = require_dir(NAME, Path(root))
    if options.fold not in range(1, 6):
        raise AdapterError(NAME, root, [f"fold must be 1..5, got {options.fold}"])
    clips_root = require_dir(NAME, root / options.clips_dir)
    videos = index_videos(clips_root)
    problems, skipped = [], []
    records: dict[str, list[dict]] = {}
    for split, folder in SPLIT_DIRS.items():
        csv_path = root / options.labels_dir / folder / f"set_{options.fold}.csv"
        if not csv_path.is_file():
            problems.append(f"missing split file {csv_path}")
            continue
        records[split] = []
        for name, code, lineno in read_split_csv(csv_path):
            where = f"{csv_path}:{lineno}"
            if code not in CODES:
                problems.append(f"{where}: unknown DFEW label code {code} (expected 1..7)")
                continue
            video = videos.get(name) or videos.get(str(int(name)))
            if video is None:
                (skipped if skip_missing else problems).append(f"{where}: clip {name} not found under {clips_root}")
                continue
            records[split].append(
                make_record(
                    id=f"dfew-{name}",
                    video=relative_video(video, Path(out)),
                    label=CODES[code],
                    split=split,
                    source=NAME,
                    fold=options.fold,
                )
            )
    if problems:
        raise AdapterError(NAME, root, problems)
    return write_splits(
        out, media_root=root, records=records, labels=LABEL_SET, check_media=check_media, skipped=skipped
    )
