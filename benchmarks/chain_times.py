"""Wall time of finished runs, per notebook and in all, read from their executed notebooks.

papermill stamps every executed notebook (``runs/<run_id>/notebooks/*.ipynb``) with its start time
and duration; notebook 01 also records how long tower pretraining and alignment took. For
several runs (the seeds of a sweep) the table gives each run and the median, since the machine is
shared and one run's minutes depend on what else ran beside it.

    python benchmarks/chain_times.py runs/results_seed-*        # the README's chain times
    python benchmarks/chain_times.py runs/results_seed-* --json /tmp/times.json

A run whose 01 reused a shared base shows that notebook's time to check and caption with it, not
to build it ("built" says which).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from r1omni.io import read_json


def run_times(run_dir: Path) -> dict:
    """Seconds per executed notebook of ``run_dir``, their sum, and notebook 01's build times."""
    notebooks = {}
    for path in sorted((run_dir / "notebooks").glob("*.ipynb")):
        meta = read_json(path).get("metadata", {}).get("papermill", {})
        if meta.get("duration") is None:
            raise ValueError(f"{path}: no papermill duration (not an executed notebook, or it did not finish)")
        notebooks[path.stem] = float(meta["duration"])
    if not notebooks:
        raise FileNotFoundError(f"{run_dir / 'notebooks'}: no executed notebooks")
    out = {"run": run_dir.name, "notebooks": notebooks, "total_s": sum(notebooks.values())}
    base = run_dir / "01_base_model" / "metrics.json"
    if base.is_file():
        m = read_json(base)
        out["base"] = {
            "built": bool(m.get("built")),
            "towers_s": (m.get("towers") or {}).get("seconds"),
            "alignment_s": (m.get("alignment") or {}).get("seconds"),
            "stage_s": m.get("seconds"),
        }
    return out


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="runs/<run_id> folders")
    parser.add_argument("--json", default="", help="also write the numbers here")
    args = parser.parse_args(argv)
    rows = [run_times(Path(r)) for r in args.runs]
    names = sorted({nb for r in rows for nb in r["notebooks"]})
    print("| run | " + " | ".join(names) + " | total (min) |")
    print("|---" * (len(names) + 2) + "|")
    for r in rows:
        cells = [f"{r['notebooks'][n] / 60:.1f}" if n in r["notebooks"] else "—" for n in names]
        print(f"| {r['run']} | " + " | ".join(cells) + f" | {r['total_s'] / 60:.1f} |")
    if len(rows) > 1:
        med = [statistics.median(r["notebooks"][n] for r in rows if n in r["notebooks"]) / 60 for n in names]
        total = statistics.median(r["total_s"] for r in rows) / 60
        print("| median | " + " | ".join(f"{m:.1f}" for m in med) + f" | {total:.1f} |")
    for r in rows:
        b = r.get("base")
        if b and b["built"] and b["towers_s"] is None:  # the random base: nothing trained
            print(f"{r['run']}: random base made in {b['stage_s'] / 60:.1f} min (no pretraining, no alignment)")
        elif b and b["built"]:
            print(
                f"{r['run']}: base built in {b['stage_s'] / 60:.1f} min (tower pretraining {b['towers_s'] / 60:.1f},"
                f" alignment {b['alignment_s'] / 60:.1f})"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
