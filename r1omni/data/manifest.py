"""The manifest format shared by SynthEmo and the real data set adapters.

One JSON object per line. Required fields:

- ``id``: unique clip id (str)
- ``video``: path of the clip, relative to the manifest file (str)
- ``label``: the emotion label (str, one of the label set)
- ``split``: ``train`` / ``val`` / ``test`` / ``ood`` / ``conflict`` / ``coldstart`` (or the
  real data set's own split names)
- ``subtitle``: the spoken sentence (str, may be empty for data sets without one)
- ``cues``: dict of true generating parameters (SynthEmo) or ``{}`` where unknown
- ``conversations``: R1-Omni's training format, a human turn with the prompt and a gpt
  turn with the target, ``<answer>label</answer>`` or ``<think>...</think><answer>label</answer>``

Reading: :func:`load_manifest` (fields, labels, unique ids, files exist; adds ``video_path``),
:func:`validate_manifest` (also the conversation format and that every clip decodes).
Writing: :func:`write_manifest` (checked, atomic). Every problem of a manifest is reported
at once in one :class:`ManifestError` (a ``ValueError``), one ``file:line: reason`` each.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from r1omni.data.media import MediaError, load_clip
from r1omni.io import atomic_write_json, atomic_write_jsonl, file_digest, read_json, read_json_lines
from r1omni.settings import (
    ANSWER_CLOSE,
    ANSWER_OPEN,
    AUDIO_TOKEN,
    LABEL_SETS,
    PERCEPTION_SPLIT,
    PROMPT,
    THINK_CLOSE,
    THINK_OPEN,
    VIDEO_TOKEN,
    labels_for,
)

REQUIRED_FIELDS: tuple[str, ...] = ("id", "video", "label", "split", "subtitle", "cues", "conversations")
#: A perception line (``split == "perception"``) has no label: a ``caption`` (its target) instead.
PERCEPTION_FIELDS: tuple[str, ...] = ("id", "video", "split", "subtitle", "cues", "caption", "conversations")


def answer_target(label: str, think: str | None = None) -> str:
    """The gpt turn: ``<answer>label</answer>``, or ``<think>..</think><answer>label</answer>``.

    >>> answer_target("happy")
    '<answer>happy</answer>'
    >>> answer_target("sad", "The voice is low.")
    '<think>The voice is low.</think><answer>sad</answer>'
    """
    answer = f"{ANSWER_OPEN}{label}{ANSWER_CLOSE}"
    if think is None:
        return answer
    return f"{THINK_OPEN}{think}{THINK_CLOSE}{answer}"


def conversations(label: str, think: str | None = None, *, prompt: str = PROMPT) -> list[dict[str, str]]:
    """R1-Omni's two-turn training conversation for one clip.

    >>> conversations("fear")[1]
    {'from': 'gpt', 'value': '<answer>fear</answer>'}
    """
    return [
        {"from": "human", "value": f"{VIDEO_TOKEN}\n{AUDIO_TOKEN}\n{prompt}"},
        {"from": "gpt", "value": answer_target(label, think)},
    ]


def make_record(
    *,
    id: str,
    video: str,
    label: str,
    split: str,
    subtitle: str = "",
    cues: dict[str, Any] | None = None,
    think: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Build one manifest line with every required field (extra fields are kept)."""
    record = {
        "id": id,
        "video": video,
        "label": label,
        "split": split,
        "subtitle": subtitle,
        "cues": dict(cues or {}),
        "conversations": conversations(label, think),
    }
    record.update(extra)
    return record


# --------------------------------------------------------------------------- reading and checking

#: Field -> the type it must have.
FIELD_TYPES: dict[str, type] = {
    "id": str,
    "video": str,
    "label": str,
    "split": str,
    "subtitle": str,
    "cues": dict,
    "conversations": list,
    "caption": str,
}
#: Optional label fields (SynthEmo) checked against the label set like ``label``.
LABEL_FIELDS: tuple[str, ...] = ("label", "face_label", "voice_label")


class ManifestError(ValueError):
    """Every problem found in one manifest, one ``file:line: reason`` per line of the message."""

    def __init__(self, path: str | os.PathLike, problems: list[tuple[int, str]]):
        self.path = str(path)
        self.problems = sorted(problems)
        head = f"{self.path}: {len(problems)} problem{'s' if len(problems) != 1 else ''} in the manifest"
        super().__init__("\n".join([head] + [f"  {self.path}:{line}: {reason}" for line, reason in self.problems]))


def _allowed_labels(labels: str | Sequence[str] | None) -> frozenset[str]:
    if labels is None:
        return frozenset(label for group in LABEL_SETS.values() for label in group)
    if isinstance(labels, str):
        return frozenset(labels_for(labels))
    return frozenset(labels)


def resolve_video(manifest_path: str | os.PathLike, video: str) -> Path:
    """The absolute, normalised path of a record's ``video`` (relative to the manifest's folder)."""
    return Path(os.path.normpath(Path(manifest_path).resolve().parent / video))


