"""The test PostgreSQL is a server of its own: reachable on its port, gone without a trace after stop."""

from __future__ import annotations

import socket

import psycopg2
import pytest

from tests.postgres import PostgresServer, postgres_bin_dir


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_server_of_its_own_serves_sql_and_leaves_nothing_behind() -> None:
    bin_dir = postgres_bin_dir()
    assert bin_dir is not None, "PostgreSQL is not installed: `make test` installs it"
    server = PostgresServer(bin_dir)
    with server:
        with (
            psycopg2.connect(dbname="postgres", **server.connection) as connection,
            connection.cursor() as cursor,
        ):
            cursor.execute("SELECT current_setting('port')::int, current_setting('fsync')")
            assert cursor.fetchone() == (server.port, "off")
        folder = server._root
        assert folder is not None and (folder / "data" / "PG_VERSION").is_file()
    assert not _listening(server.port)
    assert not folder.exists()


def test_a_server_that_cannot_start_says_why_and_cleans_up() -> None:
    bin_dir = postgres_bin_dir()
    assert bin_dir is not None, "PostgreSQL is not installed: `make test` installs it"
    with socket.socket() as taken:  # the port is in use: the postmaster cannot bind it
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = PostgresServer(bin_dir, port=taken.getsockname()[1])
        with pytest.raises(RuntimeError, match="postgres exited at start"):
            server.start(timeout_s=30)
    assert server._root is None and server._process is None
