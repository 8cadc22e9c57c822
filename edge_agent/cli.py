"""`edge-agent`: run the edge agent, or check a configuration.

    edge-agent run --config edge.yaml        # also: python -m edge_agent run --config edge.yaml
    edge-agent check-config --config edge.yaml

Exit codes: 0 after a clean stop (SIGTERM, SIGINT), 1 after a fatal error or a failed start (which has
touched nothing), 2 for a bad setting (named; secrets only from the environment).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import orjson
from pydantic import ValidationError

if TYPE_CHECKING:
    from edge_agent.agent.settings import EdgeSettings

__all__ = ["main"]

EXIT_CONFIG = 2


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(settings)"
        lines.append(f"  {field}: {item['msg']} (got {item.get('input')!r})")
    return "\n".join(lines)


def _settings(config: Path | None) -> EdgeSettings:
    from edge_agent.agent.settings import load_settings

    try:
        return load_settings(config)
    except ValidationError as exc:
        sys.stderr.write(
            f"edge-agent: invalid configuration ({exc.error_count()} errors):\n{_describe(exc)}\n"
        )
    except ValueError as exc:
        sys.stderr.write(f"edge-agent: invalid configuration: {exc}\n")
    raise SystemExit(EXIT_CONFIG)


def _run(config: Path | None) -> int:
    from edge_agent.agent.app import EdgeAgent
    from edge_agent.agent.logs import configure_logging

    settings = _settings(config)
    configure_logging(settings.log)
    try:
        agent = EdgeAgent(settings)
    except (OSError, ValueError, RuntimeError) as exc:
        sys.stderr.write(f"edge-agent: cannot start: {exc}\n")
        return EXIT_CONFIG

    def request_stop(signum: int, frame: FrameType | None) -> None:
        agent.stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        agent.start()  # a failed start stops what it started and releases the spool itself
    except Exception as exc:
        sys.stderr.write(f"edge-agent: cannot start: {exc}\n")
        return 1
    agent.stop_requested.wait()
    return agent.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="edge-agent", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the agent until SIGTERM/SIGINT")
    run.add_argument("--config", type=Path, default=None, help="YAML settings (EDGE_... env vars override)")
    check = commands.add_parser("check-config", help="validate the settings and print them, secrets masked")
    check.add_argument("--config", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.command == "check-config":
        settings = _settings(args.config)
        sys.stdout.write(orjson.dumps(settings.redacted(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    return _run(args.config)


if __name__ == "__main__":
    raise SystemExit(main())
