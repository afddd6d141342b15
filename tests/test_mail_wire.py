"""The bytes a digest goes out as: the shortcuts of the fast send path (headers written
without the email package, DATA dot-stuffed once per issue, MAIL/RCPT/DATA written
without smtplib's helpers) give what the long way gave, byte for byte, on a real socket."""

from __future__ import annotations

import random
import smtplib
import socket
import threading
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from postroom.content.intake import scan
from postroom.emails.issues import create_issue
from postroom.emails.message import (
    IssueMessage,
    Recipient,
    _folded,
    _header,
    mailbox,
    smtp_wire,
)
from postroom.emails.render import ADDRESS
from postroom.emails.transports import Rejected, SmtpConnection, Unreachable, quoted
from postroom.store import Store
from postroom.store.outbox import Claim, Outbox, State, queue_rows
from postroom.store.schema import subscribers
from postroom.store.subscribers import SubscriberList
from smtp_sink import SmtpSink
from test_delivery import SECRET, digest_site

# what addresses and names are made of, the awkward included
LOCAL = "abcxyz019._+-'\"!#=?/ü."
DOMAIN = "example.orgü-"
NAME = 'Ann Bob O\'Brien Jr. "Q" =?utf-8? ÿ\\,;:<>()'


def random_address(rng: random.Random) -> str:
    local = "".join(rng.choice(LOCAL) for _ in range(rng.randint(1, 30)))
    domain = ".".join(
        "".join(rng.choice(DOMAIN) for _ in range(rng.randint(1, 12)))
        for _ in range(rng.randint(1, 3))
    )
    return f"{local}@{domain}"


