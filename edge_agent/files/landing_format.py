"""The landing-zone file format: the contract between the edge agent (writer) and the lake (reader).

A landing file is an immutable Parquet file at
`<site>/<line>/<agent>/<yyyy-mm-dd>/<kind>-<agent>-<first_seq>-<last_seq>.parquet` (`LandingKey`):
captured MQTT messages exactly as received (`capture`, `quarantine`), or one drift report (`drift`,
first = last = the report's number) with its HTML report beside it under the same name, `.html`
(its companion: written and uploaded before the Parquet file, so a listed drift file has its HTML).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

__all__ = [
    "CAPTURE_SCHEMA",
    "COMPANION_SUFFIX",
    "DRIFT_SCHEMA",
    "FILE_METADATA_KEYS",
    "QUARANTINE_SCHEMA",
    "FileKind",
    "LandingKey",
    "drift_landing_key",
    "landing_key",
    "parse_companion_key",
    "parse_landing_key",
]

FileKind = Literal["capture", "quarantine", "drift"]
COMPANION_SUFFIX = ".html"
"""The companion of a `drift` file: Evidently's HTML report, `<kind>-<agent>-<n>-<n>.html` beside it."""

CAPTURE_SCHEMA = pa.schema(
    [
        pa.field("agent", pa.string(), nullable=False),
        pa.field("capture_seq", pa.int64(), nullable=False),
        pa.field("received_at_ms", pa.int64(), nullable=False),
        pa.field("topic", pa.string(), nullable=False),
        pa.field("channel", pa.string()),
        pa.field("enterprise", pa.string()),
        pa.field("site", pa.string()),
        pa.field("area", pa.string()),
        pa.field("line", pa.string()),
        pa.field("cell", pa.string()),
        pa.field("parameters", pa.string()),  # JSON object of every channel parameter
        pa.field("payload", pa.binary(), nullable=False),  # the bytes as received
        pa.field("qos", pa.int8(), nullable=False),
        pa.field("retain", pa.bool_(), nullable=False),
        pa.field("contract_version", pa.string(), nullable=False),
    ]
)
QUARANTINE_SCHEMA = (
    CAPTURE_SCHEMA.append(pa.field("error_kind", pa.string(), nullable=False))
    .append(pa.field("error_path", pa.string(), nullable=False))
    .append(pa.field("error_reason", pa.string(), nullable=False))
)

DRIFT_SCHEMA = pa.schema(
    [
        pa.field("agent", pa.string(), nullable=False),
        pa.field("report_id", pa.string(), nullable=False),  # `<agent>:<report_seq>`, as on the UNS
        pa.field("report_seq", pa.int64(), nullable=False),  # the agent's report counter (in the name)
        pa.field("created_ms", pa.int64(), nullable=False),  # when the report was computed
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("window_start_ms", pa.int64(), nullable=False),  # the span of the windows compared
        pa.field("window_end_ms", pa.int64(), nullable=False),
        pa.field("cells", pa.list_(pa.string()), nullable=False),
        pa.field("rows", pa.int64(), nullable=False),  # windows compared
        pa.field("reference_rows", pa.int64(), nullable=False),  # windows of the package's reference profile
        pa.field("drift_share", pa.float64(), nullable=False),
        pa.field("drift_share_threshold", pa.float64(), nullable=False),
        pa.field("dataset_drift", pa.bool_(), nullable=False),
        pa.field("drifted_columns", pa.int64(), nullable=False),
        pa.field("columns", pa.int64(), nullable=False),
        pa.field("column_drift", pa.string(), nullable=False),  # JSON {column: {drifted, method, score}}
        pa.field("summary", pa.string(), nullable=False),  # the exact JSON published on the drift channel
        pa.field("report_json", pa.string(), nullable=False),  # Evidently's whole report as JSON
        pa.field("html_file", pa.string(), nullable=False),  # the companion's file name (same folder)
    ]
)

# Parquet key-value metadata written on every landing file.
FILE_METADATA_KEYS = (
    "uns.kind",
    "uns.agent",
    "uns.contract_version",
    "uns.first_seq",
    "uns.last_seq",
    "uns.rows",
)

_NAME = re.compile(
    r"^(?P<kind>capture|quarantine|drift)-(?P<agent>[a-z0-9][a-z0-9-]*)-(?P<first>\d{12})-(?P<last>\d{12})"
    r"(?P<suffix>\.parquet|\.html)$"
)
_KINDS: dict[str, FileKind] = {"capture": "capture", "quarantine": "quarantine", "drift": "drift"}
_COMPANION_KINDS: frozenset[str] = frozenset({"drift"})


