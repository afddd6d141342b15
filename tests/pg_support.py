"""PostgreSQL for the tests: a fresh database per test on the throwaway server that
`make test` starts (tests/pg/server), named by $POSTROOM_TEST_PG.

With POSTROOM_TEST_STORE=postgresql every test's site uses such a database (the
suite's second pass); tests that need PostgreSQL whatever the pass (many senders,
the advisory lock) ask for `pg_url`. Either fails, never skips, without a server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

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


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new empty database on the test server, dropped afterwards; yields its URL."""
    server = _server()
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        # FILE_COPY (PostgreSQL 15+): copies template1's files and checkpoints, half the
        # time of the default WAL_LOG, which writes every page of it to the WAL
        admin.execute(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
