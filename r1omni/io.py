"""Atomic writes and JSON / JSON-lines readers, shared by every stage.

A reader never sees a half-written file: every write goes to a temporary file in the
same directory, is flushed and fsync'ed, then ``os.replace``-d into place.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def current_umask() -> int:
    """The process's umask (read without changing it, from /proc where there is one)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # no /proc: set and restore (not thread-safe, but only then)
    os.umask(mask)
    return mask


def respect_umask(path: str | os.PathLike, *, directory: bool = False) -> None:
    """Give a file made by ``mkstemp`` (0600) or a folder made by ``mkdtemp`` (0700) the mode a
    plain ``open`` / ``mkdir`` would have given it: 0666 / 0777 minus the umask."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[Any]:
    """Open a temporary sibling of ``path`` for writing; move it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left untouched. The file gets
    the mode a plain ``open`` would give it (0666 minus the umask), not ``mkstemp``'s 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        respect_umask(tmp)
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # numpy / torch scalars and arrays
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def to_jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON values (dataclasses, paths, numpy / torch scalars and arrays converted).

    >>> to_jsonable({"p": Path("a/b"), "n": (1, 2)})
    {'p': 'a/b', 'n': [1, 2]}
    """
    return json.loads(json.dumps(obj, default=_json_default))


def atomic_write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (sorted keys, stable bytes)."""
    text = json.dumps(obj, indent=indent, sort_keys=True, default=_json_default, ensure_ascii=False)
    return atomic_write_text(path, text + "\n")


def atomic_write_jsonl(path: str | os.PathLike, rows: Iterable[Any]) -> Path:
    """Write one JSON object per line to ``path`` atomically."""
    with atomic_open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, sort_keys=True, default=_json_default, ensure_ascii=False))
            fh.write("\n")
    return Path(path)


def parse_json(text: str | bytes) -> Any:
    """``json.loads`` whose every failure is a ValueError with a reason: not UTF-8 (for bytes), not
    valid JSON, or nested too deeply to parse (json raises RecursionError for that).

    >>> parse_json(b'{"a": [1]}')
    {'a': [1]}
    >>> parse_json("[" * 100_000)
    Traceback (most recent call last):
    ...
    ValueError: nested too deeply to parse
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"not valid UTF-8 (byte 0x{err.object[err.start]:02x} at offset {err.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON ({err.msg} at line {err.lineno} column {err.colno})") from None
    except RecursionError:
        raise ValueError("nested too deeply to parse") from None


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, naming the file in the error if it is missing or malformed."""
    path = Path(path)
    try:
        return parse_json(path.read_bytes())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def read_json_lines(path: str | os.PathLike) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` of every non-blank line of a JSON-lines file, where ``value`` is the
    parsed object or, for a bad line, the ValueError saying why (see :func:`parse_json`)."""
    path = Path(path)
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    with fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                yield lineno, parse_json(raw)
            except ValueError as err:
                yield lineno, err


def read_jsonl(path: str | os.PathLike) -> list[Any]:
    """Read a JSON-lines file; a malformed line raises naming the file and line number."""
    rows = []
    for lineno, value in read_json_lines(path):
        if isinstance(value, ValueError):
            raise ValueError(f"{path}:{lineno}: {value}")
        rows.append(value)
    return rows


def append_jsonl(path: str | os.PathLike, row: Any) -> None:
    """Append one JSON line and flush it (for streaming metrics; a torn last line is
    skipped by :func:`read_jsonl` callers that use ``tolerant=True``-style logic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, sort_keys=True, default=_json_default, ensure_ascii=False) + "\n")
        fh.flush()


def atomic_replace_dir(tmp_dir: str | os.PathLike, final_dir: str | os.PathLike) -> Path:
    """Move a fully written directory ``tmp_dir`` onto ``final_dir``.

    Any previous ``final_dir`` is moved aside first and deleted after the swap, so at
    every instant ``final_dir`` is either absent, the old complete one or the new one.
    """
    tmp_dir, final_dir = Path(tmp_dir), Path(final_dir)
    old = None
    if final_dir.exists():
        old = final_dir.with_name(f".{final_dir.name}.old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(final_dir, old)
    os.replace(tmp_dir, final_dir)
    _fsync_dir(final_dir.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return final_dir


@functools.lru_cache(maxsize=65536)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_digest(path: str | os.PathLike) -> str:
    """sha256 (hex) of a file's bytes, computed once per (path, size, mtime) in this process."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    return _file_sha256(str(path.resolve()), st.st_size, st.st_mtime_ns)


class LockedError(RuntimeError):
    """Another live process holds a lock (its pid and command are in the message)."""


def lock_holder(lock_path: str | os.PathLike) -> str:
    """What a lock file says about its holder ("pid N: command"), or "unknown"."""
    try:
        return Path(lock_path).read_text().strip() or "unknown"
    except OSError:
        return "unknown"


@contextlib.contextmanager
def file_lock(lock_path: str | os.PathLike, *, wait: bool = False, what: str = "folder") -> Iterator[Path]:
    """Hold an exclusive ``flock`` on ``lock_path`` while the block runs, with this process's pid
    and command written in it.

    Held by another live process: :class:`LockedError` naming it, or with ``wait`` block until it
    is free. An ``flock`` dies with its holder, so a lock file left by a killed process is simply
    taken over. The descriptor is not inherited by child processes.
    """
    import fcntl
    import sys

    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise LockedError(
                f"{lock_path.parent.resolve()}: this {what} is being written by another process "
                f"({lock_holder(lock_path)}); wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}: {' '.join(sys.argv)[:200]}\n".encode())
        try:
            yield lock_path
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the flock