@dataclass(frozen=True)
class LandingKey:
    """Where a landing file sits. `kind` is `capture` (messages that passed the contract), `quarantine`
    (messages that did not, with the reason) or `drift` (one drift report, `DRIFT_SCHEMA`). For messages
    the sequence numbers are the agent's own capture sequence, assigned when a message is durably
    written; for a drift report both are the report's number. They make every file name unique and let
    a reader spot gaps or overlaps. The file name (`file_id`) is the file's id: ingestion is idempotent
    by it."""

    site: str
    line: str
    agent: str
    day: dt.date
    kind: FileKind
    first_seq: int
    last_seq: int

    @property
    def file_id(self) -> str:
        return f"{self.kind}-{self.agent}-{self.first_seq:012d}-{self.last_seq:012d}.parquet"

    @property
    def relative_path(self) -> str:
        return f"{self.folder}/{self.file_id}"

    @property
    def folder(self) -> str:
        return f"{self.site}/{self.line}/{self.agent}/{self.day.isoformat()}"

    @property
    def companion_id(self) -> str | None:
        """The companion's file name (`drift`: the HTML report), None for kinds without one."""
        if self.kind not in _COMPANION_KINDS:
            return None
        return f"{self.kind}-{self.agent}-{self.first_seq:012d}-{self.last_seq:012d}{COMPANION_SUFFIX}"

    @property
    def companion_path(self) -> str | None:
        """The companion's path relative to the landing root (a drift summary's `report_uri`)."""
        companion = self.companion_id
        return None if companion is None else f"{self.folder}/{companion}"


def landing_key(
    *, site: str, line: str, agent: str, first_received_ms: int, kind: FileKind, first_seq: int, last_seq: int
) -> LandingKey:
    """The key of a file whose first message was received at `first_received_ms`: its UTC day names the
    day folder. `site` and `line` come from the topic's channel parameters (the writer files messages
    whose topic names none under the agent's own site and line)."""
    day = dt.datetime.fromtimestamp(first_received_ms / 1000.0, tz=dt.UTC).date()
    return LandingKey(site, line, agent, day, kind, first_seq, last_seq)


def drift_landing_key(*, site: str, line: str, agent: str, created_ms: int, report_seq: int) -> LandingKey:
    """The key of drift report `report_seq` computed at `created_ms` (its UTC day names the day folder)."""
    day = dt.datetime.fromtimestamp(created_ms / 1000.0, tz=dt.UTC).date()
    return LandingKey(site, line, agent, day, "drift", report_seq, report_seq)


def parse_landing_key(relative_path: str) -> LandingKey:
    """The inverse of `LandingKey.relative_path`; raises ValueError for anything else (a companion too:
    see `parse_companion_key`)."""
    key, suffix = _parse(relative_path)
    if suffix != ".parquet":
        raise ValueError(f"{relative_path!r} is not a .parquet landing file")
    return key


def parse_companion_key(relative_path: str) -> LandingKey:
    """The key of the landing file whose companion `relative_path` is (`<...>/drift-<agent>-<n>-<n>.html`
    -> the key of `drift-<agent>-<n>-<n>.parquet`); raises ValueError for anything else."""
    key, suffix = _parse(relative_path)
    if suffix != COMPANION_SUFFIX or key.companion_id is None:
        raise ValueError(f"{relative_path!r} is not the companion of a landing file")
    return key


def _parse(relative_path: str) -> tuple[LandingKey, str]:
    parts = relative_path.strip("/").split("/")
    if len(parts) != 5:
        raise ValueError(f"{relative_path!r} is not <site>/<line>/<agent>/<yyyy-mm-dd>/<file>.parquet")
    site, line, agent, day, name = parts
    found = _NAME.match(name)
    if found is None or found["agent"] != agent:
        raise ValueError(f"{relative_path!r}: bad landing file name {name!r}")
    try:
        date = dt.date.fromisoformat(day)
    except ValueError:
        raise ValueError(f"{relative_path!r}: bad day folder {day!r}") from None
    kind = _KINDS[found["kind"]]
    if kind == "drift" and found["first"] != found["last"]:
        raise ValueError(f"{relative_path!r}: a drift file names one report (first and last must match)")
    return LandingKey(site, line, agent, date, kind, int(found["first"]), int(found["last"])), found["suffix"]
