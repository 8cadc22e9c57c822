"""A local MQTT broker for tests, the demo and development.

Mosquitto when it is installed (MQTT 5 and 3.1.1, persistence, restarts on the same port); otherwise
an embedded Python broker (amqtt, MQTT 3.1.1 only) in a background thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal

__all__ = ["LocalBroker", "free_port", "mosquitto_path"]

log = logging.getLogger(__name__)

BrokerKind = Literal["auto", "mosquitto", "amqtt"]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mosquitto_path() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None
    )


def _wait_listening(port: int, timeout_s: float, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"broker exited before listening on port {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"broker did not listen on port {port} within {timeout_s} s")


class LocalBroker:
    """Start, stop, restart or kill a broker bound to 127.0.0.1 on its own port and data directory.

    `config` replaces the generated Mosquitto configuration (its listener must use `port`), for tests of
    a production configuration; logging to `broker.log` is added either way.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        kind: BrokerKind = "auto",
        persistence: bool = True,
        max_queued_messages: int = 1_000_000,
        config: Sequence[str] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.port = port or free_port()
        mosquitto = mosquitto_path()
        if kind == "mosquitto" and mosquitto is None:
            raise RuntimeError("mosquitto is not installed (apt-get install -y mosquitto)")
        self.kind: Literal["mosquitto", "amqtt"] = "mosquitto" if kind != "amqtt" and mosquitto else "amqtt"
        self._mosquitto = mosquitto
        self.persistence = persistence
        self.max_queued_messages = max_queued_messages
        self.config = list(config) if config is not None else None
        if self.config is not None and self.kind != "mosquitto":
            raise RuntimeError("a Mosquitto configuration needs mosquitto installed")
        self._process: subprocess.Popen[bytes] | None = None
        self._amqtt_thread: threading.Thread | None = None
        self._amqtt_stop: asyncio.Event | None = None
        self._amqtt_loop: asyncio.AbstractEventLoop | None = None
        self._amqtt_error: BaseException | None = None

    @property
    def protocols(self) -> tuple[str, ...]:
        return ("5", "3.1.1") if self.kind == "mosquitto" else ("3.1.1",)

    @property
    def log_file(self) -> Path:
        return self.workdir / "broker.log"

    def __enter__(self) -> LocalBroker:
        self.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def start(self, timeout_s: float = 15.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.kind == "mosquitto":
            self._start_mosquitto(timeout_s)
        else:
            self._start_amqtt(timeout_s)
        log.info("%s broker listening on 127.0.0.1:%d", self.kind, self.port)

    def _start_mosquitto(self, timeout_s: float) -> None:
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        lines = self.config or [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {data}/",
            f"max_queued_messages {self.max_queued_messages}",
            "set_tcp_nodelay true",
            "max_inflight_messages 0",
        ]
        lines = [
            *lines,
            "log_type error",
            "log_type warning",
            "log_type notice",
            f"log_dest file {self.log_file}",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # otherwise it drops to 'mosquitto', who cannot read our workdir
        conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        assert self._mosquitto is not None
        self._process = subprocess.Popen(
            [self._mosquitto, "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        process = self._process
        try:
            _wait_listening(self.port, timeout_s, lambda: process.poll() is None)
        except Exception:
            err = (
                process.stderr.read().decode(errors="replace")
                if process.poll() is not None and process.stderr
                else ""
            )
            self.kill()
            raise RuntimeError(f"mosquitto failed to start on port {self.port}: {err.strip()}") from None

    def _start_amqtt(self, timeout_s: float) -> None:
        ready = threading.Event()

        async def serve() -> None:
            from amqtt.broker import Broker

            self._amqtt_loop = asyncio.get_running_loop()
            self._amqtt_stop = asyncio.Event()
            broker = Broker({"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}}})
            await broker.start()
            ready.set()
            await self._amqtt_stop.wait()
            await broker.shutdown()

        def run() -> None:
            try:
                asyncio.run(serve())
            except BaseException as exc:
                self._amqtt_error = exc
                log.exception("embedded broker failed")
            finally:
                ready.set()

        self._amqtt_thread = threading.Thread(target=run, name="amqtt-broker", daemon=True)
        self._amqtt_thread.start()
        if not ready.wait(timeout_s) or self._amqtt_error is not None:
            raise RuntimeError(f"embedded broker failed to start: {self._amqtt_error!r}")
        # broker.start() returned, so the listener is bound; probing it would only make amqtt log errors.

    def stop(self, timeout_s: float = 10.0) -> None:
        """Orderly shutdown (Mosquitto saves its persistent sessions)."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.send_signal(signal.SIGTERM)
                try:
                    self._process.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
            if self._process.stderr:
                self._process.stderr.close()
            self._process = None
        if self._amqtt_thread is not None:
            loop, stop = self._amqtt_loop, self._amqtt_stop
            if loop is not None and stop is not None and not loop.is_closed():
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(stop.set)
            self._amqtt_thread.join(timeout_s)
            self._amqtt_thread = None

    def kill(self) -> None:
        """Abrupt death (SIGKILL); persistent state is what was last saved."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait()
            if self._process.stderr:
                self._process.stderr.close()
            self._process = None
        else:
            self.stop()

    def restart(self, timeout_s: float = 15.0) -> None:
        self.stop()
        self.start(timeout_s)

    @property
    def running(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None
        return self._amqtt_thread is not None and self._amqtt_thread.is_alive()
