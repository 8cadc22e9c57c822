"""Bronze to silver on >= 5 million samples, against two baselines measured in the same run.

- lake: `refine_partition` — read the bronze rows, validate every payload column-wise against the
  contract's schema, explode batches into samples, de-duplicate, commit silver and quarantine.
- plain write: `polars.DataFrame.write_delta` of the very silver rows the lake produced (same
  partitioning) in one call, i.e. the cost of the write alone. Aim: lake / plain write <= 1.5.
  Also the same rows written in the lake's commit groups (10,000 messages each), which isolates the
  cost of validation: the lake pipelines its groups (validates group i+1 while group i commits).
- jsonschema: `Draft7Validator` built once, `orjson.loads` + `validate` per message, timed on a subset
  and extrapolated per message to the whole set (said so in the output). Aim: >= 50x slower than the lake.

52,000 simulated telemetry batches of up to 100 samples x 5 signals (over 5,000,000 samples; a weld's last
batch is shorter), 1 % of them broken.
Usage: python benchmarks/lake_ingest.py [--batches N] [--repeats R]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import orjson
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import machine, row
from edge_agent.contract import Contract, load_contract
from edge_agent.files.landing_format import LandingKey
from edge_agent.simulator import LineConfig
from mlops_assets.lake import QUARANTINED_MESSAGES, RAW_UNS_CAPTURES, VALIDATED_TELEMETRY, LakeStore
from mlops_assets.lake.ingest import ingest_landing, refine_partition
from mlops_assets.lake.refine import TelemetryRefiner
from mlops_assets.landing import LocalLandingZone
from tests.synthetic_landing import LocalTarget, simulator_messages, write_landing_files
from tests.synthetic_landing import TopicPayload as Message

START_MS = 1_763_740_800_000
JSONSCHEMA_SUBSET = 2_000
GROUP_FILES = 10  # landing files of 1,000 messages: 10 per commit = refine_partition's 10,000-message groups


def simulated(batches: int) -> list[Message]:
    """`batches` simulated telemetry messages, 1 % of them broken (a current far out of range)."""
    out = simulator_messages(LineConfig(seed=1, start_ms=START_MS, seq_start=0, anomaly_rate=0.05), batches)
    rng = random.Random(5)
    for index in rng.sample(range(batches), batches // 100):
        data = orjson.loads(out[index].payload)
        data["signals"]["current_a"][0] = 1e9
        out[index] = Message(out[index].topic, orjson.dumps(data))
    return out


@dataclass
class _Landed:
    """The benchmark's input: messages in landing files, already ingested into bronze."""

    messages: list[Message]
    keys: list[LandingKey]
    store: LakeStore
    now: dt.datetime
    bronze_s: float


@dataclass
class _Timings:
    """Seconds per repeat of each way to write silver, and the silver rows the lake produced."""

    lake: list[float] = field(default_factory=list)
    plain: list[float] = field(default_factory=list)
    grouped: list[float] = field(default_factory=list)
    silver_rows: int = 0


def land_into_bronze(work: Path, batches: int) -> _Landed:
    """Simulated messages written as landing files of 1,000 and ingested into bronze in one commit."""
    started = time.perf_counter()
    messages = simulated(batches)
    keys = write_landing_files(
        LocalTarget(work / "landing"), messages, received_start_ms=START_MS + 60_000, per_file=1_000
    )
    store = LakeStore(str(work / "lake"))
    now = dt.datetime.now(dt.UTC)
    landed = time.perf_counter()
    ingest_landing(
        store,
        LocalLandingZone(work / "landing"),
        keys[0].day,
        "line-1",
        now=now,
        max_rows_per_commit=10**7,
    )
    bronze_s = time.perf_counter() - landed
    print(f"  set-up: {len(messages):,} messages in {len(keys)} landing files ({landed - started:.1f} s)")
    return _Landed(messages, keys, store, now, bronze_s)


