"""A validation worker process: `python -m edge_agent.agent.pipeline.validate_worker [--contract PATH]`.

Loads the contract, says hello with its version, then classifies batches (see `worker_protocol`).
"""

from __future__ import annotations

import argparse
from typing import Any

from edge_agent.agent.messages import classify, classify_and_decode, digest
from edge_agent.agent.pipeline.worker_protocol import DECODE_BLOCKS, decode_batch, pack_reply, serve
from edge_agent.contract import DEFAULT_MAX_PAYLOAD_BYTES, ContractValidator, load_contract


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="validate_worker")
    parser.add_argument("--contract", default=None)
    parser.add_argument("--max-payload-bytes", type=int, default=DEFAULT_MAX_PAYLOAD_BYTES)
    parser.add_argument("--decode-channel", default=None, help="the channel whose batches scoring decodes")
    args = parser.parse_args(argv)
    contract = load_contract(args.contract)
    validator = ContractValidator(contract, max_payload_bytes=args.max_payload_bytes)

    def handle(body: bytes) -> list[list[str | None]] | bytes:
        options, items = decode_batch(body)
        if not options & DECODE_BLOCKS or args.decode_channel is None:
            return [[*classify(validator, t, p).to_list(), digest(t, p).hex()] for t, p in items]
        rows: list[list[Any]] = []
        blocks: list[bytes | None] = []
        for topic, payload in items:
            verdict, block = classify_and_decode(validator, topic, payload, args.decode_channel)
            rows.append([*verdict.to_list(), digest(topic, payload).hex()])
            blocks.append(block)
        return pack_reply(rows, blocks)

    return serve(handle, {"contract_version": contract.version})


if __name__ == "__main__":
    raise SystemExit(main())
