"""The workbook: the notebook chain run headlessly (:mod:`r1omni.workbook.chain`, ``python -m
r1omni.workbook``), its notebooks and their parameters (:mod:`r1omni.workbook.notebooks`), and the
README tables of a finished run (:mod:`r1omni.workbook.report`)."""

from r1omni.runs import CHAIN
from r1omni.workbook.chain import STATUS_FILE, ChainResult, read_status, run_chain, run_is_complete
from r1omni.workbook.notebooks import (
    NOTEBOOKS_DIR,
    SHARED_PARAMETERS,
    SMOKE_PARAMETERS,
    coerce_parameter,
    declared_parameters,
    notebook_path,
    parse_value,
    plan_chain,
    resolve_notebooks,
)
from r1omni.workbook.report import run_report

__all__ = [
    "CHAIN",
    "NOTEBOOKS_DIR",
    "SHARED_PARAMETERS",
    "SMOKE_PARAMETERS",
    "STATUS_FILE",
    "ChainResult",
    "coerce_parameter",
    "declared_parameters",
    "notebook_path",
    "parse_value",
    "plan_chain",
    "read_status",
    "resolve_notebooks",
    "run_chain",
    "run_is_complete",
    "run_report",
]
