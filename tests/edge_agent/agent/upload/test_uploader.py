"""The uploader: sealed files to the landing target; files that cannot be uploaded are set aside and
never stop the uploads behind them."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from edge_agent.agent.settings import LandingSettings
from edge_agent.agent.spool.seal import SealedFile, seal_segment
from edge_agent.agent.spool.sealed_backlog import SealedBacklog
from edge_agent.agent.spool.usage import SpoolUsage
from edge_agent.agent.stats import Stats
from edge_agent.agent.upload.targets import LocalLandingTarget
from edge_agent.agent.upload.uploader import UNREADABLE_STRIKES, Uploader
from edge_agent.contract import ContractValidator
from tests.edge_agent.agent.support import messages, new_spool


class UploadRig:
    """A sealed backlog with real sealed files, an uploader to a local landing directory."""

    def __init__(self, root: Path, validator: ContractValidator) -> None:
        self.root = root
        self.stats = Stats()
        self.fatal: list[BaseException] = []
        self.usage = SpoolUsage({"capture": 1 << 30, "quarantine": 1 << 30})
        self.backlog = SealedBacklog(root / "sealed", self.usage, self.stats)
        self.validator = validator
        self.landing_root = root / "landing"
        self.spools = 0
        self.uploader = Uploader(
            self.backlog,
            LocalLandingTarget(self.landing_root),
            conflicts_dir=root / "conflicts",
            corrupt_dir=root / "corrupt",
            settings=LandingSettings(),
            stats=self.stats,
            on_fatal=self.fatal.append,
        )

    def seal(self, count: int, seed: int = 1) -> SealedFile:
        """A sealed file of `count` messages; the same seed gives the same name and bytes."""
        self.spools += 1
        spool = new_spool(self.root / f"spool-{self.spools}")
        spool.recover()
        spool.next_seq = seed * 1000
        spool.append([m for m in messages(self.validator, count, seed=seed) if m.kind == "capture"])
        segment = spool.active_path
        assert segment is not None
        spool.close()
        sealed = seal_segment(
            segment, "capture", self.backlog.root, default_site="plant-1", default_line="line-1"
        )
        return sealed[0]


def test_the_uploader_sets_a_conflicting_file_aside_and_never_overwrites(
    tmp_path: Path, contract_validator: ContractValidator
) -> None:
    rig = UploadRig(tmp_path, contract_validator)
    kept: list[Path] = []
    for attempt in range(2):  # the same name twice: the second conflict must not replace the first
        sealed = rig.seal(20)
        taken = rig.landing_root / sealed.key.relative_path
        taken.parent.mkdir(parents=True, exist_ok=True)
        taken.write_bytes(b"someone else's file")
        assert rig.uploader.upload_pass(deadline=None)
        assert taken.read_bytes() == b"someone else's file" and not sealed.path.exists()
        kept = sorted((tmp_path / "conflicts").rglob("*.parquet"))
        assert len(kept) == attempt + 1
    assert kept[0].read_bytes() == kept[1].read_bytes()  # the same records sealed twice: both copies kept
    assert rig.stats.events["upload_conflicts"] == 2 and "landing conflict" in (rig.stats.last_error or "")
    assert rig.backlog.pending() == [] and rig.fatal == []


def test_an_unreadable_sealed_file_is_set_aside_and_the_files_behind_it_are_uploaded(
    tmp_path: Path, contract_validator: ContractValidator
) -> None:
    rig = UploadRig(tmp_path, contract_validator)
    rotten = rig.seal(20, seed=1)
    rotten.path.write_bytes(b"PAR1 torn by bit rot")  # the oldest file: first in every pass
    good = rig.seal(20, seed=2)
    good_bytes = good.path.read_bytes()
    assert [f.path for f in rig.backlog.pending()] == [rotten.path, good.path]
    assert rig.uploader.upload_pass(deadline=None)
    assert rig.uploader.available  # the landing zone did nothing wrong
    assert (rig.landing_root / good.key.relative_path).read_bytes() == good_bytes
    assert not (rig.landing_root / rotten.key.relative_path).exists()
    set_aside = tmp_path / "corrupt" / rotten.key.relative_path
    assert set_aside.read_bytes() == b"PAR1 torn by bit rot"
    assert rig.backlog.pending() == []
    assert rig.stats.events["unreadable_files"] == 1 and rig.stats.events["uploaded_files"] == 1
    assert "unreadable sealed file" in (rig.stats.last_error or "")
    assert rig.stats.events["upload_failures"] == 0 and rig.fatal == []


def test_a_foreign_parquet_file_in_the_sealed_folder_is_set_aside_at_once(
    tmp_path: Path, contract_validator: ContractValidator
) -> None:
    rig = UploadRig(tmp_path, contract_validator)
    foreign = rig.seal(20, seed=1)
    pq.write_table(pa.table({"something": [1, 2, 3]}), foreign.path)  # readable, but not a landing file
    good = rig.seal(20, seed=2)
    assert rig.uploader.upload_pass(deadline=None)
    assert (tmp_path / "corrupt" / foreign.key.relative_path).exists()
    assert (rig.landing_root / good.key.relative_path).exists()
    assert rig.backlog.pending() == [] and rig.fatal == []
    assert rig.stats.events["unreadable_files"] == 1 and rig.stats.events["unreadable_retries"] == 0


def _socket_in_place_of(path: Path, monkeypatch: pytest.MonkeyPatch) -> socket.socket:
    """A Unix socket where a sealed file was: listed like a file, but opening it is an OSError (ENXIO),
    as EMFILE or EIO would be. Bound by a relative name (socket paths are limited to 108 bytes)."""
    path.unlink()
    listener = socket.socket(socket.AF_UNIX)
    with monkeypatch.context() as scoped:
        scoped.chdir(path.parent)
        listener.bind(path.name)
    return listener


def test_a_file_the_system_cannot_read_is_retried_before_it_is_set_aside(
    tmp_path: Path, contract_validator: ContractValidator, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = UploadRig(tmp_path, contract_validator)
    blocked = rig.seal(20, seed=1)
    content = blocked.path.read_bytes()
    unreadable = _socket_in_place_of(blocked.path, monkeypatch)
    for strike in range(1, UNREADABLE_STRIKES):
        good = rig.seal(20, seed=strike + 1)  # others of the same pass read fine: this file is struck
        assert rig.uploader.upload_pass(deadline=None)
        assert blocked.path.is_socket() and rig.stats.events["unreadable_retries"] == strike
        assert (rig.landing_root / good.key.relative_path).exists()  # never held up behind it
    unreadable.close()
    blocked.path.unlink()
    blocked.path.write_bytes(content)  # the operator fixed it: the next pass uploads it
    assert rig.uploader.upload_pass(deadline=None)
    assert (rig.landing_root / blocked.key.relative_path).read_bytes() == content
    assert rig.stats.events["unreadable_files"] == 0 and rig.backlog.pending() == []


def test_a_file_that_stays_unreadable_is_set_aside_after_the_strikes(
    tmp_path: Path, contract_validator: ContractValidator, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = UploadRig(tmp_path, contract_validator)
    blocked = rig.seal(20, seed=1)
    with _socket_in_place_of(blocked.path, monkeypatch):
        for strike in range(UNREADABLE_STRIKES):
            rig.seal(20, seed=strike + 2)
            assert rig.uploader.upload_pass(deadline=None)
    assert rig.stats.events["unreadable_retries"] == UNREADABLE_STRIKES - 1
    assert rig.stats.events["unreadable_files"] == 1
    assert (tmp_path / "corrupt" / blocked.key.relative_path).is_socket() and rig.backlog.pending() == []


def test_when_no_file_can_be_read_the_pass_fails_and_nothing_is_set_aside(
    tmp_path: Path, contract_validator: ContractValidator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The system, not the files (out of file descriptors, a failing disk): a good backlog must not
    end up in corrupt/ because every file failed a few passes in a row."""
    rig = UploadRig(tmp_path, contract_validator)
    files = [rig.seal(20, seed=seed) for seed in (1, 2, 3)]
    contents = [f.path.read_bytes() for f in files]
    sockets = [_socket_in_place_of(f.path, monkeypatch) for f in files]
    for attempt in range(1, 2 * UNREADABLE_STRIKES):
        assert not rig.uploader.upload_pass(deadline=None)
        assert rig.stats.events["read_failures"] == attempt
    assert rig.stats.events["unreadable_files"] == 0 and rig.stats.events["unreadable_retries"] == 0
    assert not (tmp_path / "corrupt").exists() and len(rig.backlog.pending()) == 3
    assert rig.uploader.available  # the landing zone did nothing wrong
    for file, content, listener in zip(files, contents, sockets, strict=True):
        listener.close()
        file.path.unlink()
        file.path.write_bytes(content)
    assert rig.uploader.upload_pass(deadline=None)
    assert rig.backlog.pending() == [] and rig.stats.events["uploaded_files"] == 3


def test_drop_oldest_passes_over_the_file_being_uploaded(
    tmp_path: Path, contract_validator: ContractValidator
) -> None:
    rig = UploadRig(tmp_path, contract_validator)
    first, second = rig.seal(20, seed=1), rig.seal(20, seed=2)
    pending = rig.backlog.pending()
    with rig.backlog.claim(pending[0]):
        rows = rig.backlog.drop_oldest("capture", lambda: False)  # "drop everything you can"
    assert rows == second.rows and first.path.exists() and not second.path.exists()
    assert rig.stats.dropped["capture_spool_full"] == second.rows


def test_the_final_upload_pass_keeps_its_deadline_while_another_pass_runs(
    tmp_path: Path, contract_validator: ContractValidator
) -> None:
    rig = UploadRig(tmp_path, contract_validator)
    rig.seal(20)
    with rig.uploader._lock:  # a pass of the uploader thread, stuck in a slow put
        assert not rig.uploader.upload_pass(deadline=time.monotonic() + 0.05)
    assert len(rig.backlog.pending()) == 1
    assert rig.uploader.upload_pass(deadline=time.monotonic() + 30)
    assert rig.backlog.pending() == []
