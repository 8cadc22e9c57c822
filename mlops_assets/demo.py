"""`make demo`: the closed loop on embedded local defaults, narrated.

Stage 1 (this version): start a local broker (Mosquitto when installed, else the embedded one), run
the simulated welding line for a few seconds with defects and a mid-run material change, and check every
message received against the AsyncAPI contract.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from edge_agent.contract import ContractValidator, load_contract
from edge_agent.local_broker import LocalBroker
from edge_agent.mqtt_endpoint import MqttEndpoint, connect_and_wait, new_client
from edge_agent.simulator import LineConfig, WeldLine, publish_line


def _say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--seconds", type=float, default=6.0, help="how long the line runs")
    parser.add_argument("--workdir", type=Path, default=Path(".mlops/demo"))
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)

    contract = load_contract()
    validator = ContractValidator(contract)
    _say(f"contract: {contract.title} {contract.version} ({len(contract.channels)} channels)")
    with tempfile.TemporaryDirectory(dir=args.workdir) as broker_dir, LocalBroker(Path(broker_dir)) as broker:
        protocol = broker.protocols[0]
        endpoint = MqttEndpoint(port=broker.port, protocol="5" if protocol == "5" else "3.1.1")
        _say(f"broker: {broker.kind} on 127.0.0.1:{broker.port} (MQTT {protocol})")

        received: Counter[str] = Counter()
        invalid: Counter[str] = Counter()
        lock = threading.Lock()

        def on_message(client: Any, userdata: Any, msg: Any) -> None:
            verdict = validator.check(msg.topic, msg.payload)
            with lock:
                received[msg.topic] += 1
                if not verdict.ok:
                    invalid[f"{msg.topic}: {verdict.error}"] += 1

        subscribed = threading.Event()
        listener = new_client(endpoint, client_id="demo-listener")
        listener.on_message = on_message
        listener.on_subscribe = lambda *a: subscribed.set()
        connect_and_wait(listener, endpoint)
        listener.subscribe([(c.subscription_filter, 1) for c in validator.router.matchers])
        if not subscribed.wait(10):
            raise TimeoutError("the broker did not acknowledge the subscription")

        line = WeldLine(LineConfig(seed=7, anomaly_rate=0.1))
        _say(
            f"simulator: {len(line.config.cells)} cells, 1 kHz, 100 samples per message, 10% defective welds"
        )
        half = args.seconds / 2
        first = publish_line(line, endpoint, duration_s=half)
        line.set_drift(True)
        print("   ... material changed to steel-s355 (drift) half-way")
        second = publish_line(line, endpoint, duration_s=half)
        sent = first.messages + second.messages
        deadline = threading.Event()
        for _ in range(500):
            with lock:
                if sum(received.values()) >= sent:
                    break
            deadline.wait(0.02)
        listener.disconnect()
        listener.loop_stop()

    _say("received per topic (all checked against the contract)")
    for topic, count in sorted(received.items()):
        print(f"   {count:6d}  {topic}")
    labels = Counter(s.label for s in first.sent + second.sent if s.label)
    total = sum(received.values())
    print(f"   {total} received of {sent} sent, {sum(invalid.values())} invalid")
    print(f"   defects in the stream (messages): {dict(labels)}")
    for problem, count in invalid.most_common(5):
        print(f"   INVALID x{count}: {problem}")
    return 0 if total == sent and not invalid else 1


if __name__ == "__main__":
    sys.exit(main())
