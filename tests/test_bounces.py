"""Reports that come back later, end to end: an issue delivered to the real SMTP sink, a
DSN and an ARF complaint as a real MTA and a mailbox provider would write them, put in
a real mailbox (Dovecot over IMAP, or a Maildir folder), read by `postroom bounces`."""

from __future__ import annotations

import hashlib
import json
import logging
import mailbox
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import unquote

import prestart
import pytest
from dovecot_support import PASSWORD, Dovecot
from postroom.emails.bounces import Found, read_report
from postroom.scheduler import main
from postroom.service.jobs import PauseNotice, send_logged
from postroom.store import Store
from postroom.store.bounces import Kind
from postroom.store.holds import insert_new, suppress, suppressed_among
from postroom.store.schema import bounce_pauses, bounce_reports
from postroom.store.subscribers import Status, SubscriberList
from smtp_sink import Received, Script, SmtpSink
from sqlalchemy import func, insert, select
from support import make_site, write

SECRET = "test-secret-that-is-long-enough"
SITE = (
    '[site]\nbase_url = "https://notes.example.org/"\ntitle = "Practice Notes"\n'
    '[curator]\nemail = "curator@notes.example.org"\n'
)
POST = "---\ntitle: {title}\ndate: 2016-06-23\nsource: Community Care\n---\nBody of {title}.\n"
PEOPLE = ["ann@example.org", "bob@example.org", "cat@example.org"]
NO_PAUSE = "pause_bounce_rate = 1.0\npause_complaint_rate = 1.0\n"  # n / attempted never > 1


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("POSTROOM_SECRET", SECRET)
    monkeypatch.setenv("TEST_IMAP_PASSWORD", PASSWORD)


# --- reports as the mail system writes them ---


def _report(kind: str, human: str, machine: MIMEBase, original: MIMEBase, sender: str) -> bytes:
    report = MIMEMultipart("report", report_type=kind)
    report["From"] = sender
    report["To"] = "digest@notes.example.org"
    report["Date"] = format_datetime(datetime.now(UTC))
    report["Message-ID"] = make_msgid(domain="mx.example.net")
    report["Auto-Submitted"] = "auto-replied"
    report.attach(MIMEText(human))
    report.attach(machine)
    report.attach(original)
    return report.as_bytes(policy=policy.SMTP)


def dsn(original: bytes, recipient: str, action: str = "failed", status: str = "5.1.1") -> bytes:
    """A delivery status notification as Postfix writes one: a human part, the
    message/delivery-status fields, and the original's headers (text/rfc822-headers)."""
    per_message = Message()
    per_message["Reporting-MTA"] = "dns; mx.example.net"
    per_message["X-Postfix-Queue-ID"] = "4F2A81C0A3"
    per_message["Arrival-Date"] = format_datetime(datetime.now(UTC))
    per_recipient = Message()
    per_recipient["Final-Recipient"] = f"rfc822; {recipient}"
    per_recipient["Original-Recipient"] = f"rfc822;{recipient}"
    per_recipient["Action"] = action
    per_recipient["Status"] = status
    per_recipient["Remote-MTA"] = "dns; mx.example.org"
    per_recipient["Diagnostic-Code"] = (
        f"smtp; 550 {status} <{recipient}>: Recipient address rejected: User unknown"
    )
    machine = MIMEBase("message", "delivery-status")
    machine.set_payload([per_message, per_recipient])
    headers = original.split(b"\r\n\r\n", 1)[0].decode() + "\r\n"
    human = (
        f"I'm sorry to have to inform you that your message could not be delivered to {recipient}."
    )
    return _report(
        "delivery-status",
        human,
        machine,
        MIMEText(headers, "rfc822-headers"),
        "MAILER-DAEMON@mx.example.net (Mail Delivery System)",
    )


