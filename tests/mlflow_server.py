"""A real MLflow tracking server as production runs it: PostgreSQL backend store, artefacts proxied to S3."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from edge_agent.uns.local_broker import free_port
from tests.postgres import PostgresServer
from tests.s3 import MotoS3


@contextmanager
def mlflow_server(
    postgres: PostgresServer, database: str, s3: MotoS3, bucket: str, timeout_s: float = 90.0
) -> Iterator[str]:
    """Yields the server's URL once `/health` answers; stops it afterwards."""
    port = free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    env = {**os.environ, **s3.env, "MLFLOW_S3_ENDPOINT_URL": s3.endpoint_url}
    command = [
        str(mlflow), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", postgres.url(database),
        "--artifacts-destination", f"s3://{bucket}/mlflow",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode(errors="replace") if process.stdout else ""
                    raise RuntimeError(f"mlflow server did not come up:\n{output[-3000:]}") from None
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(0.25)  # a pause that ends at once if the server dies
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
