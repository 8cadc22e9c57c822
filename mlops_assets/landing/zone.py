"""The landing zone as the lake reads it: list sealed landing files and read them as Arrow tables.

Two implementations of one small interface: a local folder and `s3://bucket/prefix`. Paths follow
`edge_agent.files.landing_format` (`<site>/<line>/<agent>/<yyyy-mm-dd>/<kind>-<agent>-<first>-<last>.parquet`):
captured messages (`capture`, `quarantine`: `files`), drift reports (`drift_files`) and their HTML
companions (`companions`); anything else under the root (temporary uploads, notes) is skipped and
counted, never guessed at. Top folders starting with `_` are the platform's own areas (`_models/`, the
packages agents fetch), which only the platform writes (`write_bytes`) and listings never enter.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.parquet as pq

from edge_agent.files.landing_format import LandingKey, parse_companion_key, parse_landing_key
from mlops_assets.lake.s3 import s3_client_kwargs

__all__ = [
    "LandingFile",
    "LandingListing",
    "LandingZone",
    "LocalLandingZone",
    "S3LandingZone",
    "landing_file_id",
    "landing_zone",
    "legacy_landing_file_id",
]


def landing_file_id(key: LandingKey) -> str:
    """The id under which the lake records a landing file: its path under the landing root
    (`<site>/<line>/<agent>/<day>/<name>`). The name alone is not unique: an agent re-imaged with a
    fresh spool starts its sequence at 1 again, and two plants may run agents of the same name."""
    return key.relative_path


def legacy_landing_file_id(key: LandingKey) -> str:
    """The id lakes written before `landing_file_id` recorded for a landing file: its bare name
    (`<kind>-<agent>-<first>-<last>.parquet`, never a '/'). Only read, to recognise files such a lake
    already ingested (`mlops_assets.lake.commits.ingested_files`); nothing records it any more."""
    return key.file_id


@dataclass(frozen=True)
class LandingFile:
    key: LandingKey
    uri: str

    @property
    def file_id(self) -> str:
        """The lake's id of this file (`landing_file_id`)."""
        return landing_file_id(self.key)

    @property
    def legacy_file_id(self) -> str:
        """The id a lake written by an earlier version recorded for this file (`legacy_landing_file_id`)."""
        return legacy_landing_file_id(self.key)


@dataclass
class LandingListing:
    files: list[LandingFile] = field(default_factory=list)
    """Captured messages (`capture` and `quarantine` files): what bronze ingests."""
    drift_files: list[LandingFile] = field(default_factory=list)
    """Drift reports (`drift` files): what `edge_drift_reports` ingests, never bronze."""
    companions: set[str] = field(default_factory=set)
    """Paths of the companions (a drift report's HTML) beside the landing files."""
    skipped: list[str] = field(default_factory=list)
    """Paths under the root that are not landing files (reported, never ingested)."""


class LandingZone(ABC):
    """Read-only view of a landing zone."""

    root: str

    @abstractmethod
    def _relative_paths(self, since: dt.date | None, line: str | None) -> Iterator[str]: ...

    @abstractmethod
    def read_bytes(self, file: LandingFile) -> bytes: ...

    @abstractmethod
    def write_bytes(self, relative: str, data: bytes) -> None:
        """Put `data` at `relative` under the root (a platform area: `_models/...`), replacing what is there."""

    @abstractmethod
    def read_path(self, relative: str) -> bytes | None:
        """The bytes at `relative` under the root, None when there is nothing."""

    def list(
        self, *, since: dt.date | None = None, line: str | None = None, day: dt.date | None = None
    ) -> LandingListing:
        """Landing files, optionally of one line and from day `since` on (or of exactly `day`)."""
        listing = LandingListing()
        for relative in self._relative_paths(day or since, line):
            key = _landing_key_of(relative)
            if key is None:
                listing.skipped.append(relative)
                continue
            if (line is not None and key.line != line) or (day is not None and key.day != day):
                continue
            if since is not None and key.day < since:
                continue
            if not relative.endswith(".parquet"):
                listing.companions.add(relative)
            elif key.kind == "drift":
                listing.drift_files.append(LandingFile(key, self.uri_of(relative)))
            else:
                listing.files.append(LandingFile(key, self.uri_of(relative)))
        listing.files.sort(key=_listing_order)
        listing.drift_files.sort(key=_listing_order)
        return listing

    def uri_of(self, relative: str) -> str:
        """Where `relative` (a path under the root) is: `s3://...` or an absolute local path."""
        return f"{self.root.rstrip('/')}/{relative}"

    def read(self, file: LandingFile) -> pa.Table:
        return pq.read_table(io.BytesIO(self.read_bytes(file)))