def arf(original: bytes, recipient: str) -> bytes:
    """An abuse report (RFC 5965) as a mailbox provider's feedback loop sends it: the
    feedback fields and the whole original message."""
    import email

    fields = Message()
    fields["Feedback-Type"] = "abuse"
    fields["User-Agent"] = "ExampleFBL/1.0"
    fields["Version"] = "1"
    fields["Original-Mail-From"] = "<digest@notes.example.org>"
    fields["Original-Rcpt-To"] = f"<{recipient}>"
    fields["Arrival-Date"] = format_datetime(datetime.now(UTC))
    fields["Reported-Domain"] = "notes.example.org"
    machine = MIMEBase("message", "feedback-report")
    machine.set_payload([fields])
    inner = email.message_from_bytes(original, policy=policy.compat32)
    return _report(
        "feedback-report",
        "This is an email abuse report for an email message received from IP 192.0.2.1.",
        machine,
        MIMEMessage(inner),
        "fbl@mx.example.net",
    )


def mailto_unsubscribe(original: bytes) -> bytes:
    """What a mail client sends for List-Unsubscribe's mailto: (RFC 2369)."""
    import email

    sent = email.message_from_bytes(original, policy=policy.default)
    mailto = re.findall(r"<(mailto:[^>]+)>", str(sent["List-Unsubscribe"]))[0]
    to, _, query = mailto.removeprefix("mailto:").partition("?subject=")
    request = MIMEText("")
    request["From"] = str(sent["To"])
    request["To"] = to
    request["Subject"] = unquote(query)
    request["Message-ID"] = make_msgid(domain="example.org")
    return request.as_bytes(policy=policy.SMTP)


# --- sites and mailboxes ---


@dataclass
class Source:
    config: str
    put: Callable[[bytes], None]
    unseen: Callable[[], int]


@contextmanager
def source(kind: str, tmp_path: Path) -> Iterator[Source]:
    """A bounce mailbox: Dovecot over IMAP, or a Maildir folder in the site."""
    if kind == "imap":
        with Dovecot() as server:
            yield Source(server.config_toml(), server.append, server.unseen)
        return
    folder = tmp_path / "site" / "bounces"
    folder.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(folder, create=True)

    def unseen() -> int:
        return sum("S" not in box.get_message(k).get_flags() for k in box.iterkeys())

    yield Source('[bounces]\nmaildir = "bounces"\n', box.add, unseen)


def site_for(tmp_path: Path, sink: SmtpSink, bounces: str, mail: str = NO_PAUSE):
    """A site sending through `sink` to PEOPLE, with one post waiting; `bounces` is its
    [bounces] section, `mail` more [mail] keys (by default, limits that never pause)."""
    site = make_site(tmp_path / "site", config=SITE + sink.config() + mail + bounces)
    titles = ("Caseloads, again",)
    for n, title in enumerate(titles):
        write(site.content_dir / f"p{n}.md", POST.format(title=title))
    store = Store(site.store_url)
    for address in PEOPLE:
        SubscriberList(store).add(address)
    store.close()
    return site


def run(site, *argv: str) -> int:
    return main(["--site", str(site.root), *argv])


def by_recipient(received: list[Received]) -> dict[str, bytes]:
    return {r.recipient: r.data for r in received}


def statuses(site) -> dict[str, Status]:
    store = Store(site.store_url)
    try:
        return {s.address: s.status for s in SubscriberList(store).all()}
    finally:
        store.close()


def issue_row(site, capsys, number: int) -> dict:
    capsys.readouterr()
    assert run(site, "digest", "status", "--json") == 0
    return next(r for r in json.loads(capsys.readouterr().out) if r["issue"] == number)


def bounces_json(site, capsys) -> dict:
    capsys.readouterr()
    assert run(site, "bounces", "--json") == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("kind", ["imap", "maildir"])
