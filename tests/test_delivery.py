"""Delivering digests to a real SMTP server (aiosmtpd on 127.0.0.1) from a real SQLite store."""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import dkim
import pytest
from aiosmtpd.smtp import AuthResult
from postroom.content.intake import scan
from postroom.core.model import Cadence
from postroom.core.selection import Selection
from postroom.emails.delivery import RateLimit
from postroom.emails.issues import create_issue
from postroom.emails.message import IssueMessage, Recipient
from postroom.emails.sending import send_unfinished
from postroom.emails.tokens import Purpose, read_token
from postroom.scheduler import main
from postroom.service.jobs import publish
from postroom.store import Store
from postroom.store.outbox import Outbox, State
from postroom.store.subscribers import Status, SubscriberList
from smtp_sink import Script, SmtpSink
from sqlalchemy.exc import OperationalError
from support import dkim_key as make_dkim_key
from support import make_site, self_signed, write

SECRET = "test-secret-that-is-long-enough"
SITE = (
    '[site]\nbase_url = "https://notes.example.org/"\ntitle = "Practice Notes"\n'
    '[curator]\nemail = "curator@notes.example.org"\n'
)
POST = """---
title: {title}
date: 2016-06-23
author: Mark Rogers
author_role: chief executive, Solihull MBC
source: Community Care
source_url: https://www.communitycare.co.uk/{slug}
---
Body of {title}.
"""
TITLES = ["Thresholds are not a wall", "What duty teams know", "Caseloads, again"]
PEOPLE = ["ann@example.org", "bob@example.org", "cat@example.org"]


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("POSTROOM_SECRET", SECRET)


def digest_site(
    tmp_path: Path, sink: SmtpSink | None, extra: str = "", people=PEOPLE, retry_after: int = 60
):
    config = SITE + (sink.config(retry_after=retry_after) if sink else "") + extra
    site = make_site(tmp_path / "site", config=config)
    for n, title in enumerate(TITLES):
        write(site.content_dir / f"p{n}.md", POST.format(title=title, slug=f"p{n}"))
    store = Store(site.store_url)
    book = SubscriberList(store)
    for address in people:
        book.add(address, name=address.split("@")[0].title())
    store.close()
    return site


def status(site, capsys) -> dict:
    capsys.readouterr()
    assert main(["--site", str(site.root), "digest", "status", "--json"]) == 0
    return json.loads(capsys.readouterr().out)[-1]


def test_every_subscriber_gets_one_complete_message(tmp_path, capsys):
    with SmtpSink() as sink:
        site = digest_site(tmp_path, sink)
        assert main(["--site", str(site.root), "digest", "send"]) == 0
        assert main(["--site", str(site.root), "digest", "send"]) == 0  # nothing new: no issue
        received = sink.received
    store = Store(site.store_url)
    address_of = {s.id: s.address for s in SubscriberList(store).all()}.get
    store.close()
    assert sorted(r.recipient for r in received) == PEOPLE
    page = (site.public_dir / "digests" / "1" / "index.html").read_text()  # "view in browser"
    assert TITLES[0] in page and "%%" not in page
    ids = set()
    for r in received:
        msg = r.message
        assert msg["To"].addresses[0].addr_spec == r.recipient
        assert str(msg["From"]) == "Practice Notes <digest@notes.example.org>"
        assert msg["Reply-To"] == "curator@notes.example.org"
        assert msg["Subject"] in {f"{title} + 2 more" for title in TITLES}
        assert parsedate_to_datetime(msg["Date"]).tzinfo is not None
        assert msg["List-Id"] == "Practice Notes <digest.notes.example.org>"
        assert msg["List-Archive"] == "<https://notes.example.org/digests/>"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        https, mailto = re.findall(r"<([^>]+)>", msg["List-Unsubscribe"])
        assert https.startswith("https://notes.example.org/unsubscribe?token=")
        assert mailto.startswith("mailto:digest@notes.example.org?subject=unsubscribe")
        assert msg.get_content_type() == "multipart/alternative"
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        for title in TITLES:
            assert title in text and title in html
        assert text.count("By Mark Rogers, chief executive, Solihull MBC") == 3
        assert text.count("First published in Community Care on 23 June 2016") == 3
        assert 'href="https://www.communitycare.co.uk/p0"' in html
        assert "%%" not in text + html
        assert f"because {r.recipient} is subscribed" in text
        token = https.partition("token=")[2]
        assert token in text and token in html
        holder = read_token(SECRET.encode(), token, Purpose.UNSUBSCRIBE, address_of)
        assert holder.address == r.recipient
        assert max(len(line) for line in r.data.split(b"\r\n")) <= 998
        assert r.data.isascii()  # quoted-printable: no 8BITMIME needed
        ids.add(msg["Message-ID"])
    assert len(ids) == 3
    row = status(site, capsys)
    assert (row["sent"], row["queued"], row["failed"], row["posts"]) == (3, 0, 0, 3)