def random_name(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return ""
    words = ["".join(rng.choice(NAME) for _ in range(rng.randint(1, 9))) for _ in range(4)]
    return (
        " ".join(words[: rng.randint(1, 4)])
        if rng.random() < 0.5
        else rng.choice(["Ann", "Jane Doe", "Mary Ann Smith", "A" * 70, "Bob 2"])
    )


def test_headers_written_directly_are_the_bytes_the_email_package_folds():
    rng = random.Random(19)
    direct = 0
    for _ in range(500):
        address, name = random_address(rng), random_name(rng)
        try:
            box = mailbox(address, name)
        except ValueError:
            continue  # refused for every path alike: the row fails (test_mail_addresses)
        for field, value in (("To", box.header), ("Message-ID", f"<digest-7.{address}>")):
            for utf8 in (False, True):
                try:
                    expected = _folded(field, value, utf8)
                except Exception as exc:  # the long way refuses it: so must the short one
                    with pytest.raises(type(exc)):
                        _header(field, value, utf8)
                    continue
                assert _header(field, value, utf8) == expected, (field, value)
                direct += expected.count(b"\r\n") == 1 and value.isascii()
    assert direct > 150  # the shortcut was taken, and often


def test_envelope_addresses_are_quoted_as_smtplib_quotes_them():
    rng = random.Random(20)
    samples = [random_address(rng) for _ in range(3000)]
    samples += ["reader000001@example.org", "<a@b.c>", "A <a@b.c>", "", "@", "a@", "a.@b.c"]
    for address in samples:
        assert quoted(address) == smtplib.quoteaddr(address), address


class Recorder:
    """A real SMTP server on 127.0.0.1 that keeps every byte its client sent, and answers
    DATA for `refuse_data` recipients with a 554 (or 421 for `drop_data`)."""

    def __init__(self, refuse_data: set[str] = frozenset(), drop_data: set[str] = frozenset()):
        self.refuse_data, self.drop_data = refuse_data, drop_data
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sessions: list[bytes] = []
        self.ended = threading.Event()  # a session has been kept
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.sessions.append(self._session(conn.makefile("rwb")))
            self.ended.set()

    def _session(self, f) -> bytes:
        seen = bytearray()

        def reply(line: str) -> None:
            f.write(line.encode() + b"\r\n")
            f.flush()

        reply("220 recorder")
        rcpt = ""
        while line := f.readline():
            seen += line
            verb = line[:4].upper()
            if verb == b"EHLO":
                reply("250-recorder\r\n250-SMTPUTF8\r\n250 8BITMIME")
            elif verb == b"RCPT":
                rcpt = line.decode("utf-8").partition("<")[2].partition(">")[0]
                reply("250 ok")
            elif verb == b"DATA":
                if rcpt in self.drop_data:
                    reply("421 closing")
                    break
                if rcpt in self.refuse_data:
                    reply("554 5.5.1 no")
                    continue
                reply("354 go on")
                while (chunk := f.readline()) and chunk != b".\r\n":
                    seen += chunk
                seen += chunk
                reply("250 queued")
            elif verb == b"QUIT":
                reply("221 bye")
                break
            else:  # MAIL, RSET
                reply("250 ok")
        return bytes(seen)

    def close(self) -> None:
        self.sock.close()


def dotted_issue(tmp_path):
    """An issue whose parts have lines that begin with "." (and a lone "."), as text."""
    site = digest_site(tmp_path, None)
    store = Store(site.store_url)
    try:
        scan(site, store)
        now = datetime.now(UTC)
        issue = create_issue(site, store, now, now)
    finally:
        store.close()
    text = f".leading\n..two\n.\nplain\n{issue.text}\nfor {ADDRESS}\n.{'x' * 90}\n"
    html = issue.html.replace("<p>", "<p>\n.dot ", 3)
    return site, replace(issue, text=text, html=html)


# a soft line break of quoted-printable lands before the "." of this one's address
LONG = "a" * 75 + ".b@example.org"


def test_a_pre_stuffed_message_goes_out_as_smtplib_would_send_it(tmp_path):
    site, issue = dotted_issue(tmp_path)
    message = IssueMessage(site, issue, SECRET.encode())
    people = [
        Recipient(1, "ann@example.org", "Ann"),
        Recipient(2, LONG),
        Recipient(3, "jürgen@example.de"),
    ]
    envelopes = [message.for_recipient(r) for r in people]
    assert all(e.wire == smtp_wire(e.data) for e in envelopes)
    assert envelopes[0].wire.count(b"\r\n..") >= 6 and b"\r\n..b@example.org" in envelopes[1].wire
    sessions = []
    for fast in (True, False):
        recorder = Recorder()
        try:
            smtp = smtplib.SMTP("127.0.0.1", recorder.port, timeout=10)
            smtp.ehlo()
            for envelope in envelopes:
                if fast:
                    SmtpConnection(smtp).send(envelope)
                else:  # what postroom did before: smtplib's own mail(), rcpt() and data()
                    smtp.mail(envelope.sender, ["SMTPUTF8"] if envelope.needs_smtputf8 else [])
                    smtp.rcpt(envelope.recipient)
                    smtp.data(envelope.data)
            smtp.quit()
            assert recorder.ended.wait(10)
        finally:
            recorder.close()
        sessions.append(recorder.sessions)
    assert sessions[0] == sessions[1] and len(sessions[0]) == 1
    assert b"> SMTPUTF8\r\nrcpt TO:<j\xc3\xbcrgen@example.de>\r\n" in sessions[0][0]


def test_the_message_arrives_as_made_and_as_the_file_transport_writes_it(tmp_path):
    site, issue = dotted_issue(tmp_path)
    message = IssueMessage(site, issue, SECRET.encode())
    envelopes = [message.for_recipient(Recipient(1, "ann@example.org")),
                 message.for_recipient(Recipient(2, LONG))]  # fmt: skip
    with SmtpSink() as sink:
        smtp = smtplib.SMTP("127.0.0.1", sink.port, timeout=10)
        smtp.ehlo()
        connection = SmtpConnection(smtp)
        for envelope in envelopes:
            assert connection.send(envelope).startswith("250 ")
        connection.close()
        received = sink.received
    assert [r.data for r in received] == [e.data for e in envelopes]  # un-stuffed whole
    assert (
        received[0]
        .message.get_body(("plain",))
        .get_content()
        .startswith(".leading\r\n..two\r\n.\r\n")
    )


def test_a_refused_or_dropped_data_command_is_that_messages_outcome(tmp_path):
    site, issue = dotted_issue(tmp_path)
    message = IssueMessage(site, issue, SECRET.encode())
    ann, bob, cat = (message.for_recipient(Recipient(i, f"{n}@example.org")) for i, n in
                     ((1, "ann"), (2, "bob"), (3, "cat")))  # fmt: skip
    recorder = Recorder(refuse_data={"bob@example.org"}, drop_data={"cat@example.org"})
    try:
        smtp = smtplib.SMTP("127.0.0.1", recorder.port, timeout=10)
        smtp.ehlo()
        connection = SmtpConnection(smtp)
        assert connection.send(ann).startswith("250")
        with pytest.raises(Rejected) as refused:
            connection.send(bob)
        assert (refused.value.code, refused.value.stage, refused.value.permanent) == (
            554,
            "data",
            True,
        )
        assert connection.send(ann).startswith("250")  # after the RSET, the next one goes
        with pytest.raises(Unreachable):
            connection.send(cat)
        connection.close()
    finally:
        recorder.close()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_sent_mark_settles_only_a_row_this_sender_holds(tmp_path, request, database):
    url = (
        f"sqlite:///{tmp_path / 'p.db'}"
        if database == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    store = Store(url)
    try:
        SubscriberList(store).add("ann@example.org")
        SubscriberList(store).add("bob@example.org")
        now = datetime.now(UTC)
        with store.engine.begin() as conn:
            queue_rows(conn, 1, now, subscribers.c.id > 0)
        mine, theirs = Outbox(store, "here:1"), Outbox(store, "there:2")
        (ann,), (bob,) = mine.claim(1, now), theirs.claim(1, now)
        assert mine.sent(ann, "250 2.0.0 queued as 1", now) is True
        assert mine.sent(bob, "250 2.0.0 queued as 2", now) is False  # not ours
        assert mine.sent(ann, "250 again", now) is False  # settled already
        assert mine.counts() == {1: {State.SENT: 1, State.SENDING: 1}}
        stranger = Claim(1, 99, "nobody@example.org", "", 1)
        assert mine.sent(stranger, "250 ok", now) is False
        with store.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT subscriber_id, code, reply FROM outbox").all()
        assert sorted(rows)[0][1:] == (250, "250 2.0.0 queued as 1")
    finally:
        store.close()
