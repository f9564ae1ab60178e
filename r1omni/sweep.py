"""Parameter sweeps over the notebook chain (``python -m r1omni.sweep SPEC.yaml``, ``make sweep``).

A spec (YAML) names the chain, the fixed parameters, and the points to run::

    name: small                  # runs/<name>/ holds the sweep table and its report
    notebooks: [00_data_prep, 01_base_model, 02_cold_start_sft, 03_rlvr_grpo, 04_evaluation]
    parameters: {smoke: true}    # the same for every point
    points:                      # optional explicit list ...
      - {reward_weights: "1,1"}
      - {reward_weights: "1,0"}
    grid:                        # ... crossed with the cartesian product of the grid
      beta: [0.0, 0.04]
      seed: [0, 1]
    jobs: 1                      # chains at once (--jobs overrides)
    gpus: [0, 1]                 # optional: each running chain holds one GPU (CUDA_VISIBLE_DEVICES)
    report: true                 # run 06_sweep_report on the table at the end
    table: runs/small/sweep      # optional; .csv and .parquet are added

Each point runs the chain with :func:`r1omni.workbook.run_chain` into ``runs/<run_id>/``
with a deterministic, readable ``run_id`` (:func:`point_run_id`). A run whose status is
already ``complete`` is skipped, so a sweep resumes after a crash or Ctrl-C; anything else
(``running`` left by a crash, ``failed``, ``interrupted``) is run again. A failed run records
its error and the others go on; the exit status is non-zero if any failed. Finally every
run's ``config.json`` and ``metrics.json`` are flattened into one table (CSV and parquet).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import itertools
import json
import os
import queue
import re
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from r1omni.io import atomic_write_bytes, atomic_write_text, read_json
from r1omni.runs import CHAIN, REPORT_STAGE
from r1omni.runs import runs_root as resolve_runs_root
from r1omni.workbook import (
    NOTEBOOKS_DIR,
    STATUS_FILE,
    ChainResult,
    plan_chain,
    read_status,
    resolve_notebooks,
    run_chain,
    run_is_complete,
)

_SPEC_KEYS = {"name", "notebooks", "parameters", "grid", "points", "jobs", "gpus", "report", "table", "notebooks_dir"}


@dataclass
class SweepSpec:
    """A parsed sweep spec (see the module docstring for the YAML form)."""

    name: str
    """Sweep name: ``runs/<name>/`` holds the table and the report; prefix of every run_id."""
    notebooks: list[str] = field(default_factory=lambda: [n for n in CHAIN if n != REPORT_STAGE])
    """The chain each point runs (names or prefixes; default: every notebook but the report)."""
    parameters: dict[str, Any] = field(default_factory=dict)
    """Parameters shared by every point."""
    grid: dict[str, list] = field(default_factory=dict)
    """Parameter -> values; the sweep runs their cartesian product."""
    points: list[dict[str, Any]] = field(default_factory=list)
    """Explicit parameter sets, each crossed with the grid (default: one empty point)."""
    jobs: int = 1
    """How many chains run at once (process pool)."""
    gpus: list[str] = field(default_factory=list)
    """GPU ids to share among the chains: each running chain holds one (``CUDA_VISIBLE_DEVICES``);
    empty = leave the environment alone. With gpus, ``jobs`` defaults to their number."""
    report: bool = True
    """Run notebook 06_sweep_report on the table into ``runs/<name>/`` at the end."""
    table: str | None = None
    """Table path without suffix (default ``<runs_root>/<name>/sweep``)."""
    notebooks_dir: str = str(NOTEBOOKS_DIR)
    """Where the notebooks live."""


def load_spec(path: str | Path) -> SweepSpec:
    """Read and check a sweep spec; errors name the file and the offending key."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such sweep spec") from None
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a sweep spec is a mapping with keys {sorted(_SPEC_KEYS)}")
    unknown = sorted(set(raw) - _SPEC_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; expected some of {sorted(_SPEC_KEYS)}")
    raw.setdefault("name", path.stem)
    if not re.fullmatch(r"[A-Za-z0-9._-]+", str(raw["name"])) or str(raw["name"]).strip(".") == "":
        raise ValueError(f"{path}: name {raw['name']!r} must be a plain name ([A-Za-z0-9._-], not only dots)")
    grid = raw.get("grid") or {}
    if not isinstance(grid, dict) or any(not isinstance(v, list) or not v for v in grid.values()):
        raise ValueError(f"{path}: grid must map each parameter to a non-empty list of values")
    points = raw.get("points") or []
    if not isinstance(points, list) or any(not isinstance(p, dict) for p in points):
        raise ValueError(f"{path}: points must be a list of parameter mappings")
    if not isinstance(raw.get("parameters") or {}, dict):
        raise ValueError(f"{path}: parameters must be a mapping")
    spec = SweepSpec(
        name=str(raw["name"]),
        parameters=raw.get("parameters") or {},
        grid=grid,
        points=points,
        jobs=int(raw.get("jobs", 1)),
        gpus=[str(g) for g in raw.get("gpus") or []],
        report=bool(raw.get("report", True)),
        table=raw.get("table"),
    )
    if raw.get("notebooks_dir"):
        spec.notebooks_dir = str((path.parent / raw["notebooks_dir"]).resolve())
    if raw.get("notebooks"):
        if not isinstance(raw["notebooks"], list) or any(not isinstance(n, str) for n in raw["notebooks"]):
            raise ValueError(f"{path}: notebooks must be a list of names as strings (quote prefixes: '00')")
        spec.notebooks = list(raw["notebooks"])
    return spec


def expand(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every point's full parameters: shared ``parameters``, then each explicit point crossed
    with the grid's cartesian product (grid keys vary fastest in the order written).

    >>> spec = SweepSpec("s", parameters={"smoke": True}, grid={"beta": [0.0, 0.04], "seed": [0, 1]})
    >>> [(p["beta"], p["seed"]) for p in expand(spec)]
    [(0.0, 0), (0.0, 1), (0.04, 0), (0.04, 1)]
    >>> len(expand(SweepSpec("s", points=[{"a": 1}, {"a": 2}], grid={"seed": [0, 1, 2]})))
    6
    """
    keys = list(spec.grid)
    combos = [dict(zip(keys, values)) for values in itertools.product(*(spec.grid[k] for k in keys))]
    out = []
    for point in spec.points or [{}]:
        clash = sorted(set(point) & set(spec.grid))
        if clash:
            raise ValueError(f"sweep {spec.name!r}: {clash} set both in points and in grid")
        for combo in combos:
            out.append({**spec.parameters, **point, **combo})
    return out


def _slug(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return re.sub(r"[^A-Za-z0-9.+-]+", "~", text).strip("~")[:24] or "~"


def point_run_id(sweep_name: str, params: dict[str, Any], varying: list[str], notebooks: list[str]) -> str:
    """A deterministic run id: ``<sweep>_<key>-<value>_..._<hash8>``.

    The readable part names the parameters that vary across the sweep; the hash covers
    every parameter and the notebook list, so a changed spec never reuses an old run.

    >>> point_run_id("small", {"beta": 0.04, "seed": 1, "smoke": True}, ["beta", "seed"], ["00_data_prep"])
    'small_beta-0.04_seed-1_...'
    """
    canon = json.dumps({"params": params, "notebooks": notebooks}, sort_keys=True, default=str)
    digest = hashlib.sha1(canon.encode("utf-8")).hexdigest()[:8]
    readable = "_".join(f"{k}-{_slug(params[k])}" for k in varying if k in params)
    return "_".join(part for part in (sweep_name, readable[:120], digest) if part)


@dataclass
class SweepPoint:
    """One run of a sweep."""

    run_id: str
    params: dict[str, Any]


def plan_sweep(spec: SweepSpec) -> list[SweepPoint]:
    """Expand the spec into runs and check every parameter against the chain's notebooks
    (unknown or mistyped parameters raise before anything runs)."""
    spec.notebooks = resolve_notebooks(spec.notebooks, spec.notebooks_dir)
    points = expand(spec)
    varying = [
        k
        for k in dict.fromkeys(k for p in points for k in p)
        if len({json.dumps(p.get(k), sort_keys=True, default=str) for p in points}) > 1
    ]
    runs = []
    for params in points:
        plan_chain(params, spec.notebooks, spec.notebooks_dir)
        runs.append(SweepPoint(point_run_id(spec.name, params, varying, spec.notebooks), params))
    ids = [r.run_id for r in runs]
    if len(set(ids)) != len(ids):
        raise ValueError(f"sweep {spec.name!r}: some points are identical ({len(ids) - len(set(ids))} duplicates)")
    return runs


def _run_point(
    run_id: str,
    params: dict,
    notebooks: list[str],
    runs_root: str,
    notebooks_dir: str,
    threads: int | None,
    gpu_queue=None,
) -> ChainResult:
    """Worker: run one chain (holding one GPU id from ``gpu_queue`` if given); any error
    becomes a failed result, never a crash of the sweep."""
    if threads:
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    gpu = gpu_queue.get() if gpu_queue is not None else None
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu  # inherited by the notebooks' kernels
    try:
        return run_chain(
            run_id,
            params,
            notebooks,
            runs_root,
            notebooks_dir=notebooks_dir,
            echo=lambda line: print(f"{run_id} {line}", flush=True),
        )
    except Exception as err:  # noqa: BLE001 - isolated per run, recorded below
        return ChainResult(
            run_id,
            "failed",
            Path(runs_root) / run_id,
            error={"notebook": "-", "cell": None, "ename": type(err).__name__, "evalue": str(err), "traceback": ""},
        )
    finally:
        if gpu is not None:
            gpu_queue.put(gpu)


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> one level with dotted keys; lists become JSON strings.

    >>> flatten({"04_evaluation": {"test": {"uar": 0.5}, "per_class": [1, 2]}}, "metrics")
    {'metrics.04_evaluation.test.uar': 0.5, 'metrics.04_evaluation.per_class': '[1, 2]'}
    """
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for key, value in obj.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(obj, (list, tuple)):
        return {prefix: json.dumps(obj, sort_keys=True)}
    return {prefix: obj}


def collect_table(run_ids: list[str] | None = None, runs_root: str | Path = "runs"):
    """One row per run: ``run_id``, ``status``, ``error``, ``param.<name>`` (from status.json),
    ``config.<stage>.<key>`` and ``metrics.<stage>.<key>`` (flattened).

    ``run_ids=None`` takes every folder of ``runs_root`` with a ``metrics.json`` that records
    a stage other than the sweep report (so sweep folders themselves are left out).
    """
    import pandas as pd

    root = resolve_runs_root(runs_root)
    if run_ids is None:
        run_ids = []
        for path in sorted(root.glob("*/metrics.json")):
            if set(read_json(path)) - {REPORT_STAGE}:
                run_ids.append(path.parent.name)
    rows = []
    for run_id in run_ids:
        rdir = root / run_id
        status = read_status(rdir) or {}
        error = status.get("error") or {}
        row: dict[str, Any] = {
            "run_id": run_id,
            "status": status.get("state", "unknown"),
            "error": f"{error.get('notebook')}: {error.get('ename')}: {error.get('evalue')}" if error else "",
        }
        row.update(flatten(status.get("params", {}), "param"))
        for name in ("config", "metrics"):
            if (rdir / f"{name}.json").is_file():
                row.update(flatten(read_json(rdir / f"{name}.json"), name))
        rows.append(row)
    table = pd.DataFrame(rows)
    for col in table.columns:  # parquet needs one type per column
        kinds = {type(v) for v in table[col] if v is not None and not (isinstance(v, float) and v != v)}
        if len(kinds) > 1 and not kinds <= {int, float}:
            table[col] = [None if v is None else (v if isinstance(v, str) else json.dumps(v)) for v in table[col]]
    return table


def write_table(table, base: str | Path) -> tuple[Path, Path]:
    """Write ``<base>.csv`` and ``<base>.parquet`` atomically; return both paths."""
    base = Path(base)
    csv_path, parquet_path = base.with_name(base.name + ".csv"), base.with_name(base.name + ".parquet")
    atomic_write_text(csv_path, table.to_csv(index=False))
    buf = io.BytesIO()
    table.to_parquet(buf, index=False)
    atomic_write_bytes(parquet_path, buf.getvalue())
    return csv_path, parquet_path


def table_base(spec: SweepSpec, runs_root: str | Path) -> Path:
    """``spec.table`` or ``<runs_root>/<name>/sweep`` (no suffix)."""
    return Path(spec.table) if spec.table else resolve_runs_root(runs_root) / spec.name / "sweep"


def load_table(sweep_table: str = "", sweep_spec: str = "", runs_root: str | Path = "runs"):
    """The table notebook 05 reads: a CSV/parquet path, else a spec's table, else a table
    collected from every run under ``runs_root`` (:func:`collect_table`)."""
    import pandas as pd

    if sweep_table:
        path = Path(sweep_table)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: sweep table not found (run `python -m r1omni.sweep SPEC`)")
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if sweep_spec:
        base = table_base(load_spec(sweep_spec), runs_root)
        return load_table(str(base.with_name(base.name + ".parquet")))
    table = collect_table(None, runs_root)
    if table.empty:
        raise ValueError(f"{runs_root}: no run with a metrics.json to tabulate (run the workbook or a sweep first)")
    return table


@dataclass
class SweepResult:
    """What :func:`run_sweep` did."""

    ran: list[ChainResult]
    """Runs executed now."""
    skipped: list[str]
    """Run ids already complete."""
    table_paths: tuple[Path, Path] | None
    """CSV and parquet paths of the table."""

    @property
    def failed(self) -> list[ChainResult]:
        return [r for r in self.ran if not r.ok]


def run_sweep(
    spec: SweepSpec, runs_root: str | Path = "runs", jobs: int | None = None, runner=_run_point
) -> SweepResult:
    """Run every incomplete point (``jobs`` at once), then collect and write the table and,
    if ``spec.report``, execute the report notebook on it into ``runs/<name>/``."""
    from tqdm.auto import tqdm

    runs_root = resolve_runs_root(runs_root)
    points = plan_sweep(spec)
    jobs = max(1, jobs or (len(spec.gpus) if spec.gpus and spec.jobs == 1 else spec.jobs))
    if spec.gpus and jobs > len(spec.gpus):
        raise ValueError(f"sweep {spec.name!r}: {jobs} jobs but only {len(spec.gpus)} gpus {spec.gpus}")
    todo = [p for p in points if not run_is_complete(runs_root / p.run_id)]
    skipped = [p.run_id for p in points if p not in todo]
    threads = max(1, (os.cpu_count() or 1) // jobs)
    ran: list[ChainResult] = []
    bar = tqdm(total=len(todo), desc=f"sweep {spec.name}", unit="run")
    try:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        with contextlib.ExitStack() as stack:
            gpu_queue = None
            if spec.gpus:
                gpu_queue = stack.enter_context(ctx.Manager()).Queue() if jobs > 1 else queue.SimpleQueue()
                for gpu in spec.gpus:
                    gpu_queue.put(gpu)
            args = [
                (p.run_id, p.params, spec.notebooks, str(runs_root), spec.notebooks_dir, threads, gpu_queue)
                for p in todo
            ]
            if jobs == 1:
                for a in args:
                    ran.append(_report(runner(*a), bar))
            else:
                pool = stack.enter_context(ProcessPoolExecutor(jobs, mp_context=ctx))
                for fut in as_completed([pool.submit(runner, *a) for a in args]):
                    ran.append(_report(fut.result(), bar))
    finally:
        bar.close()
    table = collect_table([p.run_id for p in points], runs_root)
    paths = write_table(table, table_base(spec, runs_root))
    if spec.report:
        shared = {k: spec.parameters[k] for k in ("smoke", "show_solutions", "device") if k in spec.parameters}
        report = run_chain(
            spec.name,
            {"sweep_table": str(paths[1].resolve()), **shared},
            [REPORT_STAGE],
            runs_root,
            notebooks_dir=spec.notebooks_dir,
            progress_bar=False,
        )
        ran.append(_report(report, None))
    return SweepResult(ran, skipped, paths)


def _report(result: ChainResult, bar) -> ChainResult:
    line = f"{result.run_id}: {result.state}" + (f" ({result.describe_error()})" if not result.ok else "")
    (bar.write if bar is not None else print)(line, file=sys.stderr)
    if bar is not None:
        bar.update(1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m r1omni.sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", help="sweep spec YAML, e.g. sweeps/small.yaml")
    parser.add_argument("--jobs", type=int, default=None, help="chains at once (default: the spec's jobs)")
    parser.add_argument("--gpus", default=None, help="comma-separated GPU ids shared by the chains, e.g. 0,1,2,3")
    parser.add_argument("--runs-root", default="runs", help="folder holding the runs (default: runs)")
    parser.add_argument("--dry-run", action="store_true", help="expand and check the spec, run nothing")
    args = parser.parse_args(argv)
    try:
        spec = load_spec(args.spec)
        if args.gpus:
            spec.gpus = [g.strip() for g in args.gpus.split(",") if g.strip()]
        if args.dry_run:
            for p in plan_sweep(spec):
                done = "complete" if run_is_complete(resolve_runs_root(args.runs_root) / p.run_id) else "todo"
                print(f"{p.run_id}\t{done}\t{json.dumps(p.params, sort_keys=True)}")
            return 0
        result = run_sweep(spec, args.runs_root, args.jobs)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"sweep {spec.name}: {len(result.ran)} ran, {len(result.skipped)} already complete, "
        f"{len(result.failed)} failed; table: {result.table_paths[0]} and {result.table_paths[1]}"
    )
    for r in result.failed:
        print(f"FAILED {r.run_id}: {r.describe_error()}  (see {r.run_dir / STATUS_FILE})", file=sys.stderr)
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
