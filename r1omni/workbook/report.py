"""The README's tables of a finished run: its evaluation (notebook 03) and its modality attribution
(notebook 04), each with the reading computed from the numbers; several runs (seeds): the
evaluation as mean ± std.

CLI (prints Markdown)::

    python -m r1omni.workbook.report runs/<run_id>          # one run: both tables + readings
    python -m r1omni.workbook.report runs/results_seed-*    # several runs: mean ± std
"""

from __future__ import annotations

import os
import sys

from r1omni.attribution import attribution_report
from r1omni.evaluate import evaluation_report
from r1omni.evaluate.paper import report_cli


def run_report(run_directory: str | os.PathLike) -> str:
    """The README section of a run: the evaluation table with the paper's reference rows and its
    reading, then the attribution comparison and its reading (stages that did not run are named as
    missing)."""
    return "\n".join([evaluation_report(run_directory), attribution_report(run_directory)])


def main(argv: list[str] | None = None) -> int:
    return report_cli(
        argv, prog="python -m r1omni.workbook.report", description=__doc__.split("\n\n")[0], one_run=run_report
    )


if __name__ == "__main__":
    sys.exit(main())
