"""What every real-data-set adapter shares: finding clips, relative paths, writing the manifests.

An adapter turns the folder a user downloaded into manifests in the SynthEmo format
(:func:`r1omni.data.manifest.make_record`), one ``<split>.jsonl`` per split in ``out``, with
``video`` paths relative to ``out`` so that the clips stay where they were downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1omni.data.manifest import validate_manifest, write_manifest, write_media_roots

#: Container suffixes an adapter accepts as clips (lower case).
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".flv")


class AdapterError(ValueError):
    """The downloaded tree does not look as the adapter expects; the message lists every problem."""

    def __init__(self, name: str, root: str | os.PathLike, problems: list[str], limit: int = 20):
        self.problems = list(problems)
        shown = [f"  {p}" for p in problems[:limit]]
        if len(problems) > limit:
            shown.append(f"  ... and {len(problems) - limit} more")
        super().__init__("\n".join([f"{name} adapter, root {root}: {len(problems)} problem(s)"] + shown))


@dataclass
class AdapterResult:
    """What an adapter wrote."""

    manifests: dict[str, Path]
    """split -> manifest path."""
    counts: dict[str, int]
    """split -> number of records."""
    skipped: list[str] = field(default_factory=list)
    """One line per annotation entry left out (only with ``skip_missing=True``), with the reason."""


def require_dir(name: str, root: Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise AdapterError(name, root, [f"{root} is not a directory"])
    return root


def index_videos(folder: Path, suffixes: Iterable[str] = VIDEO_SUFFIXES) -> dict[str, Path]:
    """Map file stem -> path for every video under ``folder`` (recursively). A stem seen twice
    with different files is ambiguous and raises."""
    suffixes = tuple(s.lower() for s in suffixes)
    found: dict[str, Path] = {}
    clashes = []
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and path.suffix.lower() in suffixes and not path.name.startswith("."):
            if path.stem in found:
                clashes.append(f"clip name {path.stem!r} found twice: {found[path.stem]} and {path}")
            found[path.stem] = path
    if clashes:
        raise AdapterError("index", folder, clashes)
    return found


def relative_video(path: Path, out: Path) -> str:
    """``path`` relative to the manifest folder ``out`` (POSIX separators)."""
    return Path(os.path.relpath(Path(path).resolve(), Path(out).resolve())).as_posix()


def write_splits(
    out: str | os.PathLike,
    records: dict[str, list[dict[str, Any]]],
    *,
    labels: str | tuple[str, ...],
    check_media: bool,
    media_root: str | os.PathLike,
    skipped: list[str] | None = None,
    allow_missing_audio: bool = False,
) -> AdapterResult:
    """Write ``out/<split>.jsonl`` for every split (atomic, checked), and ``out/media_roots.json``
    naming ``media_root`` (the data set the user pointed the adapter at) as a folder the manifests'
    clips may come from; with ``check_media``, decode every clip once through
    :func:`validate_manifest` (all problems in one error)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_media_roots(out, [media_root])
    manifests = {}
    for split, rows in records.items():
        if not rows:
            continue
        manifests[split] = write_manifest(out / f"{split}.jsonl", rows, labels=labels)
    for path in manifests.values():
        validate_manifest(path, check_media=check_media, labels=labels, allow_missing_audio=allow_missing_audio)
    return AdapterResult(
        manifests=manifests, counts={s: len(records[s]) for s in manifests}, skipped=list(skipped or [])
    )
