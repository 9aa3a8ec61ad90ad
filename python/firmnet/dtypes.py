"""The one table of element types: what numpy holds, what C stores, how many bits.

Every mapping dtype -> C type, dtype -> bytes and C type -> bytes in firmnet reads
TABLE. Byte types (int8 ... float64) are stored as C arrays of their own type.

Packed types (bit1, int2, uint2, int4, uint4) store several elements per byte:
- along the last axis of the tensor: each row (one index of the leading axes) starts on
  a byte of its own;
- LSB-first: element k of a row sits in bits (k * bits) % 8 ... of byte (k * bits) // 8,
  so element 0 is in the least significant bits of the row's first byte;
- signed types hold their value in two's complement over `bits` bits;
- the unused bits at the end of a row's last byte are 0.
A row of n elements takes ceil(n * bits / 8) bytes; C sees the bytes as uint8_t.
numpy holds the unpacked values in `numpy` (int8 for signed, uint8 for unsigned types).
bit1 holds 0 or 1; a binary (+-1) tensor stores +1 as 1 and -1 as 0 (the kernel decides
what a bit means).

b1 is the binary layers' type (runtime_c/include/fn_binary_b1.h): +-1 values, 32 per
uint32_t word along the last axis (the channels, in NHWC), each row in whole words, value
k of a row in bit k % 32 of word k // 32, bit 1 for +1 and 0 for -1, the unused bits of a
row's last word 0. numpy holds the values as int8 +-1 (what the reference computes with).

>>> pack(np.array([1, -1, 7], np.int8), "int4").tolist()
[241, 7]
>>> unpack(pack(np.array([[1, 0, 1]], np.uint8), "bit1"), "bit1", 3).tolist()
[[1, 0, 1]]
>>> dtype("int4").nbytes((3, 5))
9
>>> dtype("b1").nbytes((2, 33))
16
>>> pack(np.array([[1, -1, 1]], np.int8), "b1").tolist()
[[5]]
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DType:
    name: str
    bits: int                    # bits one element takes in memory
    numpy: np.dtype              # numpy's dtype of the (unpacked) values
    ctype: str | None            # C element type of the storage; None: never reaches C (loader-only)
    lo: int | None = None        # value range of an integer type
    hi: int | None = None
    word_bits: int = 8           # a packed type's rows are whole words of this many bits

    @property
    def packed(self) -> bool:
        return self.bits < 8

    @property
    def itemsize(self) -> int:
        """Bytes per element of a byte type."""
        if self.packed:
            raise ValueError(f"{self.name} packs {8 // self.bits} elements per byte: it has no per-element size")
        return self.bits // 8

    def nbytes(self, shape) -> int:
        """Bytes of a tensor of this shape; packed types pad each row along the last axis to a byte."""
        shape = tuple(int(d) for d in shape)
        if not self.packed:
            return math.prod(shape) * self.itemsize
        rows, row = (math.prod(shape[:-1]), shape[-1]) if shape else (1, 1)
        return rows * -(-row * self.bits // self.word_bits) * (self.word_bits // 8)


def _int(name, bits, ctype, signed=True, numpy=None):
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return DType(name, bits, np.dtype(numpy or name), ctype, lo, hi)


TABLE: dict[str, DType] = {d.name: d for d in (
    DType("float32", 32, np.dtype("float32"), "float"),
    DType("float64", 64, np.dtype("float64"), None),
    _int("int8", 8, "int8_t"),
    _int("uint8", 8, "uint8_t", signed=False),
    _int("int16", 16, "int16_t"),
    _int("uint16", 16, "uint16_t", signed=False),
    _int("int32", 32, "int32_t"),
    _int("uint32", 32, "uint32_t", signed=False),
    _int("int64", 64, "int64_t"),
    DType("bool", 8, np.dtype("bool"), "uint8_t", 0, 1),
    _int("bit1", 1, "uint8_t", signed=False, numpy="uint8"),
    _int("int2", 2, "uint8_t", numpy="int8"),
    _int("uint2", 2, "uint8_t", signed=False, numpy="uint8"),
    _int("int4", 4, "uint8_t", numpy="int8"),
    _int("uint4", 4, "uint8_t", signed=False, numpy="uint8"),
    DType("b1", 1, np.dtype("int8"), "uint32_t", -1, 1, word_bits=32),
)}

# numpy's dtype of every byte type (what arrays of the graph's constants and of the C's
# buffers are); packed types are left out: a numpy array of them holds unpacked values.
NUMPY_DTYPES: dict[str, np.dtype] = {n: d.numpy for n, d in TABLE.items() if not d.packed}

# Bytes of each C scalar type the table stores (several dtypes share uint8_t).
CTYPE_BYTES: dict[str, int] = {d.ctype: d.bits // 8 for d in TABLE.values() if d.ctype and not d.packed}


def dtype(name: str) -> DType:
    try:
        return TABLE[name]
    except KeyError:
        raise ValueError(f"dtype {name} is not supported (supported: {', '.join(TABLE)})") from None


def c_type(name) -> str:
    """The C element type of a dtype name (or numpy dtype)."""
    d = dtype(str(name))
    if d.ctype is None:
        raise ValueError(f"dtype {d.name} has no C type (the loader converts it before code generation)")
    return d.ctype


def pack(values: np.ndarray, name: str) -> np.ndarray:
    """Packed bytes (uint8, last axis ceil(n * bits / 8)) of values of a packed type."""
    d = dtype(name)
    values = np.asarray(values)
    if not d.packed:
        raise ValueError(f"{name} is not a packed type")
    if name == "b1":
        return pack_b1(values)
    if values.ndim == 0:
        values = values.reshape(1)
    if values.size and (values.min() < d.lo or values.max() > d.hi):
        raise ValueError(f"values in [{values.min()}, {values.max()}] do not fit {name} [{d.lo}, {d.hi}]")
    n = values.shape[-1]
    per_byte = 8 // d.bits
    fields = (values.astype(np.int64) & ((1 << d.bits) - 1)).astype(np.uint8)   # two's complement bits
    padded = np.zeros(values.shape[:-1] + (-(-n // per_byte) * per_byte,), np.uint8)
    padded[..., :n] = fields
    groups = padded.reshape(values.shape[:-1] + (-1, per_byte))
    shifts = (np.arange(per_byte, dtype=np.uint8) * d.bits).astype(np.uint8)
    return np.bitwise_or.reduce(groups << shifts, axis=-1).astype(np.uint8)


def unpack(packed: np.ndarray, name: str, n: int) -> np.ndarray:
    """The values (d.numpy, last axis n) of bytes packed by `pack`."""
    d = dtype(name)
    if name == "b1":
        return unpack_b1(packed, n)
    packed = np.asarray(packed, np.uint8)
    per_byte = 8 // d.bits
    if packed.shape[-1] != -(-n // per_byte):
        raise ValueError(f"{n} elements of {name} take {-(-n // per_byte)} bytes per row, got {packed.shape[-1]}")
    shifts = (np.arange(per_byte, dtype=np.uint8) * d.bits).astype(np.uint8)
    fields = (packed[..., None] >> shifts) & np.uint8((1 << d.bits) - 1)
    fields = fields.reshape(packed.shape[:-1] + (-1,))[..., :n].astype(np.int16)
    if d.lo < 0:   # sign-extend from `bits` bits
        fields = np.where(fields > d.hi, fields - (1 << d.bits), fields)
    return fields.astype(d.numpy)


def pack_b1(values: np.ndarray) -> np.ndarray:
    """b1 words (uint32, last axis ceil(n / 32)) of +-1 values: bit 1 for +1, unused bits 0."""
    values = np.asarray(values)
    if values.ndim == 0:
        values = values.reshape(1)
    if values.size and not np.isin(values, (-1, 1)).all():
        raise ValueError(f"b1 holds +1 and -1 only, got {sorted(set(np.unique(values).tolist()) - {-1, 1})[:4]}")
    n = values.shape[-1]
    bits = np.zeros(values.shape[:-1] + (-(-n // 32) * 32,), np.uint64)
    bits[..., :n] = values > 0
    groups = bits.reshape(values.shape[:-1] + (-1, 32))
    return (groups << np.arange(32, dtype=np.uint64)).sum(axis=-1).astype(np.uint32)


def unpack_b1(words: np.ndarray, n: int) -> np.ndarray:
    """The +-1 values (int8, last axis n) of b1 words made by pack_b1."""
    words = np.asarray(words, np.uint32)
    if words.shape[-1] != -(-n // 32):
        raise ValueError(f"{n} values of b1 take {-(-n // 32)} words per row, got {words.shape[-1]}")
    bits = (words[..., None] >> np.arange(32, dtype=np.uint32)) & np.uint32(1)
    bits = bits.reshape(words.shape[:-1] + (-1,))[..., :n]
    return np.where(bits == 1, 1, -1).astype(np.int8)


def from_c_bytes(raw: bytes, shape, name: str) -> np.ndarray:
    """The values of a tensor of this shape and dtype from its bytes in C memory (a packed
    type's values unpacked)."""
    d = dtype(name)
    shape = tuple(int(v) for v in shape)
    if not d.packed:
        return np.frombuffer(raw, dtype=d.numpy).reshape(shape).copy()
    word = np.dtype(f"<u{d.word_bits // 8}") if d.word_bits > 8 else np.dtype(np.uint8)
    rows = np.frombuffer(raw, dtype=word).reshape(shape[:-1] + (-1,))
    return unpack(rows, name, shape[-1] if shape else 1).reshape(shape)