def test_message_ids_and_bytes_are_the_same_on_every_attempt(tmp_path):
    site = digest_site(tmp_path, None)
    store = Store(site.store_url)
    try:
        scan(site, store)
        now = datetime.now(UTC)
        issue = create_issue(site, store, now, now)
        one = IssueMessage(site, issue, SECRET.encode())
        two = IssueMessage(site, issue, SECRET.encode())
        ann, bob = Recipient(1, PEOPLE[0], "Ann"), Recipient(2, PEOPLE[1])
        assert one.for_recipient(ann) == two.for_recipient(ann)
        assert one.message_id(ann) != one.message_id(bob)
    finally:
        store.close()


def test_a_hostile_title_and_name_cannot_add_headers(tmp_path):
    site = digest_site(tmp_path, None, people=[])
    hostile = '"Hi\\r\\nBcc: evil@example.com"'  # YAML turns the escapes into CR LF
    write(site.content_dir / "p0.md", POST.format(title=hostile, slug="x"))
    for other in ("p1.md", "p2.md"):  # the hostile post leads the issue and its subject
        (site.content_dir / other).unlink()
    store = Store(site.store_url)
    try:
        SubscriberList(store).add("ann@example.org", name="Ann\r\nBcc: evil@example.com")
        scan(site, store)
        now = datetime.now(UTC)
        issue = create_issue(site, store, now, now)
        recipient = Recipient(1, "ann@example.org", "Ann\r\nBcc: evil@example.com")
        envelope = IssueMessage(site, issue, SECRET.encode()).for_recipient(recipient)
    finally:
        store.close()
    assert "Bcc: evil" in issue.subject and "\n" not in issue.subject
    head = envelope.data.partition(b"\r\n\r\n")[0]
    assert not re.search(rb"^bcc:", head, re.I | re.M)
    assert all(line[:1] in b" \t" or b":" in line for line in head.split(b"\r\n"))


def test_temporary_failure_is_retried_and_sent_once(tmp_path, capsys):
    with SmtpSink(Script(defer_once={"bob@example.org"})) as sink:
        site = digest_site(tmp_path, sink)
        assert main(["--site", str(site.root), "digest", "send"]) == 0
        row = status(site, capsys)
        assert (row["sent"], row["deferred"]) == (2, 1)
        assert row["next_retry"]
        store = Store(site.store_url)
        try:  # before the retry time nothing is due (no connection is opened); after it, it is
            assert send_unfinished(site, store, SECRET.encode()) == []
            later = datetime.now(UTC) + timedelta(minutes=2)
            [report] = send_unfinished(site, store, SECRET.encode(), clock=lambda: later)
        finally:
            store.close()
        assert report.sent == 1
        assert sink.counts() == {address: 1 for address in PEOPLE}
    row = status(site, capsys)
    assert (row["sent"], row["deferred"], row["queued"]) == (3, 0, 0)


def test_permanent_failure_bounces_the_subscriber_and_the_issue_completes(tmp_path, capsys):
    with SmtpSink(Script(refuse={"bob@example.org"})) as sink:
        site = digest_site(tmp_path, sink)
        assert main(["--site", str(site.root), "digest", "send"]) == 0
        assert sorted(sink.counts()) == ["ann@example.org", "cat@example.org"]
    row = status(site, capsys)
    assert (row["sent"], row["failed"], row["queued"], row["deferred"]) == (2, 1, 0, 0)
    store = Store(site.store_url)
    try:
        states = {s.address: s.status for s in SubscriberList(store).all()}
    finally:
        store.close()
    assert states["bob@example.org"] is Status.BOUNCED
    assert states["ann@example.org"] is Status.ACTIVE


