"""The group commit's redelivery rule, message by message, including across a restart of the spool; and
the capture spool's bound, checked message by message before a group is written."""

from __future__ import annotations

import threading
from pathlib import Path

from edge_agent.agent.messages import Message
from edge_agent.agent.pipeline.capture_writer import CaptureWriter
from edge_agent.agent.pipeline.processors import Downstream
from edge_agent.agent.pipeline.queues import BatchQueue
from edge_agent.agent.spool.seal_stage import SealStage
from edge_agent.agent.spool.sealed_backlog import SealedBacklog
from edge_agent.agent.spool.segment_format import encode_record, record_size, scan
from edge_agent.agent.spool.segments import SegmentSpool
from edge_agent.agent.spool.usage import SpoolUsage
from edge_agent.agent.stats import Stats
from edge_agent.contract import ContractValidator
from tests.edge_agent.agent.support import messages
from tests.helpers import wait_until


class Rig:
    """A writer on real spool files; the broker side is a list of acknowledged (mid, generation)."""

    def __init__(self, root: Path, capture_limit: int = 1 << 40) -> None:
        self.usage = SpoolUsage({"capture": capture_limit, "quarantine": 1 << 40})
        self.stats = Stats()
        self.generation = 1
        self.acked: list[tuple[int, int]] = []
        self.fatal: list[BaseException] = []
        self.spools = {
            kind: SegmentSpool(
                root / "segments",
                kind,
                agent="edge-test",
                contract_version="1.0.0",
                segment_max_bytes=1 << 30,
                max_age_s=3600,
                window_size=1000,
                usage=self.usage,
            )
            for kind in ("capture", "quarantine")
        }
        for spool in self.spools.values():
            spool.recover()
        backlog = SealedBacklog(root / "sealed", self.usage, self.stats)
        seal_stage = SealStage(
            root / "sealed",
            tree_lock=threading.Lock(),
            default_site="plant-1",
            default_line="line-1",
            usage=self.usage,
            stats=self.stats,
            on_sealed=lambda: None,
            on_fatal=self.fatal.append,
            in_process=False,
        )
        self.queue: BatchQueue[Message] = BatchQueue("capture", 1000)
        self.writer = CaptureWriter(
            self.queue,
            self.spools,  # type: ignore[arg-type]
            ack=lambda ms: self.acked.extend(
                (m.mid, m.generation) for m in ms if m.generation == self.generation
            ),
            current_generation=lambda: self.generation,
            seal_stage=seal_stage,
            backlog=backlog,
            usage=self.usage,
            stats=self.stats,
            downstream=Downstream(),
            group_max=1000,
            quarantine_when_full="drop_oldest",
            on_fatal=self.fatal.append,
        )
        self.writer.start()

    def commit(self, batch: list[Message]) -> None:
        before = self.writer.groups
        self.queue.put_many(batch)
        wait_until(lambda: self.writer.groups > before and not len(self.queue), 10, "a group commit")

    def stop(self) -> list[bytes]:
        """Close the files; returns every payload on disk (both spools share the folder)."""
        self.queue.close()
        assert self.writer.join(10)
        payloads = []
        for spool in self.spools.values():
            spool.close()
        for path in sorted(self.spools["capture"].directory.glob("*.seg")):
            payloads += [r.payload for r in scan(path.read_bytes()).records]
        return payloads


def copy(message: Message, *, dup: bool, generation: int, mid: int) -> Message:
    again = Message(message.topic, message.payload, 1, False, dup, mid, generation, message.received_at)
    again.verdict, again.digest = message.verdict, message.digest
    return again


def test_redeliveries_are_acknowledged_but_written_once_even_after_a_restart(
    tmp_path: Path, contract_validator: ContractValidator
) -> None:
    batch = messages(contract_validator, 8)
    rig = Rig(tmp_path)
    rig.commit(batch[:5])
    assert rig.acked == [(m.mid, 1) for m in batch[:5]]
    # the connection drops before the PUBACKs of 3 and 4 arrive: the broker redelivers them with DUP
    rig.generation = 2
    rig.commit(
        [copy(batch[3], dup=True, generation=2, mid=101), copy(batch[4], dup=True, generation=2, mid=102)]
    )
    assert rig.acked[-2:] == [(101, 2), (102, 2)]
    assert rig.stats.dropped["duplicate_redelivery"] == 2
    # DUP on a message never written (it was still on the wire): written
    rig.commit([copy(batch[5], dup=True, generation=2, mid=103)])
    # the same bytes again WITHOUT DUP: a new publication, written (the lake deduplicates on cell and seq)
    rig.commit([copy(batch[0], dup=False, generation=2, mid=104)])
    # a message from the dropped connection that its own redelivery overtook in the pipeline: not rewritten
    rig.commit([copy(batch[5], dup=False, generation=1, mid=9)])
    assert rig.stats.dropped["duplicate_redelivery"] == 3
    on_disk = rig.stop()
    assert {m.kind for m in batch[:6]} == {"capture", "quarantine"}  # the rule holds for both spools
    assert sorted(on_disk) == sorted([m.payload for m in batch[:6]] + [batch[0].payload])

    # kill -9 and restart: the window comes back from the segment files
    restarted = Rig(tmp_path)
    restarted.generation = 3
    restarted.commit(
        [copy(batch[2], dup=True, generation=3, mid=1), copy(batch[6], dup=True, generation=3, mid=2)]
    )
    assert restarted.acked == [(1, 3), (2, 3)]
    assert restarted.stats.dropped["duplicate_redelivery"] == 1  # batch[2] was on disk, batch[6] was not
    restarted.stop()


def test_a_group_is_written_in_the_part_that_fits_the_capture_spool_and_the_rest_waits(
    tmp_path: Path, contract_validator: ContractValidator
) -> None:
    """The bound is checked before writing, for the group's bytes: a group ten times the room left is
    not written whole (the limit overshot by a group commit); the part that fits is written and
    acknowledged, in order, and the rest once there is room."""
    limit = 64 * 1024
    batch = messages(contract_validator, 120)  # ~3.6 kB records; every 7th is quarantine material
    assert all(record_size(m) == len(encode_record(1, m)) for m in batch)
    captures = [m for m in batch if m.kind == "capture"]
    assert sum(map(record_size, captures)) > 5 * limit
    rig = Rig(tmp_path, capture_limit=limit)
    rig.queue.put_many(batch)  # under one lock: the writer takes it as one group
    wait_until(lambda: rig.writer.blocked_on == "capture", 10, "the capture spool to fill")
    spool = rig.spools["capture"]
    assert spool.active_path is not None
    next_header = spool.active_path.stat().st_size  # the segment opened when the writer stopped: no records
    used = rig.usage.used("capture") - next_header
    # full, and past the limit by less than the one record written into the last room
    assert limit <= used < limit + max(map(record_size, captures))
    written = len(rig.acked)
    assert 0 < written < len(batch) and rig.acked == [(m.mid, 1) for m in batch[:written]]
    assert rig.stats.totals()["captured"] == sum(m.kind == "capture" for m in batch[:written])
    rig.usage.limits["capture"] = 1 << 40  # room again (as when uploads free space)
    wait_until(lambda: len(rig.acked) == len(batch), 10, "the rest of the group")
    assert rig.acked == [(m.mid, 1) for m in batch]  # acknowledged in order of receipt
    assert rig.stats.events["group_commits_split"] >= 1 and not rig.fatal
    assert sorted(rig.stop()) == sorted(m.payload for m in batch)  # each written once