def test_a_dsn_and_a_complaint_are_matched_recorded_and_the_next_issue_skips_them(
    tmp_path, capsys, kind
):
    with source(kind, tmp_path) as box, SmtpSink() as sink:
        site = site_for(tmp_path, sink, box.config)
        assert run(site, "digest", "send") == 0
        sent = by_recipient(sink.received)
        assert sorted(sent) == PEOPLE
        box.put(dsn(sent["bob@example.org"], "bob@example.org"))
        box.put(arf(sent["cat@example.org"], "cat@example.org"))
        # forged: a Message-ID of ours that was never sent, and a real one for another address
        forged_id = re.sub(
            rb"digest-1\.[0-9a-f]+@", b"digest-1.0123456789abcdef0123@", sent["ann@example.org"]
        )
        box.put(dsn(forged_id, "ann@example.org"))
        box.put(dsn(sent["ann@example.org"], "someone-else@example.org"))
        box.put(dsn(sent["ann@example.org"], "ann@example.org", action="delivered", status="2.0.0"))
        outcome = bounces_json(site, capsys)
        assert box.unseen() == 0
    assert {k: outcome[k] for k in ("read", "hard", "complaints", "unmatched", "other")} == {
        "read": 5, "hard": 1, "complaints": 1, "unmatched": 2, "other": 1
    }  # fmt: skip
    assert statuses(site) == {
        "ann@example.org": Status.ACTIVE,
        "bob@example.org": Status.BOUNCED,
        "cat@example.org": Status.COMPLAINED,
    }
    row = issue_row(site, capsys, 1)
    assert (row["bounced"], row["soft_bounced"], row["complained"], row["paused"]) == (
        1,
        0,
        1,
        None,
    )
    assert row["sent"] == 3  # the old keys are all still there
    # the next issue goes to ann alone
    with SmtpSink() as sink2:
        site2_config = (
            (site.root / "postroom.toml").read_text().replace(str(sink.port), str(sink2.port))
        )
        (site.root / "postroom.toml").write_text(site2_config)
        write(site.content_dir / "later.md", POST.format(title="What duty teams know"))
        assert run(site, "digest", "send") == 0
        assert sorted(sink2.counts()) == ["ann@example.org"]


def test_a_complaint_made_up_from_a_known_address_is_not_believed(tmp_path, capsys):
    """Message-IDs were an unkeyed hash of the issue, the subscriber's id and address: anyone
    who knew a reader's address (and guessed the id, a small number) could send a complaint
    naming a Message-ID we really sent, and have that reader marked as complaining."""
    with source("maildir", tmp_path) as box, SmtpSink() as sink:
        site = site_for(tmp_path, sink, box.config)
        assert run(site, "digest", "send") == 0
        sent = by_recipient(sink.received)
        store = Store(site.store_url)
        try:
            ann = SubscriberList(store).find("ann@example.org")
        finally:
            store.close()
        guessed = hashlib.sha256(f"1|{ann.id}|ann@example.org".encode()).hexdigest()[:20]
        made_up = re.sub(
            rb"digest-1\.[0-9a-f]+@", f"digest-1.{guessed}@".encode(), sent[ann.address]
        )
        box.put(arf(made_up, "ann@example.org"))
        box.put(arf(sent["cat@example.org"], "cat@example.org"))  # a real one, for contrast
        outcome = bounces_json(site, capsys)
    assert (outcome["complaints"], outcome["unmatched"]) == (1, 1)
    assert statuses(site)["ann@example.org"] is Status.ACTIVE
    assert statuses(site)["cat@example.org"] is Status.COMPLAINED


