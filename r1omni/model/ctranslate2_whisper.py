"""Read a CTranslate2 ``model.bin`` and map its Whisper encoder onto transformers' Whisper.

The file format (little-endian; as written by ``ctranslate2.specs.ModelSpec._serialize``,
binary version 6)::

    u32 version                     (6)
    str name                        ("WhisperSpec")
    u32 revision
    u32 num_variables
    num_variables x:
        str name                    ("encoder/layer_0/self_attention/linear_0/weight")
        u8  rank
        u32 shape[rank]
        u8  dtype code              (0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16)
        u32 num_bytes               (= prod(shape) * itemsize)
        num_bytes raw bytes         (C order)
    u32 num_aliases
    num_aliases x: str alias, str target_name

where ``str`` is ``u16 length`` (including a trailing NUL) then the UTF-8 bytes and the NUL.
Nothing is unpickled: :func:`read_ct2_model` only unpacks these fields with ``struct`` and
views the raw bytes as numpy arrays. A model split into parts (``model.bin.part1``, ``.part2``)
is read as their concatenation, streamed part after part.

Whisper mapping (CTranslate2 scope -> transformers ``WhisperEncoder`` key)::

    encoder/conv{1,2}/{weight,bias}                    conv{1,2}.{weight,bias}
    encoder/position_encodings/encodings               embed_positions.weight
    encoder/layer_i/self_attention/linear_0/*          layers.i.self_attn.{q,k,v}_proj.*  (fused
                                                       q|k|v rows; k_proj has no bias: its third
                                                       of the fused bias must be zero)
    encoder/layer_i/self_attention/linear_1/*          layers.i.self_attn.out_proj.*
    encoder/layer_i/self_attention/layer_norm/{gamma,beta}  layers.i.self_attn_layer_norm.{weight,bias}
    encoder/layer_i/ffn/linear_{0,1}/*                 layers.i.fc{1,2}.*
    encoder/layer_i/ffn/layer_norm/{gamma,beta}        layers.i.final_layer_norm.{weight,bias}
    encoder/layer_norm/{gamma,beta}                    layer_norm.{weight,bias}
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

#: The binary version this reader understands (the one ctranslate2 4.x writes).
SUPPORTED_VERSION = 6
#: CTranslate2's DataType enum (include/ctranslate2/types.h) -> numpy dtype; bfloat16 is read as
#: its raw 16 bits and widened to float32 by :func:`_bf16_to_f32`.
DTYPES: dict[int, str] = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16", 5: "bfloat16"}
#: CTranslate2's ActivationType enum value of the exact (erf) GELU.
ACTIVATION_GELU = 3


class CT2FormatError(ValueError):
    """A ``model.bin`` that does not follow the layout above (names the file and the byte offset)."""


@dataclasses.dataclass
class CT2Model:
    """The contents of one CTranslate2 ``model.bin``."""

    version: int
    """Binary format version (6 for ctranslate2 4.x)."""
    name: str
    """Model spec name, e.g. ``"WhisperSpec"``."""
    revision: int
    """Spec revision."""
    variables: dict[str, np.ndarray]
    """Named arrays in file order (shape as stored; scalars are 0-d)."""
    aliases: dict[str, str]
    """Alias name -> the variable it stands for (e.g. a tied output projection)."""

    def get(self, name: str) -> np.ndarray:
        """A variable by name or alias; a missing one raises naming the spec and the variable."""
        target = self.aliases.get(name, name)
        if target not in self.variables:
            raise KeyError(f"{self.name}: no variable {name!r} in the model.bin")
        return self.variables[target]

    def scalar(self, name: str) -> int | float:
        return self.get(name).item()


class _Stream:
    """Sequential reads over several files as if they were one (parts of a split model.bin)."""

    def __init__(self, paths: Sequence[Path]):
        self.paths = list(paths)
        self.sizes = [p.stat().st_size for p in self.paths]
        self.total = sum(self.sizes)
        self.offset = 0
        self._index = 0
        self._fh: BinaryIO | None = None

    @property
    def label(self) -> str:
        return " + ".join(str(p) for p in self.paths)

    def read(self, n: int, what: str) -> bytes:
        chunks, want = [], n
        while want:
            if self._fh is None:
                if self._index >= len(self.paths):
                    break
                self._fh = open(self.paths[self._index], "rb")
            chunk = self._fh.read(want)
            if not chunk:
                self._fh.close()
                self._fh, self._index = None, self._index + 1
                continue
            chunks.append(chunk)
            want -= len(chunk)
        data = b"".join(chunks)
        if len(data) != n:
            raise CT2FormatError(
                f"{self.label}: truncated at byte {self.offset}: {what} needs {n} bytes, "
                f"only {len(data)} left (file size {self.total})"
            )
        self.offset += n
        return data

    def unpack(self, fmt: str, what: str):
        return struct.unpack("<" + fmt, self.read(struct.calcsize("<" + fmt), what))

    def string(self, what: str) -> str:
        (length,) = self.unpack("H", f"{what} length")
        raw = self.read(length, what)
        if length == 0 or raw[-1] != 0:
            raise CT2FormatError(f"{self.label}: {what} at byte {self.offset - length} is not NUL-terminated")
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError as err:
            raise CT2FormatError(f"{self.label}: {what} at byte {self.offset - length} is not UTF-8 ({err})") from None

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 raw bits (uint16) -> float32: ``f32_bits = bf16_bits << 16`` (exact)."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def read_ct2_model(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> CT2Model:
    """Parse a CTranslate2 ``model.bin`` (or its parts, in order) into a :class:`CT2Model`.

    Raises :class:`CT2FormatError` naming the file(s) and the byte offset for an unknown version
    or dtype code, a size that disagrees with the shape, a truncated file or trailing bytes.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"{p}: CTranslate2 model file not found")
    s = _Stream(paths)
    try:
        (version,) = s.unpack("I", "binary version")
        if version != SUPPORTED_VERSION:
            raise CT2FormatError(
                f"{s.label}: CTranslate2 binary version {version}; this reader knows version "
                f"{SUPPORTED_VERSION} (ctranslate2 4.x)"
            )
        name = s.string("spec name")
        (revision,) = s.unpack("I", "spec revision")
        (count,) = s.unpack("I", "number of variables")
        variables: dict[str, np.ndarray] = {}
        for i in range(count):
            var = s.string(f"name of variable {i}")
            (rank,) = s.unpack("B", f"rank of {var!r}")
            shape = s.unpack(f"{rank}I", f"shape of {var!r}") if rank else ()
            (code,) = s.unpack("B", f"dtype of {var!r}")
            if code not in DTYPES:
                raise CT2FormatError(f"{s.label}: variable {var!r} has unknown dtype code {code} (known: {DTYPES})")
            (num_bytes,) = s.unpack("I", f"byte count of {var!r}")
            dtype = DTYPES[code]
            raw_dtype = np.dtype(np.uint16 if dtype == "bfloat16" else dtype).newbyteorder("<")
            expected = int(np.prod(shape, dtype=np.int64)) * raw_dtype.itemsize
            if num_bytes != expected:
                raise CT2FormatError(
                    f"{s.label}: variable {var!r} of shape {shape} and dtype {dtype} should hold "
                    f"{expected} bytes, the file says {num_bytes}"
                )
            array = np.frombuffer(s.read(num_bytes, f"data of {var!r}"), dtype=raw_dtype).reshape(shape)
            variables[var] = _bf16_to_f32(array) if dtype == "bfloat16" else array
        (num_aliases,) = s.unpack("I", "number of aliases")
        aliases = {}
        for i in range(num_aliases):
            alias = s.string(f"alias {i}")
            aliases[alias] = s.string(f"target of alias {alias!r}")
        if s.offset != s.total:
            raise CT2FormatError(
                f"{s.label}: {s.total - s.offset} trailing bytes after the aliases (byte {s.offset} of {s.total})"
            )
    finally:
        s.close()
    return CT2Model(version=version, name=name, revision=revision, variables=variables, aliases=aliases)


