"""Replaying the real flash-butt welding records (skipped when ../shared/data is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson

from edge_agent.contract import ContractValidator
from edge_agent.domain import batch_weld, flash_butt_records, iter_flash_butt
from tests.edge_agent.clock import START_MS


def test_records_are_all_found_with_labels(flash_butt_dir: Path) -> None:
    records = flash_butt_records(flash_butt_dir)
    assert len(list((flash_butt_dir / "good").iterdir())) == 2000
    # Four welds lie in both folders, byte for byte: they count once, as bad.
    assert sum(r.good for r in records) == 1996
    assert sum(not r.good for r in records) == 50
    assert len({r.weld_id for r in records}) == len(records) == 2046
    assert not any(r.good and (flash_butt_dir / "bad" / r.path.name).exists() for r in records)


def test_replayed_welds_are_contract_valid_telemetry(
    flash_butt_dir: Path, contract_validator: ContractValidator
) -> None:
    records = flash_butt_records(flash_butt_dir)
    bad = next(r for r in records if not r.good)
    welds = list(iter_flash_butt([records[0], bad], START_MS))
    assert welds[0].label is None and welds[1].label == "bad_weld"
    assert welds[1].start_ms > welds[0].start_ms + welds[0].duration_ms
    raw = np.loadtxt(records[0].path, delimiter="|")
    np.testing.assert_array_equal(welds[0].signals["current_a"], raw[:, 2])
    for weld in welds:
        for batch in batch_weld(weld, 10, first_seq=0):
            _, error = contract_validator.check_data(
                "weldTelemetry", orjson.loads(orjson.dumps(batch.payload))
            )
            assert error is None, str(error)
            assert batch.payload["sample_interval_ms"] == 100.0


def test_records_come_in_acquisition_order_not_name_order(flash_butt_dir: Path) -> None:
    records = flash_butt_records(flash_butt_dir)
    times = [r.acquired_at for r in records]
    assert times == sorted(times)
    assert times[0].month == 3 and times[-1].month == 4
    names = sorted(r.path.name for r in records)
    assert [
        r.path.name for r in records
    ] != names  # by name "2011412 ..." (April 12) sorts before "201142 ..." (April 2)
