"""Tables of text for the notebooks: completions and captions read left-aligned (pandas right-aligns
every column by default, which makes a sentence hard to read)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

#: Columns that hold free text.
TEXT_COLUMNS: tuple[str, ...] = ("completion", "caption", "truth", "target", "answer", "subtitle")


def text_table(table: pd.DataFrame | Sequence[dict[str, Any]], columns: Sequence[str] | None = None):
    """A pandas ``Styler`` of ``table`` (a DataFrame or records, optionally only ``columns``) whose
    text columns are left-aligned, ready for ``display``."""
    frame = table if isinstance(table, pd.DataFrame) else pd.DataFrame(list(table))
    if columns is not None:
        frame = frame[list(columns)]
    text = [c for c in frame.columns if c in TEXT_COLUMNS]
    styler = frame.style.set_properties(subset=text, **{"text-align": "left", "white-space": "pre-wrap"})
    return styler.set_table_styles([{"selector": "th", "props": [("text-align", "left")]}])


def completions_table(records: Sequence[dict[str, Any]]):
    """Preview records (``r1omni.evaluate.preview_generations``) as id, label, completion, answer."""
    return text_table(records, ["id", "label", "completion", "answer"])
