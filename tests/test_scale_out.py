"""Many senders on one PostgreSQL: `postroom worker` processes and two schedulers share
an issue, and SIGKILL takes a worker and the active scheduler midway.

Real parts throughout: the throwaway PostgreSQL server (`pg_url`, on either pass of
the suite), real `postroom` processes, aiosmtpd on 127.0.0.1.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from postroom.store import Store
from postroom.store.schema import digest_issues, outbox
from service_support import Service
from smtp_sink import SmtpSink
from sqlalchemy import func, select
from test_service_mail import copies_and_ids, issues, mail_site, offset_to, wait_until

PEOPLE = int(os.environ.get("SCALE_PEOPLE", "20000"))
CONNECTIONS = 2  # per process


@pytest.mark.postgresql
def test_four_workers_and_two_schedulers_reach_everyone_once_through_two_kills(tmp_path, pg_url):
    database = {"POSTROOM_DATABASE_URL": pg_url}
    with SmtpSink() as sink:
        site, people = mail_site(tmp_path, sink, people=PEOPLE, env=database)
        late = offset_to(site, timedelta(hours=1))

        def start(verb: str) -> Service:
            return Service(site.root, clock_offset=late, verb=verb, env=database)

        workers = [start("worker") for _ in range(4)]
        schedulers = [start("run"), start("run")]
        try:
            for s in schedulers:
                s.wait_for(lambda e: e["event"] == "lease")
            [active] = [s for s in schedulers if s.where("lease") and _runs(s)]
            [standby] = [s for s in schedulers if s is not active]
            assert "standby" in str(standby.where("lease"))

            # each waits on the sink's messages as they come, not by polling all 20,000
            sink.wait_until(lambda: sink.sent >= PEOPLE // 4, 240, "too slow to start")
            victim = next(w for w in workers if w.where("send"))  # one that is sending
            victim.kill()
            sink.wait_until(lambda: sink.sent >= PEOPLE // 2, 240, "stalled after a kill")
            active.kill()
            standby.wait_for(lambda e: e["event"] == "lease" and "running" in e["message"], 30)

            sink.wait_until(lambda: sink.reached == PEOPLE, 400, "someone was never sent")
            wait_until(lambda: _unsent(pg_url) == 0, 60, "the ledger never settled")
            survivors = [w for w in workers if w is not victim] + [standby]
            assert Service.terminate_together(survivors) == [0] * len(survivors)
        except BaseException:
            for p in workers + schedulers:
                print("=====", p.process.args[-3:], len(sink.received))
                print("\n".join(str(e) for e in p.events[-15:]))
            raise
        finally:
            for process in workers + schedulers:
                process.__exit__()
        copies, ids = copies_and_ids(sink)

    assert sorted(copies) == people  # everyone
    duplicates = sum(n - 1 for n in copies.values())
    assert duplicates <= 2 * CONNECTIONS  # only what the two killed processes had in flight
    assert all(len(message_ids) == 1 for message_ids in ids.values())  # same Message-ID
    [issue] = issues(site, late, env=database)  # one issue, made once
    assert (issue["sent"], issue["queued"], issue["failed"]) == (PEOPLE, 0, 0)
    store = Store(pg_url)
    try:
        with store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(digest_issues)).scalar() == 1
            senders = conn.execute(select(outbox.c.claimed_by).distinct()).scalars().all()
    finally:
        store.close()
    assert len(senders) >= 5  # the load was shared: the workers and a scheduler sent


def _runs(service: Service) -> bool:
    return any("running" in e["message"] for e in service.where("lease"))


def _unsent(pg_url: str) -> int:
    store = Store(pg_url)
    try:
        with store.engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(outbox).where(outbox.c.state != "sent")
            ).scalar()
    finally:
        store.close()