def test_a_dropped_connection_is_reconnected_without_loss_or_duplicate(tmp_path):
    people = [f"reader{n}@example.org" for n in range(12)]
    with SmtpSink(Script(drop_at={4, 9})) as sink:
        site = digest_site(tmp_path, sink, people=people)
        assert main(["--site", str(site.root), "digest", "send"]) == 0
        assert sink.counts() == {address: 1 for address in people}


def test_a_message_the_server_took_is_not_mailed_again_when_the_database_balks(
    tmp_path, monkeypatch, capsys
):
    """The database refuses to mark the first accepted message sent (a lock, a restart):
    it is asked again, and the row is not handed back to go out a second time."""
    refusals = []
    mark = Outbox.sent

    def balking(self, claim, reply, now):
        if not refusals:
            refusals.append(claim.address)
            raise OperationalError("UPDATE outbox", {}, Exception("database is locked"))
        return mark(self, claim, reply, now)

    monkeypatch.setattr(Outbox, "sent", balking)
    with SmtpSink() as sink:
        site = digest_site(tmp_path, sink)
        assert main(["--site", str(site.root), "digest", "send"]) == 0
        assert sink.counts() == {address: 1 for address in PEOPLE}
    assert len(refusals) == 1
    row = status(site, capsys)
    assert (row["sent"], row["queued"]) == (len(PEOPLE), 0)


def test_a_4xx_every_time_is_retried_on_a_doubling_backoff_then_failed_at_max_attempts(
    tmp_path, capsys
):
    """A recipient whose server says 451 every time: the first retry waits
    `mail.retry_after` (10 h here), each later one twice the last, never more than a day;
    the row is due exactly then and not a second sooner. After `mail.max_attempts` (5)
    tries it is failed, and never tried again; a 4xx does not mark anyone bounced."""
    bob = "bob@example.org"
    extra = "max_attempts = 5\n"
    with SmtpSink(Script(defer={bob})) as sink:
        with issue_made(tmp_path, sink, extra=extra, retry_after=36_000) as made:
            site, store, issue, now = made
            publish(site, store, now)

            def send(at: datetime) -> list:
                return send_unfinished(site, store, SECRET.encode(), clock=lambda: at)

            waits = []
            for tries in range(1, 5):
                [report] = send(now)
                assert (report.deferred, report.failed, sink.asked()[bob]) == (1, 0, tries)
                retry = datetime.fromisoformat(Outbox(store, "test:1").next_retry(issue.number))
                waits.append(retry - now)
                assert send(retry - timedelta(seconds=1)) == []  # not due yet: not tried
                assert sink.asked()[bob] == tries
                now = retry
            [last] = send(now)
            assert (last.failed, last.deferred, sink.asked()[bob]) == (1, 0, 5)
            assert send(now + timedelta(days=30)) == []  # failed: never asked again
            counts = Outbox(store, "test:1").counts()[issue.number]
            bob_now = SubscriberList(store).find(bob)
        assert sink.asked()[bob] == 5 and sink.counts()[bob] == 0
    hour = timedelta(hours=1)
    assert waits == [10 * hour, 20 * hour, 24 * hour, 24 * hour]  # 40 h and 80 h capped
    assert counts == {State.SENT: 2, State.FAILED: 1}
    assert bob_now.status is Status.ACTIVE
    row = status(site, capsys)
    assert (row["failed"], row["deferred"], row["next_retry"]) == (1, 0, None)


def test_a_message_that_drops_the_connection_each_time_fails_at_max_attempts(tmp_path):
    """The server hangs up at the DATA of one recipient's message every time: it is sent
    again on a new connection (it may have gone through) until `mail.max_attempts` (2)
    tries, then failed; the run goes on and reaches everyone else."""
    bob = "bob@example.org"
    with SmtpSink(Script(drop_for={bob})) as sink:
        with issue_made(tmp_path, sink, extra="max_attempts = 2\n") as made:
            site, store, issue, now = made
            publish(site, store, now)
            [report] = send_unfinished(site, store, SECRET.encode(), clock=lambda: now)
            later = now + timedelta(days=30)
            assert send_unfinished(site, store, SECRET.encode(), clock=lambda: later) == []
            counts = Outbox(store, "test:1").counts()[issue.number]
        assert sink.asked()[bob] == 2
        assert sink.counts() == {"ann@example.org": 1, "cat@example.org": 1}
    assert (report.sent, report.failed, report.stopped) == (2, 1, "")
    assert counts == {State.SENT: 2, State.FAILED: 1}


