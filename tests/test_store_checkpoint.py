"""An intake's WAL is copied back to a SQLite database by a checkpoint beside the caller
(`Store.intake`), not inside the scan's commit: the WAL stays bounded however many scans
one Store makes, readers keep a consistent view, and the pooled connections keep SQLite's
automatic checkpoint."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest
from postroom.content.intake import scan
from postroom.store import Store
from postroom.store.database import _BIG_INTAKE, _INTAKE_CACHE_KIB
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError
from support import make_site, write

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def _post(n: int, round_: int) -> str:
    # ~40 KB a post, all of it new each round: a round's WAL is mostly its posts' text
    words = " ".join(f"w{round_}x{n}x{i}" for i in range(4000))
    return f"---\ntitle: Post {n}\ndate: 2021-07-23\n---\n{words}\n"


def _round(site, round_: int) -> None:
    for n in range(20):
        write(site.content_dir / f"p{n}.md", _post(n, round_))


@pytest.mark.once  # SQLite's WAL
def test_the_wal_stays_bounded_over_many_scans_of_one_store(tmp_path, monkeypatch):
    site = make_site(tmp_path)
    wal = tmp_path / "postroom.db-wal"
    store = Store(site.store_url)
    # the bound without the file cut after each checkpoint (tested below): each scan's
    # checkpoint lets the next write start the WAL again from its beginning
    monkeypatch.setattr(store, "_truncated", lambda driver: None)
    try:
        _round(site, 0)
        scan(site, store, T0)
        one_scan = wal.stat().st_size
        assert one_scan > 1_000_000  # the scan's rows went through the WAL
        for round_ in range(1, 12):
            _round(site, round_)
            report = scan(site, store, T0 + timedelta(minutes=round_))
            assert len(report.updated) == 20
        # each scan's checkpoint let the next write start the WAL again: without it,
        # eleven more scans' rows (~11 x one_scan) would be in it
        assert wal.stat().st_size < 3 * one_scan
    finally:
        store.close()
    assert not wal.exists()  # the close copied back what was left


@pytest.mark.once  # SQLite's WAL
def test_a_reader_keeps_its_view_while_the_scan_is_copied_back(tmp_path):
    site = make_site(tmp_path)
    _round(site, 0)
    store = Store(site.store_url)
    reader = sqlite3.connect(tmp_path / "postroom.db", isolation_level=None)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM posts").fetchone() == (0,)
        scan(site, store, T0)
        store._checkpointed()  # the checkpoint has run, beside an open read
        assert reader.execute("SELECT count(*) FROM posts").fetchone() == (0,)
        reader.execute("COMMIT")
        assert reader.execute("SELECT count(*) FROM posts").fetchone() == (20,)
        assert reader.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        reader.close()
        store.close()


@pytest.mark.once  # SQLite's WAL
def test_the_wal_file_is_cut_to_nothing_beside_the_caller_once_copied_back(tmp_path):
    """A cold scan leaves ~100 MB in the WAL: its file is cut by the checkpoint's thread,
    not deleted by the close (~50-70 ms at the end of a `run --once`)."""
    site = make_site(tmp_path)
    _round(site, 0)
    wal = tmp_path / "postroom.db-wal"
    store = Store(site.store_url)
    try:
        scan(site, store, T0)
        thread = store._checkpoint
        assert thread is not None
        thread.join(10)  # left to end by itself: nothing held it back
        assert wal.stat().st_size == 0
        assert len(store.heads()) == 20
        assert set(_pooled_pragma(store)) == {1000}
        with store.engine.connect() as conn:  # back in the pool with its busy timeout
            assert {conn.exec_driver_sql("PRAGMA busy_timeout").scalar()} == {10_000}
    finally:
        store.close()
    assert not wal.exists()


@pytest.mark.once  # SQLite's WAL
def test_a_reader_of_the_wal_holds_the_cut_back_but_never_a_writer_nor_the_close(tmp_path):
    """While a reader reads from the WAL (a build's worker), the file cannot be cut: it is
    tried again, never waited for with the write lock held, so writes go on at once; the
    close stops the tries and deletes the file as before."""
    site = make_site(tmp_path)
    _round(site, 0)
    wal = tmp_path / "postroom.db-wal"
    store = Store(site.store_url)
    reader = sqlite3.connect(tmp_path / "postroom.db", isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM posts").fetchone()  # a snapshot before the scan
        scan(site, store, T0)
        thread = store._checkpoint
        assert thread is not None
        assert not _ended(thread, 0.2)  # still trying
        assert wal.stat().st_size > 0
        writer = sqlite3.connect(tmp_path / "postroom.db", isolation_level=None, timeout=0)
        writer.execute("UPDATE posts SET title = title")  # not locked out
        writer.close()
        reader.execute("COMMIT")
        reader.close()
        store.close()  # the tries stopped, the WAL copied back and deleted
        assert not thread.is_alive()
        assert not wal.exists()
    finally:
        reader.close()
        store.close()


def _ended(thread: threading.Thread, seconds: float) -> bool:
    thread.join(seconds)
    return not thread.is_alive()


def _pooled_pragma(store: Store, pragma: str = "wal_autocheckpoint") -> list[int]:
    """SQLite's automatic checkpoint setting (or another `pragma`'s) of each connection in
    the store's pool."""
    pooled = [store.engine.connect() for _ in range(store.engine.pool.checkedin())]
    try:
        return [conn.exec_driver_sql(f"PRAGMA {pragma}").scalar() for conn in pooled]
    finally:
        for conn in pooled:
            conn.close()


