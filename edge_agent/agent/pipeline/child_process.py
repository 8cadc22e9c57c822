"""A worker process of the agent: `python -m <module> ...`, spoken to over its stdin and stdout.

A worker exits when its stdin closes, which also happens when the agent dies (even by `kill -9`), so a
worker never outlives its agent.
"""

from __future__ import annotations

import logging
import os
import selectors
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from edge_agent.agent.pipeline.worker_protocol import read_frame, write_frame

__all__ = ["ChildProcess", "WorkerGone"]

log = logging.getLogger(__name__)

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class WorkerGone(Exception):
    """The worker died or broke the protocol; restart it."""


class ChildProcess:
    def __init__(self, module: str, args: list[str], name: str) -> None:
        self.module = module
        self.args = args
        self.name = name
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout_s: float = 30.0) -> dict[str, Any]:
        """Start the process and wait for its hello."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        process = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self._process = process
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout_s):
                self.stop()
                raise TimeoutError(f"worker {self.name} did not start within {timeout_s} s")
        body = read_frame(process.stdout)
        if body is None:
            code = process.wait()
            self._process = None
            raise RuntimeError(f"worker {self.name} exited with code {code} at start")
        hello: dict[str, Any] = orjson.loads(body)
        return hello

    def call(self, body: bytes, timeout_s: float = 120.0) -> Any:
        """Send one request and wait for its reply (JSON); a worker silent for `timeout_s` counts as gone."""
        return orjson.loads(self.call_raw(body, timeout_s))

    def call_raw(self, body: bytes, timeout_s: float = 120.0) -> bytes:
        """`call`, the reply's bytes as they came."""
        process = self._process
        if process is None or process.stdin is None or process.stdout is None:
            raise WorkerGone(f"worker {self.name} is not running")
        try:
            write_frame(process.stdin, body)
            with selectors.DefaultSelector() as selector:
                selector.register(process.stdout, selectors.EVENT_READ)
                if not selector.select(timeout_s):
                    raise WorkerGone(f"worker {self.name} did not answer within {timeout_s} s")
            reply = read_frame(process.stdout)
        except (OSError, ValueError) as exc:
            raise WorkerGone(f"worker {self.name}: {exc}") from exc
        if reply is None:
            raise WorkerGone(f"worker {self.name} closed its output (exit code {process.poll()})")
        return reply

    def restart(self) -> None:
        self.stop(timeout_s=1.0)
        self.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError as exc:
                    log.debug("closing a pipe of %s: %s", self.name, exc)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