def test_a_bounce_for_an_idn_domain_names_it_as_the_envelope_had_it(tmp_path, capsys):
    """Mail to an IDN domain goes out with the domain's A-labels, so that is what a DSN
    names; it was compared with the address as the list keeps it (Unicode) and every such
    bounce was 'unmatched'."""
    with source("maildir", tmp_path) as box, SmtpSink() as sink:
        site = site_for(tmp_path, sink, box.config)
        store = Store(site.store_url)
        try:
            SubscriberList(store).add("q7@exämple.org")
        finally:
            store.close()
        assert run(site, "digest", "send") == 0
        sent = by_recipient(sink.received)
        assert "q7@xn--exmple-cua.org" in sent  # the envelope's spelling
        box.put(dsn(sent["q7@xn--exmple-cua.org"], "q7@xn--exmple-cua.org"))
        outcome = bounces_json(site, capsys)
    assert (outcome["hard"], outcome["unmatched"]) == (1, 0)
    assert statuses(site)["q7@exämple.org"] is Status.BOUNCED


def test_reports_are_recorded_once_and_mailto_unsubscribes_answered(tmp_path, capsys):
    with source("maildir", tmp_path) as box, SmtpSink() as sink:
        site = site_for(tmp_path, sink, box.config)
        assert run(site, "digest", "send") == 0
        sent = by_recipient(sink.received)
    bounce = dsn(sent["bob@example.org"], "bob@example.org", status="4.2.2")  # mailbox full
    box.put(bounce)
    box.put(mailto_unsubscribe(sent["ann@example.org"]))
    box.put(mailto_unsubscribe(sent["cat@example.org"]).replace(b"unsubscribe ", b"unsubscribe x"))
    outcome = bounces_json(site, capsys)
    assert (outcome["soft"], outcome["unsubscribed"], outcome["unmatched"]) == (1, 1, 1)
    assert statuses(site) == {
        "ann@example.org": Status.UNSUBSCRIBED,
        "bob@example.org": Status.ACTIVE,  # a soft bounce is only counted
        "cat@example.org": Status.ACTIVE,  # an altered token does nothing
    }
    assert bounces_json(site, capsys)["read"] == 0  # marked read
    box.put(bounce)  # the same report again (a second copy delivered)
    again = bounces_json(site, capsys)
    assert (again["read"], again["repeated"], again["soft"]) == (1, 1, 0)
    assert issue_row(site, capsys, 1)["soft_bounced"] == 1


def test_suppressed_addresses_are_refused_by_add_import_and_quietly_by_the_form(tmp_path, capsys):
    with source("maildir", tmp_path) as box, SmtpSink() as sink:
        site = site_for(tmp_path, sink, box.config)
        assert run(site, "digest", "send") == 0
        sent = by_recipient(sink.received)
        box.put(dsn(sent["bob@example.org"], "bob@example.org"))
        box.put(arf(sent["cat@example.org"], "cat@example.org"))
        assert bounces_json(site, capsys)["read"] == 2
        assert run(site, "subscribers", "remove", "bob@example.org") == 0
        capsys.readouterr()
        assert run(site, "subscribers", "add", "Bob@Example.org") == 2
        assert "on the suppression list (bounced)" in capsys.readouterr().err
        csv = tmp_path / "list.csv"
        csv.write_text(
            "address,name\nbob@example.org,Bob\ndan@example.org,Dan\nCAT@example.org,Cat\n"
        )
        assert run(site, "subscribers", "import", str(csv)) == 1
        said = capsys.readouterr()
        assert "1 added" in said.out
        assert f"{csv}:2: bob@example.org: on the suppression list (bounced)" in said.err
        assert f"{csv}:4: CAT@example.org: on the suppression list (complained)" in said.err
        assert statuses(site)["dan@example.org"] is Status.ACTIVE
        assert "bob@example.org" not in statuses(site)


