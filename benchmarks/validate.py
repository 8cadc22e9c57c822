"""Compiled per-message validator against jsonschema's validator built once, same messages, same run.

10,000 simulated telemetry messages (100 samples x 5 signals each) plus 1,000 invalid ones (one value
out of range, one field missing, or one of the wrong type). Both validators must agree on every message. fastjsonschema (which generates Python code per schema)
is timed as well, for reference.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import fastjsonschema
import jsonschema
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import best_of, machine, row
from edge_agent.contract import ContractValidator, load_contract
from edge_agent.simulator import LineConfig, WeldLine

VALID, INVALID, REPEATS = 10_000, 1_000, 3


def messages() -> list[tuple[str, bytes]]:
    line = WeldLine(LineConfig(seed=1, anomaly_rate=0.1, start_ms=1_763_740_800_000, seq_start=0))
    batches = line.batches()
    out = [(topic, orjson.dumps(batch.payload)) for _, topic, batch in (next(batches) for _ in range(VALID))]
    rng = random.Random(3)
    for i in range(INVALID):
        topic, raw = out[rng.randrange(VALID)]
        data = orjson.loads(raw)
        if i % 3 == 0:
            data["signals"]["current_a"][rng.randrange(len(data["signals"]["current_a"]))] = 1e9
        elif i % 3 == 1:
            del data["timestamp_ms"]
        else:
            data["n_samples"] = "many"
        out.append((topic, orjson.dumps(data)))
    rng.shuffle(out)
    return out


def main() -> None:
    contract = load_contract()
    ours = ContractValidator(contract)
    schema = contract.channel("weldTelemetry").messages["weldTelemetry"].payload_schema
    reference = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    corpus = messages()
    decoded = [orjson.loads(raw) for _, raw in corpus]

    verdicts_ours = [ours.check_data("weldTelemetry", d)[1] is None for d in decoded]
    verdicts_ref: list[bool] = []

    t_e2e, n = best_of(REPEATS, lambda: sum(ours.check(t, raw).ok or 1 for t, raw in corpus))
    t_ours, _ = best_of(
        REPEATS, lambda: sum(ours.check_data("weldTelemetry", d)[1] is None or 1 for d in decoded)
    )

    def reference_run() -> int:
        verdicts_ref[:] = [reference.is_valid(d) for d in decoded]
        return len(verdicts_ref)

    t_ref, _ = best_of(1, reference_run)  # slow, so one run; it also records the verdicts compared below
    agree = sum(a == b for a, b in zip(verdicts_ours, verdicts_ref, strict=True))
    fast = fastjsonschema.compile(dict(schema))

    def fast_ok(d: object) -> bool:
        try:
            fast(d)
            return True
        except fastjsonschema.JsonSchemaValueException:
            return False

    t_fast, _ = best_of(REPEATS, lambda: sum(fast_ok(d) or 1 for d in decoded))

    print(f"validate: {len(corpus):,} messages ({INVALID:,} invalid), {machine()}, best of {REPEATS}")
    row("compiled validator, decoded payloads", n / t_ours, "msg/s")
    row("jsonschema Draft7Validator built once", n / t_ref, "msg/s", "(baseline)")
    row("speed-up over the baseline", t_ref / t_ours, "x")
    row("fastjsonschema (code generation), for reference", n / t_fast, "msg/s")
    row("contract check end to end (route+parse+validate)", n / t_e2e, "msg/s")
    row("verdicts in agreement", agree, "msgs", f"of {len(corpus):,}")
    if agree != len(corpus):
        raise SystemExit("validators disagree")


if __name__ == "__main__":
    main()
