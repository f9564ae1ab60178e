"""``python -m r1omni.evaluate runs/<run_id> [more runs]``: a run's evaluation table (the paper's form,
with its reading) as Markdown; several runs (seeds): mean ± std. The attribution tables come from
``python -m r1omni.workbook.report``."""

import sys

from r1omni.evaluate.paper import evaluation_report, report_cli


def main(argv: list[str] | None = None) -> int:
    return report_cli(
        argv, prog="python -m r1omni.evaluate", description=__doc__.split("\n")[0], one_run=evaluation_report
    )


if __name__ == "__main__":
    sys.exit(main())