def record_problems(record: Any, allowed: frozenset[str]) -> list[str]:
    """Reasons why one record is malformed (missing fields, wrong types, unknown labels)."""
    if not isinstance(record, dict):
        return [f"a manifest line must be a JSON object, got {type(record).__name__}"]
    perception = record.get("split") == PERCEPTION_SPLIT
    required = PERCEPTION_FIELDS if perception else REQUIRED_FIELDS
    missing = [name for name in required if name not in record]
    if perception and any(name in record for name in LABEL_FIELDS):
        missing = missing + [f"(none of {', '.join(LABEL_FIELDS)}: a perception line has no emotion label)"]
    reasons = [f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}"] if missing else []
    for name, kind in FIELD_TYPES.items():
        if name in record and not isinstance(record[name], kind):
            reasons.append(f"field {name!r} must be {kind.__name__}, got {type(record[name]).__name__}")
    for name in ("id", "video", "label", "split", "caption"):
        if isinstance(record.get(name), str) and not record[name].strip():
            reasons.append(f"field {name!r} is empty")
    for name in LABEL_FIELDS:
        value = record.get(name)
        if isinstance(value, str) and value.strip() and value not in allowed:
            reasons.append(f"unknown {name} {value!r} (known: {', '.join(sorted(allowed))})")
    return reasons


def conversation_problems(record: dict[str, Any]) -> list[str]:
    """Reasons why ``conversations`` is not R1-Omni's human turn + gpt turn ending in the label's answer."""
    turns = record.get("conversations")
    if not isinstance(turns, list):
        return []  # already reported by record_problems
    if [t.get("from") if isinstance(t, dict) else None for t in turns] != ["human", "gpt"]:
        return ["'conversations' must be [human turn, gpt turn]"]
    if not all(isinstance(t.get("value"), str) and t["value"].strip() for t in turns):
        return ["'conversations' turns must have a non-empty string 'value'"]
    if record.get("split") == PERCEPTION_SPLIT:
        if turns[1]["value"] != record.get("caption"):
            return ["the gpt turn of a perception line must be its caption"]
        return []
    label = record.get("label")
    if isinstance(label, str) and not re.search(
        rf"{re.escape(ANSWER_OPEN)}\s*{re.escape(label)}\s*{re.escape(ANSWER_CLOSE)}\s*$", turns[1]["value"]
    ):
        return [f"the gpt turn does not end with {ANSWER_OPEN}{label}{ANSWER_CLOSE}"]
    return []


