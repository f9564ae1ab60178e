"""MAFW (Multi-modal Affective database in the Wild) -> ``train.jsonl`` / ``test.jsonl`` for one fold.

Expected layout (as the MAFW download unpacks)::

    ROOT/
      clips/00001.mp4 ... 10045.mp4                  # clips with audio (any depth below clips_dir)
      .../single_label.txt                           # found anywhere under ROOT, or set label_file
      .../set_1/train.txt, .../set_1/test.txt ...    # the 5 official single-label folds
                                                     # (found anywhere under ROOT, or set splits_dir)

``single_label.txt`` holds one clip per line: ``03747.mp4  anger  <br>Chinese caption <br>English
caption`` (the captions are optional). MAFW's names are mapped to the workbook's MAFW labels:
anger -> angry, happiness -> happy, sadness -> sad, contempt -> contemptuous, anxiety -> anxious,
helplessness -> helpless, disappointment -> disappointed (disgust, fear, neutral, surprise keep
their names). A fold file lists one clip per line; its first token is the clip name (with or
without ``.mp4``); the label always comes from ``single_label.txt``. With ``fold=0`` no fold files
are read and every labelled clip goes to ``all.jsonl`` (split ``all``).

The English caption is kept in the record as ``description`` (``description_zh`` for the
Chinese one); with ``think_from_description`` it becomes the ``<think>`` part of the target,
giving EMER-style cold-start records. MAFW has no transcripts: ``subtitle`` is empty.
"""

from __future__ import annotations

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
from r1omni.settings import MAFW_LABELS

NAME = "mafw"
LABEL_SET = "mafw"
#: MAFW's own class names -> the workbook's MAFW labels.
NAMES: dict[str, str] = {
    "anger": "angry",
    "disgust": "disgust",
    "fear": "fear",
    "happiness": "happy",
    "neutral": "neutral",
    "sadness": "sad",
    "surprise": "surprise",
    "contempt": "contemptuous",
    "anxiety": "anxious",
    "helplessness": "helpless",
    "disappointment": "disappointed",
}
NAMES.update({label: label for label in MAFW_LABELS})


@dataclass
class Options:
    """MAFW adapter settings."""

    fold: int = 1
    """Which of MAFW's 5 folds (``set_<fold>/train.txt``, ``test.txt``) to write; 0 = no folds, one ``all`` split."""
    clips_dir: str = "clips"
    """Folder (relative to the root, or absolute) that holds the clips."""
    label_file: str = ""
    """The single-label file (relative to the root); empty = find ``single_label.txt`` under the root."""
    splits_dir: str = ""
    """Folder that holds ``set_1`` .. ``set_5``; empty = find ``set_<fold>`` under the root."""
    think_from_description: bool = False
    """Use the English caption as the ``<think>`` reasoning of the target (EMER-style cold start)."""


def _find_one(name: str, root: Path, pattern: str, what: str) -> Path:
    hits = sorted(p for p in root.rglob(pattern))
    if len(hits) != 1:
        found = ", ".join(map(str, hits[:5])) or "none"
        raise AdapterError(name, root, [f"expected exactly one {what} ({pattern}) under {root}, found {found}"])
    return hits[0]


def read_single_labels(path: Path) -> tuple[dict[str, dict], list[str]]:
    """clip stem -> {"label", "line", "description", "description_zh"}; plus problems found."""
    entries, problems = {}, []
    for lineno, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("<br>")]
        head = parts[0].split()
        if len(head) < 2:
            problems.append(f"{path}:{lineno}: expected '<clip> <label> [<br>captions]', got {line[:80]!r}")
            continue
        stem, raw = Path(head[0]).stem, head[1].lower()
        if raw not in NAMES:
            problems.append(f"{path}:{lineno}: unknown MAFW label {head[1]!r} (known: {', '.join(sorted(NAMES))})")
            continue
        if stem in entries:
            problems.append(f"{path}:{lineno}: clip {stem} listed twice (first on line {entries[stem]['line']})")
            continue
        entries[stem] = {
            "label": NAMES[raw],
            "line": lineno,
            "description_zh": parts[1] if len(parts) >= 3 else "",
            "description": parts[-1] if len(parts) >= 2 else "",
        }
    return entries, problems


def read_fold_file(path: Path) -> list[tuple[str, int]]:
    """(clip stem, line) for every non-empty line of a fold file."""
    return [
        (Path(line.split()[0]).stem, lineno)
        for lineno, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1)
        if line.strip()
    ]


def build(
    root: str | os.PathLike,
    out: str | os.PathLike,
    options: Options | None = None,
    *,
    check_media: bool = False,
    skip_missing: bool = False,
) -> AdapterResult:
    """Write ``out/train.jsonl`` and ``out/test.jsonl`` (or ``out/all.jsonl`` with ``fold=0``).

    Every problem is reported at once in one :class:`AdapterError`; ``skip_missing`` leaves
    clips that are not on disk out (listed in ``skipped``); ``check_media`` decodes every clip.
    """
    options = options or Options()
    root = require_dir(NAME, Path(root))
    if options.fold not in range(0, 6):
        raise AdapterError(NAME, root, [f"fold must be 0..5, got {options.fold}"])
    label_path = (
        root / options.label_file if options.label_file else _find_one(NAME, root, "single_label.txt", "label file")
    )
    entries, problems = read_single_labels(label_path)
    clips_root = require_dir(NAME, root / options.clips_dir)
    videos = index_videos(clips_root)

    if options.fold == 0:
        members = {"all": [(stem, entry["line"], label_path) for stem, entry in entries.items()]}
    else:
        folds = (root / options.splits_dir if options.splits_dir else root).rglob(f"set_{options.fold}")
        fold_dirs = sorted(d for d in folds if (d / "train.txt").is_file() and (d / "test.txt").is_file())
        if len(fold_dirs) != 1:
            raise AdapterError(
                NAME,
                root,
                [
                    f"expected one folder set_{options.fold} with train.txt and test.txt, "
                    f"found {[str(d) for d in fold_dirs] or 'none'}"
                ],
            )
        members = {
            split: [
                (stem, line, fold_dirs[0] / f"{split}.txt")
                for stem, line in read_fold_file(fold_dirs[0] / f"{split}.txt")
            ]
            for split in ("train", "test")
        }

    records: dict[str, list[dict]] = {split: [] for split in members}
    skipped = []
    for split, rows in members.items():
        for stem, lineno, source in rows:
            entry = entries.get(stem)
            if entry is None:
                problems.append(f"{source}:{lineno}: clip {stem} has no entry in {label_path}")
                continue
            video = videos.get(stem)
            if video is None:
                (skipped if skip_missing else problems).append(
                    f"{source}:{lineno}: clip {stem} not found under {clips_root}"
                )
                continue
            think = entry["description"] if options.think_from_description else None
            if options.think_from_description and not think:
                problems.append(f"{label_path}:{entry['line']}: clip {stem} has no English caption to use as reasoning")
                continue
            records[split].append(
                make_record(
                    id=f"mafw-{stem}",
                    video=relative_video(video, Path(out)),
                    label=entry["label"],
                    split=split,
                    think=think,
                    source=NAME,
                    fold=options.fold,
                    description=entry["description"],
                    description_zh=entry["description_zh"],
                )
            )
    if problems:
        raise AdapterError(NAME, root, problems)
    return write_splits(
        out, media_root=root, records=records, labels=LABEL_SET, check_media=check_media, skipped=skipped
    )