def write_ct2_model(
    path: str | os.PathLike,
    name: str,
    revision: int,
    variables: dict[str, np.ndarray],
    aliases: dict[str, str] | None = None,
) -> None:
    """Write arrays in the layout above (what ctranslate2's own serializer writes; for tests and
    small fixtures). bfloat16 is not written (numpy has no such dtype)."""
    codes = {np.dtype(v): k for k, v in DTYPES.items() if v != "bfloat16"}

    def string(text: str) -> bytes:
        raw = text.encode("utf-8") + b"\0"
        return struct.pack("<H", len(raw)) + raw

    parts = [struct.pack("<I", SUPPORTED_VERSION), string(name), struct.pack("<II", revision, len(variables))]
    for var, value in variables.items():
        value = np.asarray(value, order="C")  # (ascontiguousarray would make a scalar 1-d)
        raw = value.astype(value.dtype.newbyteorder("<")).tobytes()
        parts += [
            string(var),
            struct.pack("<B", value.ndim),
            struct.pack(f"<{value.ndim}I", *value.shape),
            struct.pack("<BI", codes[value.dtype], value.nbytes),
            raw,
        ]
    aliases = aliases or {}
    parts.append(struct.pack("<I", len(aliases)))
    for alias, target in aliases.items():
        parts += [string(alias), string(target)]
    Path(path).write_bytes(b"".join(parts))


