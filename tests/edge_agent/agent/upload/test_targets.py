"""The landing targets: idempotent by name, never overwrite, verified; a directory and S3 (moto)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError

from edge_agent.agent.settings import LandingSettings
from edge_agent.agent.upload.targets import (
    LandingConflict,
    LocalLandingTarget,
    S3LandingTarget,
    open_landing_target,
)
from tests.s3 import MotoS3

REL = "plant-1/line-1/edge-test/2025-11-21/capture-edge-test-000000000001-000000000002.parquet"


def test_local_put_is_idempotent_and_refuses_to_overwrite(tmp_path: Path) -> None:
    local = tmp_path / "file.parquet"
    local.write_bytes(b"PAR1 some bytes")
    landing = LocalLandingTarget(tmp_path / "landing")
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
        LocalLandingTarget(tmp_path / "landing").put(REL, local)


def s3_landing(s3: MotoS3, bucket: str) -> S3LandingTarget:
    landing = open_landing_target(LandingSettings(url=f"s3://{bucket}/landing/zone", timeout_s=2))
    assert isinstance(landing, S3LandingTarget)
    return landing


def test_s3_put_is_idempotent_refuses_to_overwrite_and_fails_while_unreachable(
    s3: MotoS3, tmp_path: Path
) -> None:
    bucket = s3.new_bucket()
    landing = s3_landing(s3, bucket)
    local = tmp_path / "file.parquet"
    local.write_bytes(b"PAR1 some bytes")
    assert landing.put(REL, local) == "uploaded"
    stored = s3.client().get_object(Bucket=bucket, Key=f"landing/zone/{REL}")
    assert stored["Body"].read() == b"PAR1 some bytes"
    assert stored["Metadata"] == {"sha256": hashlib.sha256(b"PAR1 some bytes").hexdigest()}
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


def put_multipart(s3: MotoS3, bucket: str, key: str, body: bytes, metadata: dict[str, str]) -> str:
    """Store `body` as a one-part multipart upload: its ETag is not the MD5 of the bytes (as with SSE-KMS)."""
    client = s3.client()
    upload = client.create_multipart_upload(Bucket=bucket, Key=key, Metadata=metadata)
    part = client.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=body)
    client.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    etag: str = client.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    assert etag != hashlib.md5(body, usedforsecurity=False).hexdigest()
    return etag


def test_s3_same_bytes_are_recognised_by_their_sha256_when_the_etag_is_not_an_md5(
    s3: MotoS3, tmp_path: Path
) -> None:
    bucket = s3.new_bucket()
    landing = s3_landing(s3, bucket)
    body = b"PAR1 bytes in an encrypted bucket"
    local = tmp_path / "file.parquet"
    local.write_bytes(body)
    put_multipart(s3, bucket, landing.key_for(REL), body, {"sha256": hashlib.sha256(body).hexdigest()})
    assert landing.put(REL, local) == "already_there"
    # the same size and a non-MD5 ETag, but another SHA-256, or none at all: not provably ours
    for name, metadata in [("other-sha", {"sha256": "0" * 64}), ("no-sha", {})]:
        key = REL.replace("capture-edge-test", f"capture-{name}")
        put_multipart(s3, bucket, landing.key_for(key), body, metadata)
        with pytest.raises(LandingConflict):
            landing.put(key, local)


def test_s3_a_put_that_does_not_read_back_as_written_is_not_done(s3: MotoS3, tmp_path: Path) -> None:
    bucket = s3.new_bucket()
    landing = s3_landing(s3, bucket)
    local = tmp_path / "file.parquet"
    local.write_bytes(b"PAR1 some bytes")

    def tamper(parsed: dict[str, Any], **_: Any) -> None:
        # what a store that kept other bytes would answer to the read-back (fault injection)
        if "sha256" in parsed.get("Metadata", {}):
            parsed["Metadata"]["sha256"] = "f" * 64

    landing.client.meta.events.register("after-call.s3.HeadObject", tamper)
    with pytest.raises(OSError, match="does not read back as written"):
        landing.put(REL, local)


def test_landing_settings_refuse_what_they_cannot_serve() -> None:
    with pytest.raises(ValueError, match="only a directory or s3"):
        LandingSettings(url="https://example.com/landing")
    with pytest.raises(ValueError, match="s3://bucket"):
        LandingSettings(url="s3://")
