"""Segment files: framing, torn tails cut at any byte, recovery, the carried redelivery window, age."""

from __future__ import annotations

import time
from pathlib import Path

from edge_agent.agent.spool.segment_format import encode_header, encode_record, scan
from edge_agent.agent.spool.segments import list_segments
from edge_agent.contract import ContractValidator
from tests.edge_agent.agent.support import messages, new_spool


def test_frames_round_trip_and_any_torn_tail_is_cut_at_the_last_whole_frame(
    contract_validator: ContractValidator,
) -> None:
    batch = messages(contract_validator, 5)
    header = encode_header("edge-test", "1.0.0", [m.digest for m in batch[:2]])
    frames = [encode_record(i + 10, m) for i, m in enumerate(batch)]
    data = header + b"".join(frames)
    whole = scan(data)
    assert whole.torn_bytes == 0 and whole.header is not None
    assert whole.header.carried_digests == (batch[0].digest, batch[1].digest)
    for record, message in zip(whole.records, batch, strict=True):
        assert (record.topic, record.payload, record.digest) == (
            message.topic,
            message.payload,
            message.digest,
        )
        assert record.channel == message.verdict.channel and record.error_kind == message.verdict.error_kind  # type: ignore[union-attr]
    assert [r.seq for r in whole.records] == [10, 11, 12, 13, 14]
    ends = [len(header) + sum(len(f) for f in frames[: i + 1]) for i in range(len(frames))]
    for cut in range(len(header), len(data)):  # a crash mid-write can stop anywhere
        torn = scan(data[:cut])
        whole_frames = sum(1 for end in ends if end <= cut)
        assert len(torn.records) == whole_frames
        assert torn.valid_length == (ends[whole_frames - 1] if whole_frames else len(header))
    flipped = bytearray(data)
    flipped[ends[2] + 20] ^= 0xFF  # a bit flip inside the fourth record: its CRC fails
    assert len(scan(bytes(flipped)).records) == 3


def test_recovery_cuts_the_torn_tail_rebuilds_the_window_and_keeps_sequence_numbers_growing(
    tmp_path: Path, contract_validator: ContractValidator
) -> None:
    batch = messages(contract_validator, 40)
    spool = new_spool(tmp_path)
    spool.recover()
    spool.append(batch[:30])
    spool.sync()
    spool.window.extend(m.digest for m in batch[:30])
    closed = spool.rotate()  # a sealed-and-deleted segment's digests must survive in the next header
    assert closed is not None
    spool.append(batch[30:])
    spool.sync()
    active = spool.active_path
    assert active is not None
    spool.close()
    closed.unlink()  # as if sealed and uploaded
    with active.open("ab") as handle:
        handle.write(encode_record(999, batch[0])[:37])  # kill -9 in the middle of an append
    again = new_spool(tmp_path)
    report = again.recover()
    assert report.torn_bytes == 37 and report.records == 10 and report.to_seal == [active]
    assert again.next_seq == 41
    # the window holds the 30 carried digests and the 10 records still on disk
    assert all(m.digest in again.window for m in batch)
    assert scan(active.read_bytes()).torn_bytes == 0
    fresh = again.active_path
    assert fresh is not None and fresh.name == "capture-000000000041.seg"
    # restarting again (nothing written since) reuses the empty active segment: no name clash, no loss
    again.close()
    third = new_spool(tmp_path)
    third.recover()
    assert third.next_seq == 41 and third.active_path == fresh
    assert all(m.digest in third.window for m in batch)
    assert [p.name for _, p in list_segments(tmp_path / "segments", "capture")] == [active.name, fresh.name]


def test_a_window_keeps_only_the_most_recent_digests(
    tmp_path: Path, contract_validator: ContractValidator
) -> None:
    batch = messages(contract_validator, 30)
    spool = new_spool(tmp_path, window=16)
    spool.recover()
    spool.append(batch)
    spool.window.extend(m.digest for m in batch)
    spool.rotate()
    spool.close()
    again = new_spool(tmp_path, window=16)
    again.recover()
    assert [m.digest in again.window for m in batch] == [False] * 14 + [True] * 16


def test_a_segment_is_due_by_age_counted_from_its_first_record(
    tmp_path: Path, contract_validator: ContractValidator
) -> None:
    # the age of a segment is measured from its first record, on the monotonic clock
    spool = new_spool(tmp_path)
    spool.recover()
    assert spool.seconds_until_due(time.monotonic()) == float("inf")
    spool.append(messages(contract_validator, 1))
    assert 0 < spool.seconds_until_due(time.monotonic()) <= 60
    assert spool.due(time.monotonic() + 61)
    spool.close()