def _layers(model: CT2Model, scope: str) -> int:
    n = 0
    while f"{scope}/layer_{n}/ffn/linear_0/weight" in model.variables:
        n += 1
    return n


def read_vocabulary(path: str | os.PathLike) -> list[str]:
    """A CTranslate2 ``vocabulary.txt`` (one token per line) or ``vocabulary.json`` (a list)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return list(json.loads(text))
    return text[:-1].split("\n") if text.endswith("\n") else text.split("\n")


def whisper_config_dict(model: CT2Model, vocabulary: Sequence[str] | None = None) -> dict:
    """``WhisperConfig`` keyword arguments read off the shapes of a ``WhisperSpec`` model.bin.

    With the model's ``vocabulary``, the special token ids are set from it as in OpenAI's
    checkpoints: bos = eos = pad = ``<|endoftext|>``, decoder start = ``<|startoftranscript|>``;
    without it they stay transformers' defaults (only the decoder uses them)."""
    if model.name != "WhisperSpec":
        raise CT2FormatError(f"expected a CTranslate2 WhisperSpec model, got {model.name!r}")
    conv1 = model.get("encoder/conv1/weight")  # (d_model, n_mels, 3)
    d_model, n_mels = int(conv1.shape[0]), int(conv1.shape[1])
    enc_layers, dec_layers = _layers(model, "encoder"), _layers(model, "decoder")
    if enc_layers == 0 or dec_layers == 0:
        raise CT2FormatError(
            f"WhisperSpec: {enc_layers} encoder and {dec_layers} decoder layers found "
            "(encoder/layer_0/... or decoder/layer_0/... missing)"
        )
    activation = int(model.scalar("decoder/activation"))
    if activation != ACTIVATION_GELU:
        raise CT2FormatError(f"WhisperSpec: activation code {activation}, expected {ACTIVATION_GELU} (GELU)")
    vocab_size = int(model.get("decoder/embeddings/weight").shape[0])
    special = {}
    if vocabulary is not None:
        if len(vocabulary) != vocab_size:
            raise CT2FormatError(f"the vocabulary has {len(vocabulary)} tokens, the decoder embeddings {vocab_size}")
        index = {token: i for i, token in enumerate(vocabulary)}
        missing = [t for t in ("<|endoftext|>", "<|startoftranscript|>") if t not in index]
        if missing:
            raise CT2FormatError(f"the Whisper vocabulary lacks the special tokens {missing}")
        eot = index["<|endoftext|>"]
        special = dict(
            bos_token_id=eot, eos_token_id=eot, pad_token_id=eot, decoder_start_token_id=index["<|startoftranscript|>"]
        )
    return dict(
        vocab_size=vocab_size,
        num_mel_bins=n_mels,
        d_model=d_model,
        encoder_layers=enc_layers,
        decoder_layers=dec_layers,
        encoder_attention_heads=int(model.scalar("encoder/num_heads")),
        decoder_attention_heads=int(model.scalar("decoder/num_heads")),
        encoder_ffn_dim=int(model.get("encoder/layer_0/ffn/linear_0/weight").shape[0]),
        decoder_ffn_dim=int(model.get("decoder/layer_0/ffn/linear_0/weight").shape[0]),
        max_source_positions=int(model.get("encoder/position_encodings/encodings").shape[0]),
        max_target_positions=int(model.get("decoder/position_encodings/encodings").shape[0]),
        activation_function="gelu",
        **special,
    )