def test_a_complaint_rate_over_the_limit_pauses_the_send_until_resumed(
    tmp_path, capsys, monkeypatch, caplog
):
    script = Script(defer={"cat@example.org"})  # cat's message waits: the send is unfinished
    with source("imap", tmp_path) as box, SmtpSink(script) as sink:
        site = site_for(tmp_path, sink, box.config, mail="")  # the defaults: 5%, 0.3%
        assert run(site, "digest", "send") == 0
        sent = by_recipient(sink.received)
        assert sorted(sent) == ["ann@example.org", "bob@example.org"]
        box.put(arf(sent["bob@example.org"], "bob@example.org"))
        capsys.readouterr()
        assert run(site, "bounces") == 0
        said = capsys.readouterr().out
        assert (
            "sending paused: issue 1: 1 complaints of 3 attempted (33.3%) passed the limit of 0.3%"
            in said
        )
        assert "postroom digest resume" in said
        row = issue_row(site, capsys, 1)
        assert row["paused"].startswith("issue 1: 1 complaints") and row["deferred"] == 1
        capsys.readouterr()
        assert run(site, "digest", "status") == 0
        assert "PAUSED: issue 1" in capsys.readouterr().out
        script.defer.clear()
        monkeypatch.setenv("POSTROOM_CLOCK_OFFSET", "3600")  # cat's retry is due
        assert run(site, "digest", "send") == 1  # paused: nothing goes
        assert "paused: issue 1" in capsys.readouterr().err
        assert "cat@example.org" not in sink.counts()
        # the service's digest job (and each worker) says a pause once, not at every tick
        store, notice = Store(site.store_url), PauseNotice()
        try:
            with caplog.at_level(logging.INFO, logger="postroom"):
                for _ in range(3):
                    send_logged(site, store, SECRET.encode(), in_an_hour, threading.Event(), notice)
        finally:
            store.close()
        stopped = [r for r in caplog.records if "sending stopped: paused" in r.getMessage()]
        assert len(stopped) == 1 and "cat@example.org" not in sink.counts()
        assert run(site, "digest", "resume") == 0
        assert "resumed: issue 1" in capsys.readouterr().out
        assert run(site, "digest", "send") == 0
        assert sink.counts()["cat@example.org"] == 1
        assert issue_row(site, capsys, 1)["paused"] is None
        capsys.readouterr()
        assert run(site, "digest", "resume") == 0
        assert "sending was not paused" in capsys.readouterr().out


def in_an_hour() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


def test_reading_reports_that_are_not_ours_or_not_reports():
    assert read_report(b"Subject: out of office\r\n\r\nI am away.\r\n").found is Found.OTHER
    assert read_report(b"\x00\xff garbage").found is Found.OTHER
    delayed = dsn(b"Message-ID: <digest-3.abc@x.org>\r\n\r\n", "a@x.org", "delayed", "4.4.7")
    report = read_report(delayed)
    assert (report.found, report.kind, report.status) == (Found.BOUNCE, Kind.SOFT, "4.4.7")
    assert report.message_id == "<digest-3.abc@x.org>" and report.recipient == "a@x.org"


def test_bounces_without_a_mailbox_or_an_unreachable_one_say_so(tmp_path, capsys):
    with SmtpSink() as sink:
        site = site_for(tmp_path, sink, "")
        capsys.readouterr()
        capsys.readouterr()
        assert run(site, "bounces") == 2
        assert "[bounces]: no mailbox to read" in capsys.readouterr().err
        (site.root / "postroom.toml").write_text(
            SITE + '[bounces]\nimap_host = "127.0.0.1"\nimap_port = 1\nimap_user = "x"\n'
            'imap_security = "none"\nimap_password_env = "TEST_IMAP_PASSWORD"\n'
        )
        assert run(site, "bounces") == 1
        err = capsys.readouterr().err
        assert err.startswith("postroom: bounces not read: IMAP 127.0.0.1:1: cannot connect")
        assert "Traceback" not in err


def test_run_once_reads_the_bounce_mailbox_before_it_sends(tmp_path, capsys):
    """The service's bounces job (here its one pass in `run --once`): a report waiting in
    the mailbox is recorded, and marked read."""
    with source("maildir", tmp_path) as box, SmtpSink() as sink:
        site = site_for(tmp_path, sink, box.config)
        assert run(site, "digest", "send") == 0
        box.put(dsn(by_recipient(sink.received)["bob@example.org"], "bob@example.org"))
        write(site.content_dir / "later.md", POST.format(title="What duty teams know"))
        capsys.readouterr()
        assert run(site, "run", "--once") == 0
        assert "1 hard bounces" in capsys.readouterr().out
        assert statuses(site)["bob@example.org"] is Status.BOUNCED
        assert box.unseen() == 0


