"""Where sealed files go: a landing target behind one small interface, a directory or S3 (`s3://bucket/prefix`).

`put` is idempotent by name, never overwrites (other bytes under the name: `LandingConflict`) and is
verified (size and SHA-256 read back) before it counts as done. `get` reads a file the platform put
there (model packages under `_models/`): `LandingMissing` when the zone answers that it has no such
file, any other error when it cannot be reached.
"""

from __future__ import annotations

import base64
import hashlib
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Literal

from edge_agent.agent.settings import LandingSettings
from edge_agent.files.fsutil import file_sha256, fsync_dir, makedirs_durable, temp_path_for

__all__ = [
    "LandingConflict",
    "LandingMissing",
    "LandingTarget",
    "LocalLandingTarget",
    "PutOutcome",
    "S3LandingTarget",
    "open_landing_target",
]

PutOutcome = Literal["uploaded", "already_there"]
_SHA256_METADATA = "sha256"
_CONTENT_TYPES = {".html": "text/html; charset=utf-8"}
"""Set on S3 so that a drift report's HTML opens in a browser (a presigned link) instead of downloading."""


class LandingConflict(Exception):
    """The landing zone holds a different file under the same name."""


class LandingMissing(Exception):
    """The landing zone answered, and has no file under that name."""


class LandingTarget(ABC):
    url: str

    @abstractmethod
    def put(self, relative_path: str, local: Path) -> PutOutcome: ...

    @abstractmethod
    def get(self, relative_path: str, max_bytes: int) -> bytes:
        """The file's bytes; `LandingMissing` when absent (or larger than `max_bytes`, never read whole)."""


class LocalLandingTarget(LandingTarget):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    def put(self, relative_path: str, local: Path) -> PutOutcome:
        target = self.root / relative_path
        expected = file_sha256(local)
        if target.exists():
            if file_sha256(target) == expected:
                return "already_there"
            raise LandingConflict(f"{target} exists with other content")
        makedirs_durable(target.parent)
        temp = temp_path_for(target)
        try:
            with local.open("rb") as source, temp.open("wb") as sink:
                while chunk := source.read(1 << 20):
                    sink.write(chunk)
                sink.flush()
                os.fsync(sink.fileno())
            try:
                os.link(temp, target)  # fails if the name exists: a put never overwrites
            except FileExistsError:
                if file_sha256(target) == expected:
                    return "already_there"
                raise LandingConflict(f"{target} appeared with other content") from None
        finally:
            temp.unlink(missing_ok=True)
        fsync_dir(target.parent)
        if file_sha256(target) != expected:
            raise OSError(f"{target} does not read back as written")
        return "uploaded"

    def get(self, relative_path: str, max_bytes: int) -> bytes:
        path = self.root / relative_path
        if not self.root.is_dir():
            raise OSError(f"landing directory {self.root} is not there")
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise LandingMissing(f"{path} does not exist") from None
        if size > max_bytes:
            raise LandingMissing(f"{path} holds {size} bytes, more than the {max_bytes} allowed")
        return path.read_bytes()


class S3LandingTarget(LandingTarget):
    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"

    def key_for(self, relative_path: str) -> str:
        return f"{self.prefix}/{relative_path}" if self.prefix else relative_path

    def _head(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            head: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=key)
            return head
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    @staticmethod
    def _same(head: dict[str, Any], size: int, md5_hex: str, sha256_hex: str) -> bool:
        if int(head.get("ContentLength", -1)) != size:
            return False
        recorded = (head.get("Metadata") or {}).get(_SHA256_METADATA)
        if recorded is not None:
            return bool(recorded == sha256_hex)
        return str(head.get("ETag", "")).strip('"') == md5_hex  # written by someone else: MD5 or nothing

    def put(self, relative_path: str, local: Path) -> PutOutcome:
        from botocore.exceptions import ClientError

        key = self.key_for(relative_path)
        body = local.read_bytes()
        md5 = hashlib.md5(body, usedforsecurity=False)
        sha256 = hashlib.sha256(body).hexdigest()
        existing = self._head(key)
        if existing is not None:
            if self._same(existing, len(body), md5.hexdigest(), sha256):
                return "already_there"
            raise LandingConflict(f"s3://{self.bucket}/{key} exists with other content")
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentMD5=base64.b64encode(md5.digest()).decode(),
                Metadata={_SHA256_METADATA: sha256},
                IfNoneMatch="*",
                ContentType=_CONTENT_TYPES.get(Path(relative_path).suffix, "binary/octet-stream"),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
                raise
            raced = self._head(key)
            if raced is not None and self._same(raced, len(body), md5.hexdigest(), sha256):
                return "already_there"
            raise LandingConflict(f"s3://{self.bucket}/{key} appeared with other content") from None
        stored = self._head(key)
        if stored is None or not self._same(stored, len(body), md5.hexdigest(), sha256):
            raise OSError(f"s3://{self.bucket}/{key} does not read back as written")
        return "uploaded"

    def get(self, relative_path: str, max_bytes: int) -> bytes:
        key = self.key_for(relative_path)
        head = self._head(key)
        if head is None:
            raise LandingMissing(f"s3://{self.bucket}/{key} does not exist")
        if int(head.get("ContentLength", 0)) > max_bytes:
            raise LandingMissing(f"s3://{self.bucket}/{key} is larger than the {max_bytes} bytes allowed")
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body


def open_landing_target(settings: LandingSettings) -> LandingTarget:
    """The landing zone the settings name. boto3 is imported only for `s3://`."""
    if not settings.url.startswith("s3://"):
        return LocalLandingTarget(Path(settings.url))
    import boto3
    from botocore.config import Config

    bucket, _, prefix = settings.url[len("s3://") :].partition("/")
    secret = settings.aws_secret_access_key.get_secret_value() if settings.aws_secret_access_key else None
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.region,
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=secret,
        config=Config(
            retries={"max_attempts": 2, "mode": "standard"},
            connect_timeout=min(10.0, settings.timeout_s),
            read_timeout=settings.timeout_s,
        ),
    )
    return S3LandingTarget(bucket, prefix, client)
