"""The landing-zone file format: the contract between the edge agent (writer) and the lake (reader).

A landing file is an immutable Parquet file of captured MQTT messages, exactly as received, at
`<site>/<line>/<agent>/<yyyy-mm-dd>/<kind>-<agent>-<first_seq>-<last_seq>.parquet` (`LandingKey`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

__all__ = [
    "CAPTURE_SCHEMA",
    "FILE_METADATA_KEYS",
    "QUARANTINE_SCHEMA",
    "LandingKey",
    "landing_key",
    "parse_landing_key",
]

FileKind = Literal["capture", "quarantine"]

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
    r"^(?P<kind>capture|quarantine)-(?P<agent>[a-z0-9][a-z0-9-]*)-(?P<first>\d{12})-(?P<last>\d{12})\.parquet$"
)


@dataclass(frozen=True)
class LandingKey:
    """Where a landing file sits. `kind` is `capture` (messages that passed the contract) or `quarantine`
    (messages that did not, with the reason). The sequence numbers are the agent's own capture sequence,
    assigned when a message is durably written: they make every file name unique and let a reader spot
    gaps or overlaps. The file name (`file_id`) is the file's id: ingestion is idempotent by it."""

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
        return f"{self.site}/{self.line}/{self.agent}/{self.day.isoformat()}/{self.file_id}"


def landing_key(
    *, site: str, line: str, agent: str, first_received_ms: int, kind: FileKind, first_seq: int, last_seq: int
) -> LandingKey:
    """The key of a file whose first message was received at `first_received_ms`: its UTC day names the
    day folder. `site` and `line` come from the topic's channel parameters (the writer files messages
    whose topic names none under the agent's own site and line)."""
    day = dt.datetime.fromtimestamp(first_received_ms / 1000.0, tz=dt.UTC).date()
    return LandingKey(site, line, agent, day, kind, first_seq, last_seq)


def parse_landing_key(relative_path: str) -> LandingKey:
    """The inverse of `LandingKey.relative_path`; raises ValueError for anything else."""
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
    kind: FileKind = "capture" if found["kind"] == "capture" else "quarantine"
    return LandingKey(site, line, agent, date, kind, int(found["first"]), int(found["last"]))
