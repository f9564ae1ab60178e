"""The reduced-size chain (notebooks 00-04) with the smol preset, beside the same chain with tiny.

One set of reduced sizes for both model presets (:data:`REDUCED`): 20 SynthEmo clips per class,
tower pretraining for 10 epochs, a quarter epoch of captioning alignment, cold start and label SFT
capped at 20 optimizer steps, 20 GRPO steps, and 14 clips per split scored greedily (no pass@k).
Each preset keeps its own recipes (``course`` means ``smol_course`` for smol: docs/tuning.md), so a
GRPO step is 2 clips x 4 generations for smol and 8 x 8 for tiny; the table gives seconds per step
and per sampled completion. Each chain runs in a fresh ``python -m r1omni.workbook`` process; its
peak RSS is the largest of that process and every kernel it ran (``RUSAGE_CHILDREN``).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/smol_chain.py --out runs/bench/smol_chain.json

``--presets smol`` runs one; a finished run made with these settings is read back, not rerun (one
made with other settings, or ``--rerun``, is deleted and run afresh). Both presets use the same
reduced set, so the second chain's 00 only checks it. Step times are those the trainers log
inside the chain (``step_time``: batch building and the
first pass's feature caching included), not the model's cost alone. With 14 clips per split (a
seeded subset, not balanced by class) one clip moves WAR by about 7 points and UAR by more: the
scores say whether the chain learns the format and starts to use the media, not how well the
preset recognises emotion.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from r1omni.io import atomic_write_json, read_json
from r1omni.train.metrics_log import read_metrics
from r1omni.workbook.chain import run_is_complete

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from chain_times import run_times  # noqa: E402

#: The reduced sizes, as notebook parameters (each notebook takes those it declares).
REDUCED: dict[str, object] = {
    "per_class": 20,
    "data_dir": "data/synthemo_pc20",
    "tower_epochs": 10,
    "alignment_epochs": 0.25,
    "num_captions": 14,
    "max_steps": 20,
    "num_preview": 4,
    "max_examples": 14,
    "num_samples": 0,
}
NOTEBOOKS = "00,01,02,03,04"


def run_chain(preset: str, runs_root: Path, rerun: bool) -> dict:
    """Run (or read back) the reduced chain for ``preset``; its wall time and peak RSS."""
    run_id = f"smolchain_{preset}"
    rdir = runs_root / run_id
    measured = rdir / "bench_process.json"
    settings = {"preset": preset, "notebooks": NOTEBOOKS, "parameters": {k: str(v) for k, v in REDUCED.items()}}
    done = run_is_complete(rdir) and measured.is_file()
    if not rerun and done:
        old = read_json(measured)
        if old.get("settings") == settings:
            return old
        print(f"{rdir}: made with other settings than {settings}; running it afresh", flush=True)
    cmd = [sys.executable, "-m", "r1omni.workbook", "--quiet", "--run-id", run_id, "--runs-root", str(runs_root)]
    cmd += ["--notebooks", NOTEBOOKS, "-p", "model_preset", preset]
    for name, value in REDUCED.items():
        cmd += ["-p", name, str(value)]
    if rdir.exists():  # a fresh chain: no predictions, feature caches or checkpoints to resume from
        shutil.rmtree(rdir)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT)
    _, code, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(code)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    out = {
        "settings": settings,
        "wall_s": time.perf_counter() - t0,
        # this child's rusage: ru_maxrss is the largest of it and its reaped descendants (KiB on Linux)
        "peak_rss_mib": usage.ru_maxrss / 1024,
    }
    atomic_write_json(measured, out)
    return out


def step_times(path: Path) -> list[float]:
    """The ``step_time`` of every logged optimizer step in a trainer's ``metrics.jsonl``."""
    return [float(r["step_time"]) for r in read_metrics(path) if "step_time" in r]


def summarise(preset: str, runs_root: Path, process: dict) -> dict:
    """Times, step shapes and greedy test/ood scores of one finished reduced chain."""
    rdir = runs_root / f"smolchain_{preset}"
    sft_cfg = read_json(rdir / "02_cold_start_sft" / "train_config.json")
    grpo_cfg = read_json(rdir / "03_rlvr_grpo" / "train_config.json")
    sft = step_times(rdir / "02_cold_start_sft" / "metrics.jsonl")
    grpo = step_times(rdir / "03_rlvr_grpo" / "metrics.jsonl")
    completions = grpo_cfg["per_device_train_batch_size"] * grpo_cfg["num_generations"]
    results = read_json(rdir / "04_evaluation" / "metrics.json")["results"]
    grpo_metrics = read_json(rdir / "03_rlvr_grpo" / "metrics.json")
    return {
        "preset": preset,
        **process,
        "notebooks_min": {k: v / 60 for k, v in run_times(rdir)["notebooks"].items()},
        "sft_batch": sft_cfg["global_batch"],
        "sft_step_s_median": statistics.median(sft) if sft else None,
        "grpo_shape": f"{grpo_cfg['per_device_train_batch_size']} x {grpo_cfg['num_generations']}",
        "grpo_step_s_median": statistics.median(grpo),
        "grpo_s_per_completion": statistics.median(grpo) / completions,
        "grpo_reward_first_last10": [grpo_metrics["reward_first"], grpo_metrics["reward_last10"]],
        "scores": {
            model: {split: {k: r[k] for k in ("uar", "war", "format_rate", "n")} for split, r in by_split.items()}
            for model, by_split in results.items()
        },
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", default="smol,tiny", help="model presets, comma-separated")
    parser.add_argument("--runs-root", default="runs", help="folder for the smolchain_<preset> runs")
    parser.add_argument("--rerun", action="store_true", help="rerun a chain that already finished")
    parser.add_argument("--out", default="", help="also write the numbers here (JSON)")
    args = parser.parse_args(argv)
    root = (ROOT / args.runs_root).resolve()
    rows = []
    for preset in args.presets.split(","):
        rows.append(summarise(preset, root, run_chain(preset, root, args.rerun)))
    print("| preset | chain (min) | peak RSS MiB | SFT step (s, batch) | GRPO step (s, clips x gens) | s/completion |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['preset']} | {r['wall_s'] / 60:.1f} | {r['peak_rss_mib']:.0f}"
            f" | {r['sft_step_s_median']:.2f} ({r['sft_batch']})"
            f" | {r['grpo_step_s_median']:.2f} ({r['grpo_shape']}) | {r['grpo_s_per_completion']:.3f} |"
        )
    for r in rows:
        nbs = ", ".join(f"{k[:2]} {v:.1f}" for k, v in r["notebooks_min"].items())
        print(f"{r['preset']}: notebooks (min) {nbs}; GRPO reward first / last 10 {r['grpo_reward_first_last10']}")
        for model, by_split in r["scores"].items():
            cells = "; ".join(
                f"{split} UAR {s['uar'] * 100:.1f} WAR {s['war'] * 100:.1f} format {s['format_rate']:.2f} (n={s['n']})"
                for split, s in by_split.items()
            )
            print(f"  {model}: {cells}")
    if args.out:
        out = ROOT / args.out
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out, rows)
    return rows


if __name__ == "__main__":
    main()
