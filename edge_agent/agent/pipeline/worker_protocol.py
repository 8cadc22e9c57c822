"""The pipe protocol between the agent and its worker processes (validation, sealing).

Plain length-prefixed frames on the worker's stdin and stdout, no pickling: a worker only ever decodes
what it is sent. The first reply is the worker's hello, `{"ready": true, ...}`.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable
from typing import IO, Any

import orjson

__all__ = ["decode_batch", "encode_batch", "read_frame", "serve", "write_frame"]

# frame = u32 length | body. A validation request body: u32 count | count x (u32 topic_length |
# u32 payload_length | topic | payload); its reply, one JSON list per message: [channel, parameters_json,
# error_kind, error_path, error_reason, digest_hex]. A sealing request is a JSON document (`seal_worker`).
_LEN = struct.Struct("<I")
_ITEM = struct.Struct("<II")


def write_frame(stream: IO[bytes], body: bytes) -> None:
    stream.write(_LEN.pack(len(body)))
    stream.write(body)
    stream.flush()


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    data = stream.read(size)
    if data is None or len(data) < size:
        return None
    return data


def read_frame(stream: IO[bytes]) -> bytes | None:
    """The next frame's body, or None at end of stream (the other side closed the pipe or died)."""
    head = _read_exactly(stream, _LEN.size)
    if head is None:
        return None
    (length,) = _LEN.unpack(head)
    return _read_exactly(stream, length) if length else b""


def encode_batch(items: list[tuple[str, bytes]]) -> bytes:
    parts: list[bytes] = [_LEN.pack(len(items))]
    for topic, payload in items:
        raw = topic.encode("utf-8", "surrogateescape")
        parts.append(_ITEM.pack(len(raw), len(payload)))
        parts.append(raw)
        parts.append(payload)
    return b"".join(parts)


def decode_batch(body: bytes) -> list[tuple[str, bytes]]:
    (count,) = _LEN.unpack_from(body, 0)
    items: list[tuple[str, bytes]] = []
    pos = _LEN.size
    for _ in range(count):
        topic_len, payload_len = _ITEM.unpack_from(body, pos)
        pos += _ITEM.size
        topic = body[pos : pos + topic_len].decode("utf-8", "surrogateescape")
        pos += topic_len
        items.append((topic, body[pos : pos + payload_len]))
        pos += payload_len
    return items


def serve(handler: Callable[[bytes], Any], hello: dict[str, Any]) -> int:
    """The worker side: say hello, then answer frames on stdin until it closes."""
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout carries the protocol; a stray print must not corrupt it
    write_frame(replies, orjson.dumps({"ready": True, **hello}))
    while True:
        body = read_frame(requests)
        if body is None:
            return 0
        write_frame(replies, orjson.dumps(handler(body)))