def whisper_encoder_state_dict(model: CT2Model, dtype=np.float32) -> dict[str, np.ndarray]:
    """The ``WhisperEncoder`` state dict (keys without a prefix) from a ``WhisperSpec`` model.bin."""
    get = lambda name: np.array(model.get(f"encoder/{name}"), dtype=dtype)  # noqa: E731  (a writable copy)
    state = {
        "conv1.weight": get("conv1/weight"),
        "conv1.bias": get("conv1/bias"),
        "conv2.weight": get("conv2/weight"),
        "conv2.bias": get("conv2/bias"),
        "embed_positions.weight": get("position_encodings/encodings"),
        "layer_norm.weight": get("layer_norm/gamma"),
        "layer_norm.bias": get("layer_norm/beta"),
    }
    d_model = state["conv1.weight"].shape[0]
    for i in range(_layers(model, "encoder")):
        src, dst = f"layer_{i}", f"layers.{i}"
        qkv_w, qkv_b = get(f"{src}/self_attention/linear_0/weight"), get(f"{src}/self_attention/linear_0/bias")
        if qkv_w.shape != (3 * d_model, d_model) or qkv_b.shape != (3 * d_model,):
            raise CT2FormatError(
                f"encoder/{src}/self_attention/linear_0: fused q|k|v of shape {qkv_w.shape}, "
                f"expected {(3 * d_model, d_model)}"
            )
        q_w, k_w, v_w = np.split(qkv_w, 3)
        q_b, k_b, v_b = np.split(qkv_b, 3)
        if np.any(k_b != 0):
            raise CT2FormatError(
                f"encoder/{src}/self_attention/linear_0: the key bias is not zero, but Whisper's k_proj has no bias"
            )
        state.update(
            {
                f"{dst}.self_attn.q_proj.weight": q_w,
                f"{dst}.self_attn.q_proj.bias": q_b,
                f"{dst}.self_attn.k_proj.weight": k_w,
                f"{dst}.self_attn.v_proj.weight": v_w,
                f"{dst}.self_attn.v_proj.bias": v_b,
                f"{dst}.self_attn.out_proj.weight": get(f"{src}/self_attention/linear_1/weight"),
                f"{dst}.self_attn.out_proj.bias": get(f"{src}/self_attention/linear_1/bias"),
                f"{dst}.self_attn_layer_norm.weight": get(f"{src}/self_attention/layer_norm/gamma"),
                f"{dst}.self_attn_layer_norm.bias": get(f"{src}/self_attention/layer_norm/beta"),
                f"{dst}.fc1.weight": get(f"{src}/ffn/linear_0/weight"),
                f"{dst}.fc1.bias": get(f"{src}/ffn/linear_0/bias"),
                f"{dst}.fc2.weight": get(f"{src}/ffn/linear_1/weight"),
                f"{dst}.fc2.bias": get(f"{src}/ffn/linear_1/bias"),
                f"{dst}.final_layer_norm.weight": get(f"{src}/ffn/layer_norm/gamma"),
                f"{dst}.final_layer_norm.bias": get(f"{src}/ffn/layer_norm/beta"),
            }
        )
    return {k: np.ascontiguousarray(v) for k, v in state.items()}  # the q|k|v splits are views