def _read_lines(path: Path, problems: list[tuple[int, str]]) -> list[tuple[int, Any]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such manifest")
    rows = []
    for lineno, value in read_json_lines(path):
        if isinstance(value, ValueError):
            problems.append((lineno, str(value)))  # not UTF-8, not JSON, or nested too deeply
        else:
            rows.append((lineno, value))
    return rows


MEDIA_ROOTS = "media_roots.json"


def write_media_roots(folder: str | os.PathLike, roots: Sequence[str | os.PathLike]) -> Path:
    """Allow the manifests in ``folder`` to point at clips under ``roots`` too (an adapter's source
    data set): ``<folder>/media_roots.json``."""
    return atomic_write_json(Path(folder) / MEDIA_ROOTS, {"roots": [str(Path(r).resolve()) for r in roots]})


def media_roots(manifest_path: str | os.PathLike) -> list[Path]:
    """The folders a manifest's clips may lie in: its own folder, and those its folder's
    ``media_roots.json`` names."""
    folder = Path(manifest_path).resolve().parent
    roots = [folder]
    if (folder / MEDIA_ROOTS).is_file():
        listed = read_json(folder / MEDIA_ROOTS).get("roots", [])
        if not isinstance(listed, list) or not all(isinstance(r, str) for r in listed):
            raise ValueError(f"{folder / MEDIA_ROOTS}: 'roots' must be a list of folder paths")
        roots += [Path(os.path.normpath(r)) for r in listed]
    return roots


def _inside(path: str, roots: Sequence[Path]) -> bool:
    """Lexically under one of ``roots`` (``..`` and absolute paths escape; a symlink the data's
    owner put inside the folder does not)."""
    path = Path(os.path.normpath(path))
    return any(path == root or root in path.parents for root in roots)


def _check(
    path: str | os.PathLike,
    labels: str | Sequence[str] | None,
    *,
    check_files: bool,
    check_conversations: bool,
    check_media: bool,
    allow_missing_audio: bool = False,
    allow_outside: bool = False,
) -> list[dict[str, Any]]:
    path = Path(path)
    problems: list[tuple[int, str]] = []
    allowed = _allowed_labels(labels)
    roots = media_roots(path)
    rows = _read_lines(path, problems)
    first_line: dict[str, int] = {}
    records = []
    for lineno, record in rows:
        reasons = record_problems(record, allowed)
        if check_conversations and isinstance(record, dict):
            reasons += conversation_problems(record)
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            if record["id"] in first_line:
                reasons.append(f"duplicate id {record['id']!r} (first on line {first_line[record['id']]})")
            else:
                first_line[record["id"]] = lineno
        if isinstance(record, dict) and isinstance(record.get("video"), str) and record["video"].strip():
            record = dict(record, video_path=str(resolve_video(path, record["video"])))
            if not allow_outside and not _inside(record["video_path"], roots):
                reasons.append(
                    f"video {record['video']!r} lies outside the manifest's folder {roots[0]} "
                    f"(list its folder in {MEDIA_ROOTS} there, or pass allow_outside=True)"
                )
            elif check_files and not Path(record["video_path"]).is_file():
                reasons.append(f"video file {record['video_path']} does not exist")
            elif check_media:
                try:
                    load_clip(record["video_path"], allow_missing_audio=allow_missing_audio)
                except MediaError as err:
                    reasons.append(f"unreadable video: {err}")
        problems += [(lineno, reason) for reason in reasons]
        records.append(record)
    if problems:
        raise ManifestError(path, problems)
    return records


def load_manifest(
    path: str | os.PathLike,
    *,
    labels: str | Sequence[str] | None = None,
    check_files: bool = True,
    allow_outside: bool = False,
) -> list[dict[str, Any]]:
    """Read a JSON-lines manifest, check it, and add ``video_path`` (absolute) to every record.

    Checks every line (all problems are reported at once in one :class:`ManifestError`, a
    ``ValueError``, as ``file:line: reason``): valid JSON, the required fields and their types,
    labels (``label``, ``face_label``, ``voice_label``) in ``labels`` (a label-set name such
    as ``"dfew"``, a list of labels, or None for any label of DFEW/MAFW/RAVDESS), unique ids,
    and (``check_files``) that every video file exists, and that it lies in the manifest's folder
    or one its ``media_roots.json`` names (a path such as ``../../x.mp4`` or ``/etc/x`` is refused
    unless ``allow_outside``). Media are not decoded here; use :func:`validate_manifest` for that
    and for the conversation format.
    """
    return _check(
        path, labels, check_files=check_files, check_conversations=False, check_media=False, allow_outside=allow_outside
    )


def validate_manifest(
    path: str | os.PathLike,
    check_media: bool = True,
    *,
    labels: str | Sequence[str] | None = None,
    allow_missing_audio: bool = False,
    allow_outside: bool = False,
) -> list[dict[str, Any]]:
    """Everything :func:`load_manifest` checks, plus the conversation format (a human turn and a
    gpt turn ending in ``<answer>label</answer>``) and, with ``check_media``, that every clip
    decodes with :func:`r1omni.data.media.load_clip` (frames and an audio track unless
    ``allow_missing_audio``). Reports every bad entry at once in one :class:`ManifestError`;
    returns the records (with ``video_path``) when all is well.
    """
    return _check(
        path,
        labels,
        check_files=True,
        check_conversations=True,
        check_media=check_media,
        allow_missing_audio=allow_missing_audio,
        allow_outside=allow_outside,
    )


def write_manifest(
    path: str | os.PathLike, records: Sequence[dict[str, Any]], *, labels: str | Sequence[str] | None = None
) -> Path:
    """Check ``records`` (fields, types, labels, unique ids, conversations) and write them as
    JSON lines atomically (sorted keys). ``video_path`` keys are dropped: a manifest stores
    ``video`` relative to itself so that the folder can move. Problems raise one
    :class:`ManifestError` naming the line each record would have had."""
    allowed = _allowed_labels(labels)
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    rows = []
    for lineno, record in enumerate(records, 1):
        reasons = record_problems(record, allowed)
        if isinstance(record, dict):
            reasons += conversation_problems(record)
            if record.get("id") in seen:
                reasons.append(f"duplicate id {record['id']!r} (first on line {seen[record['id']]})")
            elif isinstance(record.get("id"), str):
                seen[record["id"]] = lineno
            rows.append({k: v for k, v in record.items() if k != "video_path"})
        problems += [(lineno, reason) for reason in reasons]
    if problems:
        raise ManifestError(path, problems)
    return atomic_write_jsonl(path, rows)


def records_fingerprint(records: Sequence[dict[str, Any]], *, media: bool = True) -> str:
    """16 hex digits identifying what a run reads from these records: every record's fields (but
    not ``video_path``, whose absolute form moves with the folder) in order and, with ``media``,
    the sha256 of every clip file (``video_path``) they point to. New data, another seed's clips
    under the same ids, or a re-encoded clip all change it; moving the data folder does not."""
    digest = hashlib.sha256()
    for record in records:
        fields = {k: v for k, v in record.items() if k != "video_path"}
        digest.update(json.dumps(fields, sort_keys=True, default=str).encode())
        if media and record.get("video_path"):
            digest.update(file_digest(record["video_path"]).encode())
    return digest.hexdigest()[:16]