def test_a_bounce_mailbox_it_cannot_log_in_to_never_stops_the_digest(tmp_path, capsys, monkeypatch):
    """`run --once` reads the mailbox before it sends; with the IMAP password's variable
    unset it stopped there (exit 2), and no digest went: the service's job failed at every
    poll too."""
    monkeypatch.delenv("POSTROOM_IMAP_PASSWORD", raising=False)
    bounces = '[bounces]\nimap_host = "127.0.0.1"\nimap_user = "bounces"\n'
    with SmtpSink() as sink:
        site = site_for(tmp_path, sink, bounces)
        assert run(site, "digest", "send") == 0  # issue 1 for everyone
        write(site.content_dir / "later.md", POST.format(title="What duty teams know"))
        capsys.readouterr()
        assert run(site, "run", "--once") == 0
        out = capsys.readouterr().out
        assert "bounces: not read:" in out and "POSTROOM_IMAP_PASSWORD" in out


def test_a_pause_or_suppression_already_there_leaves_the_report_recorded(tmp_path):
    """Two readers at once (the service's job and `postroom bounces`) could both pause an
    issue: on PostgreSQL the second's duplicate failed its whole transaction, and the new
    report it was recording was lost as 'seen before'. The insert now gives way instead."""
    site = make_site(tmp_path / "site")
    store = Store(site.store_url)
    now = datetime.now(UTC)
    try:
        with store.engine.begin() as conn:
            values = {"issue": 1, "reason": "issue 1: over", "paused_at": now.isoformat()}
            assert insert_new(conn, bounce_pauses, "issue", **values)
            assert not insert_new(conn, bounce_pauses, "issue", **values)  # no error
            suppress(conn, "bob@example.org", "bounced", now)
            suppress(conn, "bob@example.org", "complained", now)  # keeps its first reason
            conn.execute(insert(bounce_reports).values(  # the transaction is still good
                report_key="r1", issue=1, subscriber_id=1, kind="hard", received_at="x"
            ))  # fmt: skip
        with store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(bounce_pauses)).scalar() == 1
            assert suppressed_among(conn, ["bob@example.org"]) == {"bob@example.org": "bounced"}
            assert conn.execute(select(bounce_reports.c.report_key)).scalars().all() == ["r1"]
    finally:
        store.close()


def test_a_pipe_or_a_link_in_the_maildir_is_passed_over(tmp_path, capsys):
    """A FIFO in new/ hung `postroom bounces` for ever (the report before it was recorded,
    its counts never printed); a link to a file elsewhere was read and renamed as mail."""
    with source("maildir", tmp_path) as box, SmtpSink() as sink:
        site = site_for(tmp_path, sink, box.config)
        assert run(site, "digest", "send") == 0
        box.put(dsn(by_recipient(sink.received)["bob@example.org"], "bob@example.org"))
        new = site.root / "bounces" / "new"
        os.mkfifo(new / "a-pipe")
        outside = tmp_path / "elsewhere.txt"
        outside.write_text("Subject: not mail of ours\n\nhello\n")
        (new / "a-link").symlink_to(outside)
        command = [sys.executable, "-m", "postroom.scheduler", "--site", str(site.root), "bounces"]
        env = {**os.environ, "POSTROOM_SECRET": SECRET}
        done = prestart.run(command, env=env, timeout=60)  # forked: tests/prestart.py
    assert done.returncode == 0, done.stderr
    assert "1 hard bounces" in done.stdout
    assert (new / "a-pipe").exists() and (new / "a-link").is_symlink()  # left as they were
    assert statuses(site)["bob@example.org"] is Status.BOUNCED
