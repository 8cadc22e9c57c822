"""A JSON document with numpy arrays beside it, as one bytes value: the scoring worker's wire and
checkpoint format (plain bytes, no pickling).

    u32 header length | header (JSON) | array 0 | array 1 | ...

In the header an array is `{"__array__": [index, dtype, shape]}`; `unpack` returns read-only views.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import orjson

__all__ = ["pack", "unpack"]

_LEN = struct.Struct("<I")
_KEY = "__array__"


def pack(document: Any) -> bytes:
    arrays: list[bytes] = []

    def lift(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            array = np.ascontiguousarray(value)
            arrays.append(array.tobytes())
            return {_KEY: [len(arrays) - 1, array.dtype.str, list(array.shape)]}
        if isinstance(value, dict):
            return {k: lift(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [lift(v) for v in value]
        return value

    header = orjson.dumps(lift(document), option=orjson.OPT_SERIALIZE_NUMPY)
    return b"".join([_LEN.pack(len(header)), header, *arrays])


def unpack(raw: bytes | memoryview) -> Any:
    view = memoryview(raw)
    (header_len,) = _LEN.unpack_from(view, 0)
    pos = _LEN.size + header_len
    header = orjson.loads(bytes(view[_LEN.size : pos]))
    offsets: list[int] = []  # arrays are laid out in index order, which is the order `lift` met them

    def lower(value: Any) -> Any:
        nonlocal pos
        if isinstance(value, dict):
            ref = value.get(_KEY)
            if ref is not None and len(value) == 1:
                index, dtype, shape = ref
                kind = np.dtype(dtype)
                count = int(np.prod(shape)) if shape else 1
                if index != len(offsets):
                    raise ValueError(f"array {index} out of order in a packed document")
                offsets.append(pos)
                pos += count * kind.itemsize
                return np.frombuffer(view, dtype=kind, count=count, offset=offsets[index]).reshape(shape)
            return {k: lower(v) for k, v in value.items()}
        if isinstance(value, list):
            return [lower(v) for v in value]
        return value

    return lower(header)
