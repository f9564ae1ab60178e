"""Per-step training metrics: ``metrics.jsonl``, TensorBoard and a table of samples.

Files in a stage directory (e.g. ``runs/<run_id>/03_rlvr_grpo/``):

- ``metrics.jsonl``: one JSON object per logged step (``step`` + the keys below).
- ``tb/``: the same scalars for TensorBoard (``tensorboard --logdir runs/<run_id>``).
- ``samples.jsonl``: every N steps a few completions with their rewards and advantages.

The GRPO metrics are explained in :mod:`r1omni.grpo.metrics`, the SFT ones in :mod:`r1omni.sft.trainer`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from r1omni.io import append_jsonl, atomic_write_jsonl, read_jsonl


class MetricsLogger:
    """Append metrics rows and sample tables for one stage directory.

    ``enabled=False`` (non-main processes) makes every method a no-op. ``resume_step``:
    rows with a step above it (logged after the checkpoint a run resumes from) are dropped, so
    metrics.jsonl holds each step exactly once; ``resume_step=0`` starts the files afresh.
    """

    def __init__(self, directory: str | Path, *, enabled: bool = True, resume_step: int = 0, tensorboard: bool = True):
        self.directory = Path(directory)
        self.enabled = enabled
        self.metrics_path = self.directory / "metrics.jsonl"
        self.samples_path = self.directory / "samples.jsonl"
        self._tb = None
        if not enabled:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        for path in (self.metrics_path, self.samples_path):
            if path.exists():
                kept = [r for r in _read_tolerant(path) if r.get("step", 0) <= resume_step]
                atomic_write_jsonl(path, kept)
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(self.directory / "tb"), purge_step=resume_step + 1)

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        """Write one metrics row (JSON line + TensorBoard scalars for numeric values)."""
        if not self.enabled:
            return
        row = {"step": int(step), **{k: _plain(v) for k, v in metrics.items()}}
        append_jsonl(self.metrics_path, row)
        if self._tb is not None:
            for key, value in row.items():
                if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._tb.add_scalar(key, value, step)
            self._tb.flush()

    def log_samples(self, step: int, rows: list[dict[str, Any]]) -> None:
        """Append sample completions (one JSON line each, tagged with ``step``); TensorBoard text."""
        if not self.enabled or not rows:
            return
        for row in rows:
            append_jsonl(self.samples_path, {"step": int(step), **{k: _plain(v) for k, v in row.items()}})
        if self._tb is not None:
            cols = list(rows[0])
            table = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"
            for row in rows:
                cells = [str(row.get(c, "")).replace("|", "\\|").replace("\n", " ") for c in cols]
                table += "| " + " | ".join(cells) + " |\n"
            self._tb.add_text("samples", table, step)

    def close(self) -> None:
        """Flush and close TensorBoard."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a ``metrics.jsonl`` (or of a stage dir holding one), skipping a torn last line."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such metrics file")
    return _read_tolerant(path)


def _read_tolerant(path: Path) -> list[dict[str, Any]]:
    try:
        return read_jsonl(path)
    except ValueError:
        # A process killed mid-append can leave one torn last line: keep the complete ones.
        import json

        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return rows


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value
