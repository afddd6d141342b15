"""PostgreSQL for the tests: a fresh database per test on the throwaway server that
`make test` starts (tests/pg/server), named by $POSTROOM_TEST_PG.

With POSTROOM_TEST_STORE=postgresql every test's site uses such a database (the
suite's second pass); tests that need PostgreSQL whatever the pass (many senders,
the advisory lock) ask for `pg_url`. Either fails, never skips, without a server.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import pq

SERVER_ENV = "POSTROOM_TEST_PG"  # postgresql://postgres@127.0.0.1:PORT/
PASS_ENV = "POSTROOM_TEST_STORE"  # "postgresql": the whole suite on PostgreSQL


def on_postgresql() -> bool:
    return os.environ.get(PASS_ENV, "") == "postgresql"


def _server() -> str:
    server = os.environ.get(SERVER_ENV, "").strip()
    if not server:
        pytest.fail(
            f"${SERVER_ENV} is not set: this test needs PostgreSQL. `make test` starts a"
            " throwaway server (tests/pg/server) and sets it",
            pytrace=False,
        )
    return server.rstrip("/")


class _Databases:
    """Makes tests' databases before they ask, and drops them after, while tests run:
    the server does the work on connections of its own, and a test waits only when the
    database it asks for is not made yet.

    A CREATE DATABASE with its checkpoint and a DROP take 0.1-0.2 s of the server's
    time on a loaded machine, and the PostgreSQL pass asks for over six hundred. Each
    database is still new and empty when a test gets it (made from template1, as
    before), and no two tests share one. No thread: each statement is sent on a libpq
    connection of its own and its result read when that connection is needed again;
    AHEAD statements of each kind at once, so that tests quicker than a CREATE still
    find theirs made."""

    AHEAD = 2

    def __init__(self, server: str) -> None:
        self.server = server
        self._making: deque[tuple[pq.PGconn, str]] = deque()  # statements under way, oldest first
        self._dropping: deque[tuple[pq.PGconn, str]] = deque()
        self._idle: list[pq.PGconn] = []  # connections with nothing under way

    def _connection(self) -> pq.PGconn:
        if self._idle:
            return self._idle.pop()
        conn = pq.PGconn.connect(f"{self.server}/postgres".encode())
        if conn.status != pq.ConnStatus.OK:
            message = conn.get_error_message()
            conn.finish()
            raise psycopg.OperationalError(f"{self.server}: {message}")
        return conn

    def _send(self, under_way: deque, name: str, sql: str) -> None:
        conn = self._connection()
        conn.send_query(sql.encode())
        under_way.append((conn, name))

    def _finish_oldest(self, under_way: deque, what: str) -> str:
        """Wait for the oldest statement of `under_way` to end (without holding the GIL),
        raise if it failed; the name it was about."""
        conn, name = under_way.popleft()
        while True:
            conn.consume_input()
            if not conn.is_busy():
                break
            select.select([conn.socket], [], [])
        failed = None
        while (result := conn.get_result()) is not None:
            if result.status != pq.ExecStatus.COMMAND_OK:
                failed = result.get_error_message() or conn.get_error_message()
        self._idle.append(conn)
        if failed:
            raise psycopg.OperationalError(f"{what} {name}: {failed}")
        return name

    def _make_ahead(self) -> None:
        while len(self._making) < self.AHEAD:
            name = f"t_{uuid.uuid4().hex[:16]}"
            # FILE_COPY (PostgreSQL 15+): copies template1's files and checkpoints, half
            # the time of the default WAL_LOG, which writes every page of it to the WAL
            self._send(self._making, name, f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')

    def take(self) -> str:
        """The name of a new empty database; the making of the next ones started."""
        self._make_ahead()
        name = self._finish_oldest(self._making, "CREATE DATABASE")
        self._make_ahead()
        return name

    def drop(self, name: str) -> None:
        """Start dropping `name`; the oldest drop under way waited for if AHEAD are."""
        if len(self._dropping) >= self.AHEAD:
            self._finish_oldest(self._dropping, "DROP DATABASE")
        self._send(self._dropping, name, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        """At exit: the databases made for no test dropped, every drop finished."""
        while self._making:
            with contextlib.suppress(psycopg.Error):
                self.drop(self._finish_oldest(self._making, "CREATE DATABASE"))
        while self._dropping:
            with contextlib.suppress(psycopg.Error):
                self._finish_oldest(self._dropping, "DROP DATABASE")
        for conn in self._idle:
            conn.finish()
        self._idle = []


_databases: dict[str, _Databases] = {}


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new empty database on the test server, dropped afterwards; yields its URL."""
    server = _server()
    if server not in _databases:
        _databases[server] = _Databases(server)
        atexit.register(_databases[server].close)
    databases = _databases[server]
    name = databases.take()
    try:
        yield f"{server}/{name}"
    finally:
        databases.drop(name)