def _listing_order(file: LandingFile) -> tuple[dt.date, str, str, int, str]:
    return (file.key.day, file.key.line, file.key.agent, file.key.first_seq, file.key.kind)


def _landing_key_of(relative: str) -> LandingKey | None:
    """The key of a landing file, or of the landing file whose companion `relative` is; None otherwise."""
    for parse in (parse_landing_key, parse_companion_key):
        try:
            return parse(relative)
        except ValueError:
            continue
    return None


def _day_folder_kept(name: str, since: dt.date | None) -> bool:
    if since is None:
        return True
    try:
        return dt.date.fromisoformat(name) >= since
    except ValueError:
        return True  # not a day folder: listed, then reported as skipped


class LocalLandingZone(LandingZone):
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(Path(root).resolve())

    def _relative_paths(self, since: dt.date | None, line: str | None) -> Iterator[str]:
        base = Path(self.root)
        if not base.is_dir():
            return
        for site in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("_")):
            for line_dir in sorted(p for p in site.iterdir() if p.is_dir()):
                if line is not None and line_dir.name != line:
                    continue
                for agent in sorted(p for p in line_dir.iterdir() if p.is_dir()):
                    for day in sorted(p for p in agent.iterdir() if p.is_dir()):
                        if not _day_folder_kept(day.name, since):
                            continue
                        for file in sorted(day.iterdir()):
                            if file.is_file():
                                yield file.relative_to(base).as_posix()

    def read_bytes(self, file: LandingFile) -> bytes:
        return Path(file.uri).read_bytes()

    def write_bytes(self, relative: str, data: bytes) -> None:
        target = Path(self.root) / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.tmp")
        temp.write_bytes(data)
        os.replace(temp, target)

    def read_path(self, relative: str) -> bytes | None:
        try:
            return (Path(self.root) / relative).read_bytes()
        except FileNotFoundError:
            return None


class S3LandingZone(LandingZone):
    """`s3://bucket/prefix`; listing descends folder by folder so old day folders are never listed."""

    def __init__(self, root: str, storage_options: Mapping[str, str] | None = None) -> None:
        parsed = urlparse(root)
        if parsed.scheme not in ("s3", "s3a") or not parsed.netloc:
            raise ValueError(f"landing root {root!r} is not an s3://bucket/prefix URI")
        self.root = root.rstrip("/")
        self._bucket = parsed.netloc
        self._prefix = parsed.path.strip("/")
        self._client_kwargs = s3_client_kwargs(storage_options or {})
        self._client: Any = None

    def _s3(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("s3", **self._client_kwargs)
        return self._client

    def _key(self, relative: str) -> str:
        return f"{self._prefix}/{relative}" if self._prefix else relative

    def _folders(self, relative: str) -> list[str]:
        prefix = self._key(relative) + "/" if relative else (self._prefix + "/" if self._prefix else "")
        found = []
        for page in (
            self._s3()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=self._bucket, Prefix=prefix, Delimiter="/")
        ):
            found += [p["Prefix"][len(prefix) :].strip("/") for p in page.get("CommonPrefixes", [])]
        return sorted(found)

    def _objects(self, relative: str) -> list[str]:
        prefix = self._key(relative) + "/"
        found = []
        for page in self._s3().get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
            found += [o["Key"][len(prefix) :] for o in page.get("Contents", [])]
        return sorted(found)

    def _relative_paths(self, since: dt.date | None, line: str | None) -> Iterator[str]:
        for site in self._folders(""):
            if site.startswith("_"):
                continue
            for line_name in self._folders(site):
                if line is not None and line_name != line:
                    continue
                for agent in self._folders(f"{site}/{line_name}"):
                    for day in self._folders(f"{site}/{line_name}/{agent}"):
                        if _day_folder_kept(day, since):
                            folder = f"{site}/{line_name}/{agent}/{day}"
                            yield from (f"{folder}/{name}" for name in self._objects(folder))

    def read_bytes(self, file: LandingFile) -> bytes:
        body = self._s3().get_object(Bucket=self._bucket, Key=self._key(file.key.relative_path))["Body"]
        return bytes(body.read())

    def write_bytes(self, relative: str, data: bytes) -> None:
        self._s3().put_object(Bucket=self._bucket, Key=self._key(relative), Body=data)

    def read_path(self, relative: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            body = self._s3().get_object(Bucket=self._bucket, Key=self._key(relative))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return bytes(body.read())


def landing_zone(root: str, storage_options: Mapping[str, str] | None = None) -> LandingZone:
    """The implementation that fits `root`: `s3://...` or a local folder."""
    return (
        S3LandingZone(root, storage_options)
        if root.startswith(("s3://", "s3a://"))
        else LocalLandingZone(root)
    )
