"""``python -m r1omni.workbook [--smoke] [--run-id ID] [--runs-root DIR] [--notebooks 00,01,...] [-p NAME VALUE ...]``:
run the notebook chain headlessly (see :mod:`r1omni.workbook.chain`)."""

from __future__ import annotations

import argparse
import sys

from r1omni.runs import RunLockedError
from r1omni.workbook.chain import run_chain
from r1omni.workbook.notebooks import NOTEBOOKS_DIR, SMOKE_PARAMETERS, parse_value, resolve_notebooks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m r1omni.workbook", description="Run the workbook's notebook chain headlessly with papermill."
    )
    parser.add_argument("--smoke", action="store_true", help="tiny CI sizes, solutions shown (SMOKE_PARAMETERS)")
    parser.add_argument("--run-id", default="default", help="runs/<run_id>/ holds every stage (default: default)")
    parser.add_argument("--runs-root", default="runs", help="folder holding the runs (default: runs)")
    parser.add_argument(
        "--notebooks", default=None, help="comma-separated names or prefixes, e.g. 00,01 (default: all)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines, only the outcome (CI)")
    parser.add_argument("--notebooks-dir", default=str(NOTEBOOKS_DIR), help=argparse.SUPPRESS)
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a notebook parameter, e.g. -p device cuda -p beta 0.04",
    )
    args = parser.parse_args(argv)
    params = dict(SMOKE_PARAMETERS) if args.smoke else {}
    params.update({k: parse_value(v) for k, v in args.parameter})
    try:
        names = resolve_notebooks(args.notebooks, args.notebooks_dir)
        result = run_chain(
            args.run_id,
            params,
            names,
            args.runs_root,
            notebooks_dir=args.notebooks_dir,
            stream_progress=not args.quiet,
            echo=lambda line: print(line, flush=True),
        )
    except (ValueError, FileNotFoundError, RunLockedError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if result.state == "incomplete":
        reasons = [r for stage in result.stages.values() for r in stage["reasons"]]
        print(
            f"run {args.run_id}: {', '.join(result.completed)} ran, but the run is not complete:\n  "
            + "\n  ".join(reasons),
            file=sys.stderr,
        )
        return 1
    if not result.ok:
        print(
            f"FAILED run {args.run_id}: {result.describe_error()}\n{result.error['traceback']}\n"
            f"executed notebook: {result.run_dir / 'notebooks' / (result.error['notebook'] + '.ipynb')}",
            file=sys.stderr,
        )
        return 1
    print(f"run {args.run_id} complete: {', '.join(result.completed)} -> {result.run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
