"""Adapters from real emotion data sets (DFEW, MAFW, RAVDESS, EMER) to workbook manifests.

Each adapter module has ``NAME``, ``LABEL_SET``, an ``Options`` dataclass and
``build(root, out, options, *, check_media, skip_missing) -> AdapterResult``; the layout it
expects is in its docstring and in ``data_cards/<name>.md``. From the shell::

    python -m r1omni.data.adapters ravdess --root ~/data/RAVDESS --out data/ravdess
    python -m r1omni.data.adapters dfew --root ~/data/DFEW --out data/dfew --fold 1 --check-media
"""

from __future__ import annotations

import dataclasses
import os
from types import ModuleType
from typing import Any

from r1omni.data.adapters import dfew, emer, mafw, ravdess
from r1omni.data.adapters.common import AdapterError, AdapterResult

#: adapter name -> module.
ADAPTERS: dict[str, ModuleType] = {module.NAME: module for module in (dfew, mafw, ravdess, emer)}

__all__ = ["ADAPTERS", "AdapterError", "AdapterResult", "build_manifests", "get_adapter"]


def get_adapter(name: str) -> ModuleType:
    """The adapter module called ``name``; an unknown name raises listing the known ones."""
    try:
        return ADAPTERS[name]
    except KeyError:
        raise ValueError(f"unknown data set adapter {name!r}; known: {sorted(ADAPTERS)}") from None


def build_manifests(
    name: str,
    root: str | os.PathLike,
    out: str | os.PathLike,
    *,
    check_media: bool = False,
    skip_missing: bool = False,
    **options: Any,
) -> AdapterResult:
    """Run adapter ``name`` on the downloaded folder ``root``, writing manifests into ``out``.

    ``options`` are the fields of the adapter's ``Options`` dataclass (an unknown one raises).
    """
    module = get_adapter(name)
    known = {f.name for f in dataclasses.fields(module.Options)}
    unknown = set(options) - known
    if unknown:
        raise ValueError(f"{name} adapter: unknown option(s) {sorted(unknown)}; known: {sorted(known)}")
    return module.build(root, out, module.Options(**options), check_media=check_media, skip_missing=skip_missing)
