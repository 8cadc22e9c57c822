"""The landing zone interface: idempotent by name, never overwrites, verified; a directory and S3 (moto)."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import BotoCoreError

from edge_agent.agent.landing import LandingConflict, LocalLanding, open_landing
from edge_agent.agent.sealed_store import SealedStore
from edge_agent.agent.sealing import seal_segment
from edge_agent.agent.settings import LandingSettings
from edge_agent.agent.spool_usage import SpoolUsage
from edge_agent.agent.stats import Stats
from edge_agent.agent.uploader import Uploader
from edge_agent.contract import ContractValidator
from tests.edge_agent.agent.support import messages, new_spool
from tests.s3 import MotoS3

REL = "plant-1/line-1/edge-test/2025-11-21/capture-edge-test-000000000001-000000000002.parquet"


def test_local_put_is_idempotent_and_refuses_to_overwrite(tmp_path: Path) -> None:
    local = tmp_path / "file.parquet"
    local.write_bytes(b"PAR1 some bytes")
    landing = LocalLanding(tmp_path / "landing")
    assert landing.put(REL, local) == "uploaded"
    assert (tmp_path / "landing" / REL).read_bytes() == b"PAR1 some bytes"
    assert landing.put(REL, local) == "already_there"
    other = tmp_path / "other.parquet"
    other.write_bytes(b"PAR1 other bytes")
    with pytest.raises(LandingConflict):
        landing.put(REL, other)
    assert (tmp_path / "landing" / REL).read_bytes() == b"PAR1 some bytes"
    assert not [p for p in (tmp_path / "landing").rglob("*") if p.name.startswith(".")]  # no temp files left


def test_local_put_fails_while_the_landing_path_is_not_a_directory(tmp_path: Path) -> None:
    local = tmp_path / "file.parquet"
    local.write_bytes(b"x")
    (tmp_path / "landing").write_text("a file where the mount should be")
    with pytest.raises(OSError):
        LocalLanding(tmp_path / "landing").put(REL, local)


def test_s3_put_is_idempotent_refuses_to_overwrite_and_fails_while_unreachable(
    s3: MotoS3, tmp_path: Path
) -> None:
    bucket = s3.new_bucket()
    landing = open_landing(LandingSettings(url=f"s3://{bucket}/landing/zone", timeout_s=2))
    local = tmp_path / "file.parquet"
    local.write_bytes(b"PAR1 some bytes")
    assert landing.put(REL, local) == "uploaded"
    stored = s3.client().get_object(Bucket=bucket, Key=f"landing/zone/{REL}")["Body"].read()
    assert stored == b"PAR1 some bytes"
    assert landing.put(REL, local) == "already_there"
    other = tmp_path / "other.parquet"
    other.write_bytes(b"PAR1 other bytes")
    with pytest.raises(LandingConflict):
        landing.put(REL, other)
    s3.stop()
    second = REL.replace("000000000001-000000000002", "000000000003-000000000004")
    with pytest.raises(BotoCoreError):
        landing.put(second, local)
    s3.start()
    assert landing.put(second, local) == "uploaded"


def test_landing_settings_refuse_what_they_cannot_serve() -> None:
    with pytest.raises(ValueError, match="only a directory or s3"):
        LandingSettings(url="https://example.com/landing")
    with pytest.raises(ValueError, match="s3://bucket"):
        LandingSettings(url="s3://")


def test_the_uploader_sets_a_conflicting_file_aside_and_never_overwrites(
    tmp_path: Path, contract_validator: ContractValidator
) -> None:
    spool = new_spool(tmp_path)
    spool.recover()
    spool.append([m for m in messages(contract_validator, 20) if m.kind == "capture"])
    segment = spool.active_path
    assert segment is not None
    spool.close()
    stats = Stats()
    store = SealedStore(tmp_path / "sealed", SpoolUsage({"capture": 1 << 30, "quarantine": 1 << 30}), stats)
    sealed = seal_segment(segment, "capture", store.root, default_site="plant-1", default_line="line-1")[0]
    landing_root = tmp_path / "landing"
    taken = landing_root / sealed.key.relative_path
    taken.parent.mkdir(parents=True)
    taken.write_bytes(b"someone else's file")
    uploader = Uploader(
        store,
        LocalLanding(landing_root),
        conflicts_dir=tmp_path / "conflicts",
        settings=LandingSettings(),
        stats=stats,
    )
    assert uploader.upload_pass(deadline=None)
    assert taken.read_bytes() == b"someone else's file"
    assert (tmp_path / "conflicts" / sealed.key.relative_path).exists() and not sealed.path.exists()
    assert stats.events["upload_conflicts"] == 1 and "landing conflict" in (stats.last_error or "")
    assert store.pending() == []
