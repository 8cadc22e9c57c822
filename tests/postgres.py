"""A PostgreSQL server of the test session's own, on a free loopback port, like the Mosquitto fixture.

`initdb` makes a throw-away cluster (trust auth, fsync off: nothing here must survive a crash) and
`postgres` serves it on 127.0.0.1. PostgreSQL refuses to run as root, so under root both run as the
`postgres` account (which Debian's package creates). `make test` installs the server with apt when
`initdb` is absent.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from edge_agent.uns.local_broker import free_port

__all__ = ["PostgresServer", "postgres_bin_dir"]

_ACCOUNT = "postgres"


def postgres_bin_dir() -> Path | None:
    """The folder holding `initdb` and `postgres`: on PATH, or Debian's versioned folder (newest)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_of)
    return Path(versions[-1]).parent if versions else None


def _version_of(initdb: str) -> tuple[int, ...]:
    """(15,) for /usr/lib/postgresql/15/bin/initdb, (9, 6) for .../9.6/..."""
    return tuple(int(part) for part in Path(initdb).parts[-3].split(".") if part.isdigit())


@dataclass
class PostgresServer:
    bin_dir: Path
    port: int = field(default_factory=free_port)
    user: str = _ACCOUNT
    _root: Path | None = None
    _process: subprocess.Popen[bytes] | None = None

    @property
    def connection(self) -> dict[str, Any]:
        """psycopg2.connect keyword arguments (add dbname)."""
        return {"host": "127.0.0.1", "port": self.port, "user": self.user}

    def url(self, database: str) -> str:
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{database}"

    def _as_account(self) -> dict[str, Any]:
        return {"user": _ACCOUNT, "group": _ACCOUNT, "extra_groups": []} if os.geteuid() == 0 else {}

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def start(self, timeout_s: float = 60.0) -> None:
        """Make the cluster and start the server; on any failure, clean up and say why."""
        try:
            self._start(timeout_s)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout_s: float) -> None:
        # /tmp, not pytest's tree: that is 0700 root-only, and the server runs as another account.
        self._root = Path(tempfile.mkdtemp(prefix="mlops-pg-", dir="/tmp" if os.geteuid() == 0 else None))
        data = self._root / "data"
        if os.geteuid() == 0:
            shutil.chown(self._root, _ACCOUNT, _ACCOUNT)
        made = subprocess.run(
            [str(self.bin_dir / "initdb"), "-D", str(data), "-U", self.user, "-A", "trust", "-E", "UTF8",
             "--no-sync", "--no-instructions"],
            capture_output=True, text=True, timeout=timeout_s, **self._as_account(),
        )  # fmt: skip
        if made.returncode != 0:
            raise RuntimeError(f"initdb failed (exit {made.returncode}):\n{made.stdout}{made.stderr}")
        with (self._root / "postgres.log").open("wb") as log:
            # TCP on loopback only: no Unix socket (its path length is limited, and the tests use TCP).
            self._process = subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(data), "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                 "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                 "-c", "max_connections=50"],
                stdout=log, stderr=subprocess.STDOUT, **self._as_account(),
            )  # fmt: skip
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        import psycopg2

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                psycopg2.connect(dbname="postgres", connect_timeout=2, **self.connection).close()
                return
            except psycopg2.OperationalError:
                if self._process is not None and self._process.poll() is not None:
                    raise RuntimeError(f"postgres exited at start:\n{self.log_tail()}") from None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"postgres did not accept connections within {timeout_s} s") from None
                time.sleep(0.05)

    def log_tail(self) -> str:
        if self._root is None or not (self._root / "postgres.log").exists():
            return ""
        return (self._root / "postgres.log").read_text(errors="replace")[-2000:]

    def stop(self, timeout_s: float = 30.0) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)  # "fast" shutdown: roll back, disconnect, stop
            try:
                self._process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)  # a temporary folder: nothing in it matters
            self._root = None
