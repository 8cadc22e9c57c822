"""Shared fixtures: real MQTT brokers and a real PostgreSQL on free loopback ports, S3 through moto."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.contract import Contract, ContractValidator, load_contract
from edge_agent.domain.flash_butt import default_flash_butt_dir
from edge_agent.uns.endpoint import MqttEndpoint
from edge_agent.uns.local_broker import LocalBroker, mosquitto_path
from tests.postgres import PostgresServer, postgres_bin_dir
from tests.s3 import MotoS3


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


@pytest.fixture(scope="session")
def contract() -> Contract:
    return load_contract()


@pytest.fixture(scope="session")
def contract_validator(contract: Contract) -> ContractValidator:
    return ContractValidator(contract)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this session's own, on a free loopback port (trust auth)."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.fail("PostgreSQL is not installed: `make test` installs it (apt-get install -y postgresql)")
    with PostgresServer(bin_dir) as server:
        yield server


@pytest.fixture
def postgres_database(postgres: PostgresServer) -> Iterator[str]:
    """A database of this test's own on the session's PostgreSQL, dropped afterwards."""
    import psycopg2

    admin = psycopg2.connect(dbname="postgres", **postgres.connection)
    admin.autocommit = True
    name = f"mlops_test_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()


def _require_mosquitto() -> None:
    if mosquitto_path() is None:
        pytest.fail("mosquitto is not installed: `make test` installs it (apt-get install -y mosquitto)")


@pytest.fixture
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    """A Mosquitto of this test's own, on a free port, with persistence (it survives `restart()`)."""
    _require_mosquitto()
    with LocalBroker(tmp_path_factory.mktemp("mosquitto"), kind="mosquitto") as running:
        yield running


@pytest.fixture
def endpoint(broker: LocalBroker) -> MqttEndpoint:
    return MqttEndpoint(port=broker.port)


@pytest.fixture
def flash_butt_dir() -> Path:
    root = default_flash_butt_dir()
    if not (root / "good").is_dir():
        pytest.skip(f"flash-butt welding data is absent (expected {root}; set UNS_SHARED_DATA to its parent)")
    return root


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoS3]:
    """moto in server mode on a free loopback port; the AWS_* variables point at it for this test."""
    server = MotoS3()
    server.start()
    for key, value in server.env.items():
        monkeypatch.setenv(key, value)
    try:
        yield server
    finally:
        server.stop()