@pytest.mark.once  # SQLite's WAL
def test_the_intake_connection_gets_back_the_automatic_checkpoint(tmp_path):
    site = make_site(tmp_path)
    _round(site, 0)
    store = Store(site.store_url)
    try:
        scan(site, store, T0)
        store._checkpointed()
        every = _pooled_pragma(store)
        assert every and set(every) == {1000}
    finally:
        store.close()


@pytest.mark.once  # SQLite's page cache
def test_a_big_intake_has_a_larger_page_cache_and_its_connection_gets_back_the_default(
    tmp_path,
):
    """`_INTAKE_CACHE_KIB` for a big intake's transaction (fewer WAL frames overwritten,
    so a shorter COMMIT), then SQLite's default again: no pooled connection keeps the
    memory. A scan reading a few files keeps the default (a full scan of a big site with
    one new post: 22 MB more at its peak with it)."""
    site = make_site(tmp_path)
    store = Store(site.store_url)
    try:
        default = _pooled_pragma(store, "cache_size")
        assert default and set(default) == {-2000}
        seen = []
        for reads in (_BIG_INTAKE, _BIG_INTAKE - 1, 0):
            with store.intake(reads=reads) as session:
                seen.append(session.conn.exec_driver_sql("PRAGMA cache_size").scalar())
            store._checkpointed()
            assert set(_pooled_pragma(store, "cache_size")) == {-2000}
        assert seen == [-_INTAKE_CACHE_KIB, -2000, -2000]
    finally:
        store.close()


@pytest.mark.once  # SQLite's WAL
def test_a_failed_intake_leaves_the_automatic_checkpoint_and_starts_no_copy(tmp_path):
    site = make_site(tmp_path)
    store = Store(site.store_url)
    try:
        with pytest.raises(RuntimeError), store.intake():
            raise RuntimeError("a scan's bug")
        assert store._checkpoint is None
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    finally:
        store.close()


@pytest.mark.once  # SQLite's WAL
def test_a_connection_that_cannot_get_the_automatic_checkpoint_back_leaves_the_pool(
    tmp_path, monkeypatch
):
    site = make_site(tmp_path)
    store = Store(site.store_url)
    real = Connection.exec_driver_sql

    def refusing(self, statement, *args, **kwargs):
        if statement == "PRAGMA wal_autocheckpoint=1000":
            raise OperationalError(statement, {}, sqlite3.OperationalError("disk I/O error"))
        return real(self, statement, *args, **kwargs)

    try:
        monkeypatch.setattr(Connection, "exec_driver_sql", refusing)
        with store.intake():
            pass
        monkeypatch.undo()
        store._checkpointed()
        assert set(_pooled_pragma(store)) <= {1000}
    finally:
        store.close()


@pytest.mark.once  # SQLite's WAL
def test_the_intake_returns_once_its_checkpoint_has_begun(tmp_path, monkeypatch):
    """The caller's next commit (a `run --once` records the scan at once) must find the
    checkpoint under way, not copy the whole WAL back itself: the intake waits for the
    checkpoint's thread to say it has begun, however late that is."""
    site = make_site(tmp_path)
    store = Store(site.store_url)
    started, go = threading.Event(), threading.Event()

    def copy_back(begun: threading.Event) -> None:
        started.set()
        go.wait(10)  # the checkpoint thread is slow to reach SQLite
        begun.set()

    monkeypatch.setattr(store, "_copy_back", copy_back)
    returned = threading.Event()

    def intake() -> None:
        with store.intake():
            pass
        returned.set()

    caller = threading.Thread(target=intake)
    try:
        caller.start()
        assert started.wait(10)
        # the checkpoint has not begun: the intake must still be waiting for it
        assert not returned.wait(0.2)
        go.set()
        assert returned.wait(10)
    finally:
        go.set()
        caller.join(10)
        store.close()


@pytest.mark.once  # SQLite's WAL
def test_a_checkpoint_that_fails_loses_nothing_and_holds_up_nothing(tmp_path, monkeypatch):
    site = make_site(tmp_path)
    _round(site, 0)
    store = Store(site.store_url)
    try:
        scan(site, store, T0)
        store._checkpointed()

        def refused(*args, **kwargs):
            raise OperationalError("PRAGMA", {}, sqlite3.OperationalError("disk I/O error"))

        begun = threading.Event()
        monkeypatch.setattr(store.engine, "connect", refused)
        store._copy_back(begun)  # not raised: the WAL still holds it all
        assert begun.is_set()  # the intake waiting for it goes on
    finally:
        monkeypatch.undo()
        store.close()


@pytest.mark.once  # SQLite's WAL
def test_a_scan_is_saved_when_no_thread_can_be_started_for_its_checkpoint(tmp_path, monkeypatch):
    """The thread is started after the scan's commit: failing to start one (a process at
    its thread limit) must not report a saved scan as failed."""
    site = make_site(tmp_path)
    _round(site, 0)
    store = Store(site.store_url)

    def no_thread(self):
        raise RuntimeError("can't start new thread")

    try:
        monkeypatch.setattr(threading.Thread, "start", no_thread)
        report = scan(site, store, T0)
        monkeypatch.undo()
        assert len(report.new) == 20
        assert store._checkpoint is None
        assert len(store.heads()) == 20
    finally:
        monkeypatch.undo()
        store.close()


@pytest.mark.postgresql
def test_on_postgresql_an_intake_is_one_transaction_as_before(pg_url):
    store = Store(pg_url)
    try:
        with store.intake():
            pass
        assert store._checkpoint is None  # no WAL file to copy back
    finally:
        store.close()