@contextmanager
def issue_made(tmp_path, sink, **options):
    """A digest site (`options` for `digest_site`) with its posts picked up and an issue
    made, not yet published."""
    site = digest_site(tmp_path, sink, **options)
    store = Store(site.store_url)
    try:
        scan(site, store)
        now = datetime.now(UTC)
        yield site, store, create_issue(site, store, now, now), now
    finally:
        store.close()


def test_an_issue_is_mailed_only_once_its_archive_page_is_written(tmp_path):
    """A worker elsewhere must not mail a "view in browser" link to a page not yet there."""
    with SmtpSink() as sink:
        with issue_made(tmp_path, sink) as (site, store, issue, now):
            assert send_unfinished(site, store, SECRET.encode()) == []
            assert sink.counts() == {}
            page = site.public_dir / "digests" / str(issue.number) / "index.html"
            assert not page.exists()
            publish(site, store, now)
            assert page.exists()
            [report] = send_unfinished(site, store, SECRET.encode())
        assert report.sent == len(PEOPLE) and sink.counts() == dict.fromkeys(PEOPLE, 1)


def test_digest_send_mails_an_issue_whose_first_publish_never_happened(tmp_path):
    """An issue made but never released (its build failed, the process died) is published
    and mailed by the next `digest send`, not left owed for ever."""
    with SmtpSink() as sink:
        with issue_made(tmp_path, sink) as (site, _store, issue, _now):
            assert main(["--site", str(site.root), "digest", "send"]) == 0
            page = site.public_dir / "digests" / str(issue.number) / "index.html"
            assert page.exists()
        assert sink.counts() == dict.fromkeys(PEOPLE, 1)


def test_who_left_after_the_issue_was_made_is_skipped(tmp_path, capsys):
    with SmtpSink() as sink:
        with issue_made(tmp_path, sink) as (site, store, _issue, now):
            publish(site, store, now)  # its archive page: now it may be mailed
            SubscriberList(store).set_status("cat@example.org", Status.UNSUBSCRIBED)
            SubscriberList(store).remove("bob@example.org")
            [report] = send_unfinished(site, store, SECRET.encode())
        assert sorted(sink.counts()) == ["ann@example.org"]
    assert (report.sent, report.skipped) == (1, 2)
    assert status(site, capsys)["skipped"] == 2


def test_the_files_transport_writes_one_eml_per_subscriber(tmp_path):
    site = digest_site(tmp_path, None)
    assert main(["--site", str(site.root), "digest", "send"]) == 0
    files = sorted((site.root / "outbox" / "1").glob("*.eml"))
    assert [f.name for f in files] == ["1.eml", "2.eml", "3.eml"]
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in files[0].read_bytes()


def test_a_test_copy_is_marked_and_recorded_nowhere(tmp_path, capsys):
    with SmtpSink() as sink:
        site = digest_site(tmp_path, sink)
        assert main(["--site", str(site.root), "digest", "send", "--to", "me@example.org"]) == 0
        [copy] = sink.received
        assert copy.recipient == "me@example.org"
        assert copy.message["Subject"].startswith("[test] ")
        capsys.readouterr()
        main(["--site", str(site.root), "digest", "status", "--json"])
        assert json.loads(capsys.readouterr().out) == []  # no issue made, nothing queued


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_an_empty_or_bad_test_address_mails_nobody(tmp_path, capsys, dry_run):
    """`digest send --to "$ME"` with $ME unset sent the whole issue to every subscriber:
    an empty --to was taken for no --to at all. A bad address is a usage error (2)."""
    with SmtpSink() as sink:
        site = digest_site(tmp_path, sink)
        for to in ("", "not-an-address"):
            capsys.readouterr()
            assert main(["--site", str(site.root), "digest", "send", *dry_run, "--to", to]) == 2
            [line] = capsys.readouterr().err.strip().splitlines()
            assert line.startswith("postroom: test copy not sent: ")
        assert sink.received == []
    main(["--site", str(site.root), "digest", "status", "--json"])
    assert json.loads(capsys.readouterr().out) == []  # no issue made either