def time_silver_writes(landed: _Landed, refiner: TelemetryRefiner, work: Path, repeats: int) -> _Timings:
    """Per repeat: the lake's bronze -> silver, then a plain write of its rows, whole and in commit groups."""
    store, day = landed.store, landed.keys[0].day
    timings = _Timings()
    for _ in range(repeats):
        for table in (VALIDATED_TELEMETRY, QUARANTINED_MESSAGES):
            shutil.rmtree(store.uri(table), ignore_errors=True)
        began = time.perf_counter()
        outcome = refine_partition(store, refiner, day, "line-1", now=landed.now)
        timings.lake.append(time.perf_counter() - began)
        timings.silver_rows = outcome.silver_rows
        silver = store.read(VALIDATED_TELEMETRY)
        target = work / "plain"
        shutil.rmtree(target, ignore_errors=True)
        began = time.perf_counter()
        silver.write_delta(str(target), delta_write_options={"partition_by": ["date", "line"]})
        timings.plain.append(time.perf_counter() - began)
        # The same rows in the lake's commit sizes (one append per group of files), no validation.
        shutil.rmtree(target, ignore_errors=True)
        groups = silver.partition_by("file_id", maintain_order=True)
        began = time.perf_counter()
        for start in range(0, len(groups), GROUP_FILES):
            pl.concat(groups[start : start + GROUP_FILES]).write_delta(
                str(target), mode="append", delta_write_options={"partition_by": ["date", "line"]}
            )
        timings.grouped.append(time.perf_counter() - began)
        del silver, groups
    return timings


def time_jsonschema(contract: Contract, messages: list[Message]) -> tuple[float, int]:
    """(seconds per message, invalid messages) of `Draft7Validator` on the first `JSONSCHEMA_SUBSET`."""
    schema = contract.channel("weldTelemetry").messages["weldTelemetry"].payload_schema
    validator = jsonschema.Draft7Validator(schema)
    subset = messages[:JSONSCHEMA_SUBSET]
    began = time.perf_counter()
    invalid = sum(1 for m in subset if not validator.is_valid(orjson.loads(m.payload)))
    return (time.perf_counter() - began) / len(subset), invalid


def print_results(
    landed: _Landed, timings: _Timings, refused: int, jsonschema_per_message: float, invalid: int
) -> None:
    """The rows, each way's best time over the repeats, and the ratios against the aims."""
    messages, store, bronze_s, samples = landed.messages, landed.store, landed.bronze_s, timings.silver_rows
    repeats, subset = len(timings.lake), min(len(messages), JSONSCHEMA_SUBSET)
    jsonschema_s = jsonschema_per_message * len(messages)
    lake_s, plain_s, grouped_s = min(timings.lake), min(timings.plain), min(timings.grouped)
    print(f"  bronze rows: {store.read(RAW_UNS_CAPTURES, columns=['file_id']).height:,}; silver samples: {samples:,}; "
          f"quarantined messages: {refused:,} (jsonschema subset: {invalid} invalid)")  # fmt: skip
    row("landing files -> bronze (for reference)", len(messages) / bronze_s, "msg/s", f"{bronze_s:.2f} s")
    row(
        "bronze -> silver + quarantine (lake)",
        samples / lake_s,
        "rows/s",
        f"{lake_s:.2f} s, best of {repeats}",
    )
    row(
        "plain polars write_delta of the same rows",
        samples / plain_s,
        "rows/s",
        f"{plain_s:.2f} s, best of {repeats}",
    )
    row(
        "plain write_delta, same commit groups",
        samples / grouped_s,
        "rows/s",
        f"{grouped_s:.2f} s, best of {repeats}",
    )
    row("per-message jsonschema (extrapolated)", samples / jsonschema_s, "rows/s",
        f"{jsonschema_s:.1f} s: {jsonschema_per_message * 1e3:.2f} ms/message timed on {subset:,} messages x {len(messages):,}")  # fmt: skip
    print(f"  ratio lake / plain write:   {lake_s / plain_s:.2f}  (aim <= 1.5)")
    print(f"  ratio lake / grouped write: {lake_s / grouped_s:.2f}  (validation cost at equal commit sizes)")
    print(f"  speed-up vs jsonschema:     {jsonschema_s / lake_s:.0f}x (aim >= 50)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=52_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    contract = load_contract()
    refiner = TelemetryRefiner(contract)
    work = Path(tempfile.mkdtemp(prefix="lake-bench-"))
    try:
        print(f"lake ingest benchmark on {machine()}")
        landed = land_into_bronze(work, args.batches)
        timings = time_silver_writes(landed, refiner, work, args.repeats)
        refused = landed.store.read(QUARANTINED_MESSAGES).height
        assert timings.silver_rows + refused * 100 >= args.batches * 100 * 0.95, "lost rows"
        per_message, invalid = time_jsonschema(contract, landed.messages)
        print_results(landed, timings, refused, per_message, invalid)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
