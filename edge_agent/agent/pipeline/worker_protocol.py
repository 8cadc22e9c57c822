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

__all__ = [
    "DECODE_BLOCKS",
    "decode_batch",
    "encode_batch",
    "pack_reply",
    "read_frame",
    "serve",
    "unpack_reply",
    "write_frame",
]

# frame = u32 length | body. A validation request body: u8 options | u32 count | count x (u32 topic_length |
# u32 payload_length | topic | payload); its reply, one JSON list per message: [channel, parameters_json,
# error_kind, error_path, error_reason, digest_hex]. With the option DECODE_BLOCKS the reply is
# `pack_reply(rows, blocks)`: u32 json length | the rows | each valid telemetry batch decoded once
# (`edge_agent.features.telemetry_block`), its length appended to its row. A sealing request is a JSON
# document (`seal_worker`); the scoring worker's requests and replies are `scoring.state_codec` documents.
_LEN = struct.Struct("<I")
_ITEM = struct.Struct("<II")
_OPTIONS = struct.Struct("<B")
DECODE_BLOCKS = 1
"""Validation option: return each valid telemetry batch decoded, for scoring (`pack_reply`)."""


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


def encode_batch(items: list[tuple[str, bytes]], options: int = 0) -> bytes:
    parts: list[bytes] = [_OPTIONS.pack(options), _LEN.pack(len(items))]
    for topic, payload in items:
        raw = topic.encode("utf-8", "surrogateescape")
        parts.append(_ITEM.pack(len(raw), len(payload)))
        parts.append(raw)
        parts.append(payload)
    return b"".join(parts)


def decode_batch(body: bytes) -> tuple[int, list[tuple[str, bytes]]]:
    """(options, [(topic, payload), ...]) of a validation request."""
    (options,) = _OPTIONS.unpack_from(body, 0)
    (count,) = _LEN.unpack_from(body, _OPTIONS.size)
    items: list[tuple[str, bytes]] = []
    pos = _OPTIONS.size + _LEN.size
    for _ in range(count):
        topic_len, payload_len = _ITEM.unpack_from(body, pos)
        pos += _ITEM.size
        topic = body[pos : pos + topic_len].decode("utf-8", "surrogateescape")
        pos += topic_len
        items.append((topic, body[pos : pos + payload_len]))
        pos += payload_len
    return options, items


def pack_reply(rows: list[list[Any]], blocks: list[bytes | None]) -> bytes:
    """Validation rows with the decoded blocks after them; each row gains the length of its block (0: none)."""
    for row, block in zip(rows, blocks, strict=True):
        row.append(len(block) if block else 0)
    head = orjson.dumps(rows)
    return b"".join([_LEN.pack(len(head)), head, *(b for b in blocks if b)])


def unpack_reply(body: bytes) -> tuple[list[list[Any]], list[bytes | None]]:
    (head_len,) = _LEN.unpack_from(body, 0)
    pos = _LEN.size + head_len
    rows: list[list[Any]] = orjson.loads(body[_LEN.size : pos])
    blocks: list[bytes | None] = []
    for row in rows:
        size = int(row[-1])
        blocks.append(body[pos : pos + size] if size else None)
        pos += size
    return rows, blocks


def serve(handler: Callable[[bytes], Any], hello: dict[str, Any]) -> int:
    """The worker side: say hello, then answer frames on stdin until it closes. A handler's reply is sent as
    is when it is bytes, else as JSON."""
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout carries the protocol; a stray print must not corrupt it
    write_frame(replies, orjson.dumps({"ready": True, **hello}))
    while True:
        body = read_frame(requests)
        if body is None:
            return 0
        reply = handler(body)
        write_frame(replies, reply if isinstance(reply, bytes) else orjson.dumps(reply))
