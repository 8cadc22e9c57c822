"""The on-disk format of spool segments: a header frame, then record frames, each with a length and CRC32.

`scan` stops at the first frame that is short or fails its CRC: that and what follows is a torn tail.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from edge_agent.agent.messages import Message

__all__ = [
    "ScanResult",
    "SegmentHeader",
    "SpoolRecord",
    "encode_header",
    "encode_record",
    "record_size",
    "scan",
]

# Little-endian throughout:
#   frame  = u32 body_length | u32 crc32(body) | body
#   header = type 2 | u16 len | agent | u16 len | contract version | u32 count | count x 16s digest
#   record = type 1 | i64 seq | i64 received_at_ms | u8 qos | u8 retain | u8 dup | 16s digest
#            | u32 x 7 lengths (topic, channel, parameters, error kind, path, reason, payload) | bytes
# The header says who captured the segment under which contract (what its sealed files will say, even if
# the agent restarts with another contract) and carries the redelivery window of earlier segments.
_FRAME = struct.Struct("<II")
_RECORD = struct.Struct("<Bqq3B16s7I")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_RECORD_TYPE = 1
_HEADER_TYPE = 2
_MAX_BODY = 1 << 30


@dataclass(frozen=True)
class SegmentHeader:
    agent: str
    contract_version: str
    carried_digests: tuple[bytes, ...] = ()


class SpoolRecord(NamedTuple):
    seq: int
    received_at_ms: int
    qos: int
    retain: bool
    dup: bool
    digest: bytes
    topic: str
    channel: str | None
    parameters_json: str | None
    error_kind: str | None
    error_path: str | None
    error_reason: str | None
    payload: bytes


def _opt(value: str | None) -> bytes:
    # A NUL byte marks None: no contract string or topic may contain NUL (the router refuses it).
    return b"\x00" if value is None else value.encode("utf-8", "surrogateescape")


def _unopt(raw: bytes) -> str | None:
    return None if raw == b"\x00" else raw.decode("utf-8", "surrogateescape")


def encode_record(seq: int, message: Message) -> bytes:
    verdict = message.verdict
    if verdict is None:
        raise ValueError("a message must be classified before it is spooled")
    topic = message.topic.encode("utf-8", "surrogateescape")
    channel = _opt(verdict.channel)
    params = _opt(verdict.parameters_json)
    kind = _opt(verdict.error_kind)
    path = _opt(verdict.error_path)
    reason = _opt(verdict.error_reason)
    payload = message.payload
    head = _RECORD.pack(
        _RECORD_TYPE,
        seq,
        message.received_at_ms,
        message.qos,
        message.retain,
        message.dup,
        message.digest,
        len(topic),
        len(channel),
        len(params),
        len(kind),
        len(path),
        len(reason),
        len(payload),
    )
    body = b"".join((head, topic, channel, params, kind, path, reason, payload))
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


def _encoded_len(value: str | None) -> int:
    if value is None:
        return 1
    return len(value) if value.isascii() else len(value.encode("utf-8", "surrogateescape"))


def record_size(message: Message) -> int:
    """The length of `encode_record(seq, message)` (the same for any seq), without encoding it."""
    verdict = message.verdict
    if verdict is None:
        raise ValueError("a message must be classified before it is spooled")
    strings = (
        verdict.channel,
        verdict.parameters_json,
        verdict.error_kind,
        verdict.error_path,
        verdict.error_reason,
    )
    return (
        _FRAME.size
        + _RECORD.size
        + _encoded_len(message.topic)
        + sum(map(_encoded_len, strings))
        + len(message.payload)
    )


def encode_header(agent: str, contract_version: str, digests: Iterable[bytes]) -> bytes:
    items = list(digests)
    if any(len(d) != 16 for d in items):
        raise ValueError("digests are 16 bytes")
    agent_raw, version_raw = agent.encode(), contract_version.encode()
    body = b"".join(
        (
            bytes((_HEADER_TYPE,)),
            _U16.pack(len(agent_raw)),
            agent_raw,
            _U16.pack(len(version_raw)),
            version_raw,
            _U32.pack(len(items)),
            *items,
        )
    )
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


@dataclass
class ScanResult:
    header: SegmentHeader | None = None
    records: list[SpoolRecord] = field(default_factory=list)
    valid_length: int = 0
    torn_bytes: int = 0


def _decode_header(body: memoryview) -> SegmentHeader:
    pos = 1
    (agent_len,) = _U16.unpack_from(body, pos)
    agent = bytes(body[pos + 2 : pos + 2 + agent_len]).decode()
    pos += 2 + agent_len
    (version_len,) = _U16.unpack_from(body, pos)
    version = bytes(body[pos + 2 : pos + 2 + version_len]).decode()
    pos += 2 + version_len
    (count,) = _U32.unpack_from(body, pos)
    pos += 4
    raw = bytes(body[pos:])
    if len(raw) != 16 * count:
        raise ValueError("header digest count does not match its length")
    return SegmentHeader(agent, version, tuple(raw[i : i + 16] for i in range(0, len(raw), 16)))


def _decode_record(body: memoryview) -> SpoolRecord:
    (_, seq, received, qos, retain, dup, digest, *lengths) = _RECORD.unpack_from(body, 0)
    pos = _RECORD.size
    parts: list[bytes] = []
    for length in lengths:
        parts.append(bytes(body[pos : pos + length]))
        pos += length
    if pos != len(body):
        raise ValueError("record lengths do not add up")
    topic, channel, params, kind, path, reason, payload = parts
    return SpoolRecord(
        seq,
        received,
        qos,
        bool(retain),
        bool(dup),
        digest,
        topic.decode("utf-8", "surrogateescape"),
        _unopt(channel),
        _unopt(params),
        _unopt(kind),
        _unopt(path),
        _unopt(reason),
        payload,
    )


def scan(data: bytes) -> ScanResult:
    """Decode every intact frame; the first broken one ends the scan (a torn tail).

    A segment must open with its header; records before a header are not ours to interpret.
    """
    result = ScanResult()
    view = memoryview(data)
    pos = 0
    while pos + _FRAME.size <= len(data):
        length, crc = _FRAME.unpack_from(view, pos)
        start, end = pos + _FRAME.size, pos + _FRAME.size + length
        if length == 0 or length > _MAX_BODY or end > len(data):
            break
        body = view[start:end]
        if zlib.crc32(body) != crc:
            break
        try:
            if body[0] == _HEADER_TYPE and result.header is None and not result.records:
                result.header = _decode_header(body)
            elif body[0] == _RECORD_TYPE and result.header is not None:
                result.records.append(_decode_record(body))
            else:
                break
        except (struct.error, ValueError, IndexError, UnicodeDecodeError):
            break
        pos = end
    result.valid_length = pos
    result.torn_bytes = len(data) - pos
    return result