def test_dry_run_sends_and_records_nothing(tmp_path, capsys):
    with SmtpSink() as sink:
        site = digest_site(tmp_path, sink)
        assert main(["--site", str(site.root), "digest", "send", "--dry-run"]) == 0
        assert "would hold 3 posts" in capsys.readouterr().out
        assert sink.received == []
    main(["--site", str(site.root), "digest", "status", "--json"])
    assert json.loads(capsys.readouterr().out) == []


def test_dry_run_counts_only_the_readers_its_posts_are_for(tmp_path, capsys):
    """A reader whose topics match none of the issue's posts gets nothing from it, nor does
    a monthly or paused one from an issue sent by hand: the count says who would."""
    everyone = [*PEOPLE, "dan@example.org"]
    site = digest_site(tmp_path, None, "[digest]\nmonthly = 'first mon 07:00'\n", everyone)
    store = Store(site.store_url)
    book = SubscriberList(store)
    chosen = {
        PEOPLE[0]: (Selection.of(["Nothing posted under this"]), None, ""),
        PEOPLE[1]: (Selection(), Cadence.MONTHLY, ""),
        PEOPLE[2]: (Selection(), None, "2099-01-01T00:00:00+00:00"),
    }
    for address, (selection, cadence, paused_until) in chosen.items():
        reader = book.find(address)
        assert reader is not None
        book.set_preferences(reader.id, selection, cadence, paused_until)
    store.close()
    assert main(["--site", str(site.root), "digest", "send", "--dry-run"]) == 0
    assert "would hold 3 posts and go to 1 subscriber\n" in capsys.readouterr().out


def test_no_secret_no_issue(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("POSTROOM_SECRET")
    site = digest_site(tmp_path, None)
    assert main(["--site", str(site.root), "digest", "send"]) == 2
    assert "POSTROOM_SECRET" in capsys.readouterr().err
    main(["--site", str(site.root), "digest", "status", "--json"])
    assert json.loads(capsys.readouterr().out) == []


def test_dkim_signature_verifies(tmp_path):
    key, record = make_dkim_key(tmp_path)
    extra = f'dkim_key = "{key}"\ndkim_selector = "pr1"\n'
    with SmtpSink() as sink:
        site = digest_site(tmp_path, sink, extra="", people=PEOPLE[:1])
        config = site.root / "postroom.toml"
        config.write_text(config.read_text() + extra)
        assert main(["--site", str(site.root), "digest", "send"]) == 0
        [r] = sink.received

    def dns(name, timeout=5):
        assert name == b"pr1._domainkey.notes.example.org."
        return record

    assert r.data.startswith(b"DKIM-Signature:")
    assert dkim.verify(r.data, dnsfunc=dns)
    assert not dkim.verify(r.data.replace(b"Body of", b"Body oF"), dnsfunc=dns)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, trusted through SSL_CERT_FILE."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(folder, "127.0.0.1", "IP:127.0.0.1")
    return cert, key


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # implicit TLS
@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_and_auth_with_the_password_from_the_environment(
    tmp_path, monkeypatch, certificate, security
):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret pass")

    options = {"tls_context": context}
    if security == "tls":  # aiosmtpd does not count implicit TLS as TLS for AUTH
        options = {"ssl_context": context, "auth_require_tls": False}
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    monkeypatch.setenv("POSTROOM_SMTP_PASSWORD", "s3cret pass")
    with SmtpSink(authenticator=authenticator, auth_required=True, **options) as sink:
        site = digest_site(tmp_path, sink, people=PEOPLE[:2])
        config = site.root / "postroom.toml"
        text = config.read_text().replace('security = "none"', f'security = "{security}"')
        config.write_text(text + 'username = "digest"\n')
        assert main(["--site", str(site.root), "digest", "send"]) == 0
        assert sorted(sink.counts()) == PEOPLE[:2]
    assert logins == [(b"digest", b"s3cret pass")]  # one connection, one login
    assert "s3cret" not in config.read_text()


def test_rate_limit_spaces_sends_and_yields_to_stop():
    limit, stop = RateLimit(per_second=200), threading.Event()
    start = time.monotonic()
    assert all(limit.wait(stop) for _ in range(41))
    assert time.monotonic() - start >= 0.2  # 40 intervals of 5 ms, never sooner
    slow = RateLimit(per_second=1)
    assert slow.wait(stop)  # the first turn is now
    stop.set()
    start = time.monotonic()
    assert not slow.wait(stop)  # the next is a second away, but a stop cuts the wait short
    assert time.monotonic() - start < 0.5
