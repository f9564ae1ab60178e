"""Wall time of the smoke chain (the CI papermill run of every notebook), per notebook and total.

The course promise: the whole chain with smoke parameters finishes in under 10 minutes on a
2-core CPU. Each notebook runs through :func:`r1omni.workbook.run_chain` exactly as
``make smoke`` runs it (kernel start included), one after the other under one run_id.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_chain.py [--notebooks 00,01] [--json out.json]

Prints a table (seconds per notebook, total, and the 1-minute load average before and after,
so a busy machine shows). Run it when the machine is quiet.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from r1omni import workbook

BUDGET_S = 600.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", default=None, help="comma-separated names or prefixes (default: all)")
    parser.add_argument("--runs-root", default=None, help="where the run goes (default: a temporary folder)")
    parser.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)

    names = workbook.resolve_notebooks(args.notebooks)
    params = dict(workbook.SMOKE_PARAMETERS)
    load_before = os.getloadavg()[0]
    rows, failed = [], None
    with tempfile.TemporaryDirectory(prefix="bench_chain_") as tmp:
        root = Path(args.runs_root or tmp)
        for name in names:
            start = time.perf_counter()
            result = workbook.run_chain(
                "bench",
                {k: v for k, v in params.items() if k in workbook.declared_parameters(workbook.notebook_path(name))},
                [name],
                root,
                progress_bar=False,
            )
            rows.append({"notebook": name, "seconds": round(time.perf_counter() - start, 1), "state": result.state})
            print(f"{name:<28}{rows[-1]['seconds']:>8.1f} s  {result.state}", file=sys.stderr, flush=True)
            if not result.ok:
                failed = result.describe_error()
                break
    total = round(sum(r["seconds"] for r in rows), 1)
    report = {
        "rows": rows,
        "total_seconds": total,
        "budget_seconds": BUDGET_S,
        "within_budget": failed is None and total < BUDGET_S,
        "failed": failed,
        "cpu_count": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "load_avg_1min_before": round(load_before, 2),
        "load_avg_1min_after": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }

    print("\n| notebook | seconds | state |\n|---|---:|---|")
    for r in rows:
        print(f"| {r['notebook']} | {r['seconds']:.1f} | {r['state']} |")
    print(
        f"| **total** | **{total:.1f}** | {'within' if report['within_budget'] else 'NOT within'} "
        f"the {BUDGET_S:.0f} s budget |"
    )
    print(
        f"\n{report['cpu_count']} CPUs, OMP_NUM_THREADS={report['omp_num_threads']}, load average "
        f"{report['load_avg_1min_before']} before / {report['load_avg_1min_after']} after"
    )
    if failed:
        print(f"FAILED: {failed}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0 if failed is None else 1


if __name__ == "__main__":
    sys.exit(main())
