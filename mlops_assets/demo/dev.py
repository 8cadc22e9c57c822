"""`make dev`: the local stack, long-running, until Ctrl-C: a broker, a real edge agent, a simulated line
publishing in real time, the Dagster UI with its daemon (http://127.0.0.1:3000) and the MLflow UI
(http://127.0.0.1:5000), on the same LOCAL stores and with the same short loop periods as `make demo`
(each `MLOPS_*` of `LOOP_ENV` can be overridden from the environment)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from edge_agent.domain import LineAddress
from edge_agent.uns.endpoint import MqttEndpoint
from edge_agent.uns.local_broker import LocalBroker, free_port
from mlops_assets.demo.edge import AgentProcess
from mlops_assets.demo.loop import AGENT_DRIFT, LOOP_ENV
from mlops_assets.demo.stack import dagster_dev, mlflow_ui, simulator, wait_http
from mlops_assets.environment import local_home, prepare_local_instance
from mlops_assets.ml.registry import local_tracking_uri
from mlops_assets.ml.release.signing import load_or_create_dev_signer

__all__ = ["main"]


def _port(preferred: int) -> int:
    """`preferred` when free (so that the README's commands work as written), else any free port."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            return free_port()
    return preferred


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make dev", description=__doc__)
    parser.add_argument("--ui-port", type=int, default=3000)
    parser.add_argument("--mlflow-port", type=int, default=5000)
    parser.add_argument("--cells", type=int, default=3)
    args = parser.parse_args(argv)
    home = local_home()
    dagster_home = Path(os.environ.setdefault("DAGSTER_HOME", str(home / "dagster_home")))
    prepare_local_instance(dagster_home)
    logs = home / "logs"
    signer = load_or_create_dev_signer(home / "signing")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with LocalBroker(home / "dev-broker", port=_port(1883)) as broker:
        endpoint = MqttEndpoint(port=broker.port, protocol="5" if broker.protocols[0] == "5" else "3.1.1")
        env = {"MLOPS_UNS_PORT": str(broker.port), "MLOPS_HOME": str(home), "DAGSTER_HOME": str(dagster_home)}
        env |= {key: os.environ.get(key, value) for key, value in LOOP_ENV.items()}  # the demo's short loop
        agent = AgentProcess(home, endpoint, LineAddress(), signer.public_key_b64, signer.key_id, AGENT_DRIFT)
        ui = dagster_dev(logs, env, args.ui_port)
        tracking = mlflow_ui(
            logs, local_tracking_uri(home / "mlflow"), home / "mlflow" / "artifacts", args.mlflow_port
        )
        line = simulator(logs, broker.port, cells=args.cells, seed=7, anomaly_rate=0.1, speed=1.0)
        children = [ui, tracking]
        try:
            agent.start()
            for child in children:
                child.start()
            line.start()
            children.append(line)
            ready = wait_http(f"http://127.0.0.1:{args.ui_port}/server_info", 120, ui)
            print(f"""
MLOPS_HOME={home}   logs in {logs}
  broker          mqtt://127.0.0.1:{broker.port} ({broker.kind})
  edge agent      {agent.agent_id}, log {agent.log_path}
  simulator       {args.cells} cells, real time; toggle the drift material: kill -USR1 {line.process.pid if line.process else '?'}
  Dagster UI      http://127.0.0.1:{args.ui_port} {'(ready)' if ready else '(not answering yet: see ' + str(ui.log) + ')'}
  MLflow UI       http://127.0.0.1:{args.mlflow_port}
Ctrl-C stops everything.""", flush=True)  # fmt: skip
            while not stop.wait(1.0):
                for child in children:
                    if not child.alive():
                        print(f"{child.name} exited; its log:\n{child.tail()}", file=sys.stderr)
                        stop.set()
        finally:
            for child in reversed(children):
                child.stop()
            agent.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
