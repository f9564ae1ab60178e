"""Progress of long work: a tqdm bar in a notebook or a terminal, and, inside a chain run, a line every
few seconds in the terminal that runs the chain.

papermill runs each notebook in a kernel whose output goes into the executed notebook, not into the
terminal of ``make workbook``. The chain runner therefore sets ``$R1OMNI_PROGRESS`` (a JSON-lines
file) and ``$R1OMNI_STAGE`` (the notebook's name) for the kernel; :func:`progress_bar` then draws no
bar into the notebook (the executed notebooks stay clean) and appends its state to that file at most
every :data:`INTERVAL` seconds, and the runner prints each new state as one line
(:func:`follow`, :func:`format_line`).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

PROGRESS_ENV = "R1OMNI_PROGRESS"
STAGE_ENV = "R1OMNI_STAGE"
#: Seconds between two progress lines of one bar (its first and last state are always written).
INTERVAL = 5.0


class ProgressBar:
    """What :func:`progress_bar` returns: tqdm's ``update`` / ``set_postfix`` / ``close`` and iteration."""

    def __init__(
        self, iterable: Iterable | None, *, total: int | None, desc: str, unit: str, disable: bool, initial: int
    ):
        self.iterable, self.desc, self.unit = iterable, desc, unit
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.n, self.postfix, self._closed = initial, {}, False
        self._start = self._last = time.monotonic()
        self._file = os.environ.get(PROGRESS_ENV) if not disable else None
        self._bar = None
        if not disable and self._file is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, desc=desc, unit=unit, initial=initial)
        self._emit(force=True)

    def __iter__(self) -> Iterator:
        for item in self.iterable:
            yield item
            self.update(1)
        self.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
        self._emit()

    def set_postfix(self, **values: Any) -> None:
        self.postfix = {k: str(v) for k, v in values.items()}
        if self._bar is not None:
            self._bar.set_postfix(values)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        self._emit(force=True, final=True)

    def _emit(self, force: bool = False, final: bool = False) -> None:
        if self._file is None:
            return
        now = time.monotonic()
        if not force and now - self._last < INTERVAL:
            return
        self._last = now
        elapsed = now - self._start
        row = {
            "stage": os.environ.get(STAGE_ENV, ""),
            "desc": self.desc,
            "n": self.n,
            "total": self.total,
            "unit": self.unit,
            "elapsed": round(elapsed, 1),
            "postfix": self.postfix,
            "final": final,
            "rate": round(self.n / elapsed, 4) if elapsed > 0 else None,
        }
        with open(self._file, "a", encoding="utf-8") as fh:  # one short line: appends do not interleave
            fh.write(json.dumps(row) + "\n")


def progress_bar(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    disable: bool = False,
    initial: int = 0,
) -> ProgressBar:
    """A progress bar for long work (see the module docstring for where it shows)."""
    return ProgressBar(iterable, total=total, desc=desc, unit=unit, disable=disable, initial=initial)


def _duration(seconds: float) -> str:
    """``3m05s``-style duration.

    >>> _duration(185), _duration(7), _duration(3725)
    ('3m05s', '7s', '1h02m')
    """
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def format_line(row: dict[str, Any]) -> str:
    """One progress state as a terminal line.

    >>> format_line({"stage": "03_rlvr_grpo", "desc": "GRPO", "n": 45, "total": 150, "unit": "it",
    ...              "elapsed": 54.0, "rate": 0.8333, "postfix": {"reward": "0.61"}, "final": False})
    '[03_rlvr_grpo] GRPO 45/150 reward=0.61 · 1.20 s/it, 2m06s left'
    """
    done = f"{row['n']}/{row['total']}" if row.get("total") else f"{row['n']}"
    post = "".join(f" {k}={v}" for k, v in (row.get("postfix") or {}).items())
    rate, total = row.get("rate"), row.get("total")
    if row.get("final"):
        tail = f"done in {_duration(row['elapsed'])}"
    elif rate:
        speed = f"{1 / rate:.2f} s/{row['unit']}" if rate < 1 else f"{rate:.1f} {row['unit']}/s"
        tail = speed + (f", {_duration((total - row['n']) / rate)} left" if total else "")
    else:
        tail = "starting"
    return f"[{row.get('stage', '')}] {row.get('desc', '')} {done}{post} · {tail}"


def follow(path: str | os.PathLike, emit: Callable[[str], None], stop: threading.Event, poll: float = 1.0) -> None:
    """Print (``emit``) every progress line appended to ``path`` until ``stop`` is set (then drain)."""
    path = Path(path)
    offset = 0
    while True:
        stopping = stop.is_set()
        if path.is_file():
            with path.open("rb") as fh:
                fh.seek(offset)
                chunk = fh.read()
            end = chunk.rfind(b"\n")
            if end >= 0:  # only whole lines; a line being written waits for the next poll
                offset += end + 1
                for line in chunk[:end].decode("utf-8", errors="replace").splitlines():
                    try:
                        emit(format_line(json.loads(line)))
                    except (ValueError, KeyError, TypeError):
                        continue
        if stopping:
            return
        stop.wait(poll)
