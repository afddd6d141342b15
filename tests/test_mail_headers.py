"""What a digest says about itself: the list headers, RFC 3834's, an optional Feedback-ID,
short unsubscribe lines with no address in them, and a DKIM signature (dkimpy, checked
against the test key) that covers all of it, relaxed, with From, Subject and Reply-To
over-signed so that a header added on the way breaks it."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime

import dkim
import pytest
from postroom.core.config import open_site
from postroom.emails.confirm import confirmation
from postroom.scheduler import main
from postroom.store import Store
from postroom.store.subscribers import SubscriberList
from smtp_sink import SmtpSink
from support import dkim_key as make_dkim_key
from support import legacy_token
from test_delivery import PEOPLE, SECRET, digest_site


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("POSTROOM_SECRET", SECRET)


@pytest.fixture(scope="module")
def dkim_key(tmp_path_factory):
    """(private key file, the TXT record a receiver would find for selector pr1)."""
    return make_dkim_key(tmp_path_factory.mktemp("dkim"))


def header_block(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[0] + b"\r\n"


def field(data: bytes, name: str) -> bytes:
    """One header field as it is on the wire, folded lines and all."""
    [found] = re.findall(
        rb"(?mi)^" + name.encode() + rb":.*\r\n(?:[ \t].*\r\n)*", header_block(data)
    )
    return found


def tags(signature: bytes) -> dict[str, str]:
    value = b"".join(signature.split(b"\r\n")).decode().partition(":")[2]
    pairs = (part.strip().partition("=") for part in value.split(";") if part.strip())
    return {k: "".join(v.split()) for k, _, v in pairs}


def sent(tmp_path, extra: str = "", people=PEOPLE) -> list:
    with SmtpSink() as sink:
        site = digest_site(tmp_path, sink, people=people)
        config = site.root / "postroom.toml"
        config.write_text(config.read_text() + extra)
        assert main(["--site", str(site.root), "digest", "send"]) == 0
        return sink.received


def test_list_and_auto_submitted_headers_and_no_feedback_id_unless_set(tmp_path):
    plain = sent(tmp_path / "plain", people=PEOPLE[:1])[0].message
    assert plain["Precedence"] == "list"
    assert plain["Auto-Submitted"] == "auto-generated"
    assert plain["Feedback-ID"] is None


def test_a_feedback_id_goes_after_the_issue_number(tmp_path):
    # a test of its own: on the PostgreSQL pass the sites of one test share a database
    tagged = sent(tmp_path / "tagged", 'feedback_id = "digest:practicenotes"\n', PEOPLE[:1])
    assert tagged[0].message["Feedback-ID"] == "1:digest:practicenotes"  # the issue first


@pytest.mark.parametrize("value", ["has space", "a:b:c:d", "ünï", "x\nFrom: y", "a::b"])
def test_a_feedback_id_that_is_no_feedback_id_is_refused(tmp_path, capsys, value):
    site = digest_site(tmp_path, None, people=[])
    config = site.root / "postroom.toml"
    config.write_text(config.read_text() + f"[mail]\nfeedback_id = {value!r}\n")
    assert main(["--site", str(site.root), "check"]) == 2
    assert "'mail.feedback_id' must be" in capsys.readouterr().err


def test_unsubscribe_lines_are_short_and_carry_no_address(tmp_path):
    received = sent(tmp_path)
    for r in received:
        header = field(r.data, "List-Unsubscribe")
        local = r.recipient.partition("@")[0].encode()
        assert local not in header and r.recipient.encode() not in header
        tokens = set(re.findall(rb"token=([A-Za-z0-9_-]+)>", header))
        tokens |= set(re.findall(rb"unsubscribe%20([A-Za-z0-9_-]+)>", header))
        [token] = tokens
        decoded = base64.urlsafe_b64decode(token + b"=" * (-len(token) % 4))
        assert local not in decoded and r.recipient.encode() not in decoded
        # the same header as the old tokens made it, for comparison: 176-193 octets a line
        old = legacy_token(SECRET.encode(), "unsubscribe", r.recipient, 1764000000).encode()
        before = header.replace(token, old)
        lines, old_lines = header.split(b"\r\n")[:-1], before.split(b"\r\n")[:-1]
        print(f"List-Unsubscribe: {len(header)} octets {[len(x) for x in lines]}, was", end=" ")
        print(f"{len(before)} octets {[len(x) for x in old_lines]}")
        assert max(len(line) for line in lines) <= 100 < min(len(line) for line in old_lines)
        assert len(header) <= len(before) - 2 * (len(old) - len(token))


def test_dkim_is_relaxed_covers_the_list_headers_and_over_signs(tmp_path, dkim_key):
    key, record = dkim_key
    extra = f'dkim_key = "{key}"\ndkim_selector = "pr1"\nfeedback_id = "digest:notes"\n'
    [r] = sent(tmp_path, extra, PEOPLE[:1])

    def dns(name, timeout=5):
        assert name == b"pr1._domainkey.notes.example.org."
        return record

    def verifies(data: bytes) -> bool:
        return dkim.verify(data, dnsfunc=dns)

    data = r.data
    assert verifies(data)
    signature = tags(field(data, "DKIM-Signature"))
    assert signature["c"] == "relaxed/relaxed"
    signed = signature["h"].lower().split(":")
    for name in ("from", "subject", "reply-to"):
        assert signed.count(name) == 2, name  # present once, signed twice
    for name in (
        "to",
        "date",
        "message-id",
        "list-id",
        "list-archive",
        "list-post",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "precedence",
        "auto-submitted",
        "feedback-id",
        "mime-version",
        "content-type",
    ):
        assert name in signed, name

    # relaxed: a relay that re-folds a header or pads its spaces leaves it valid
    subject = field(data, "Subject")
    assert verifies(data.replace(subject, subject.replace(b"Subject: ", b"Subject:   \r\n  ")))
    # but a header added on the way breaks it: anywhere, for the over-signed ones (a
    # verifier takes the last of each name, a mail client often the first)
    top = data.index(b"\r\n", data.index(b"\r\nTo:") + 2) + 2  # above every original
    bottom = data.index(b"\r\n\r\n") + 2  # below them all
    for added in (
        b"From: Your Bank <security@bank.example>\r\n",
        b"Subject: Urgent: verify your account\r\n",
        b"Reply-To: thief@evil.example\r\n",
    ):
        assert not verifies(data[:top] + added + data[top:]), added
        assert not verifies(data[:bottom] + added + data[bottom:]), added
    for added in (
        b"List-Unsubscribe: <https://evil.example/u>\r\n",
        b"List-Id: Other <other.evil.example>\r\n",
        b"Precedence: bulk\r\n",
    ):
        assert not verifies(data[:bottom] + added + data[bottom:]), added
    archive = field(data, "List-Archive")
    assert not verifies(data.replace(archive, b"List-Archive: <https://evil.example/>\r\n"))


def test_the_confirmation_is_signed_the_same_way(tmp_path, dkim_key):
    key, record = dkim_key
    site = digest_site(tmp_path, None, people=["ann@example.org"])
    config = site.root / "postroom.toml"
    config.write_text(config.read_text() + f'[mail]\ndkim_key = "{key}"\ndkim_selector = "pr1"\n')
    store = Store(site.store_url)
    try:
        [ann] = SubscriberList(store).all()
        envelope = confirmation(open_site(site.root), SECRET.encode(), ann, datetime.now(UTC))
    finally:
        store.close()
    assert tags(field(envelope.data, "DKIM-Signature"))["c"] == "relaxed/relaxed"
    assert dkim.verify(envelope.data, dnsfunc=lambda name, timeout=5: record)
    forged = envelope.data.replace(b"\r\nTo:", b"\r\nFrom: x@evil.example\r\nTo:", 1)
    assert not dkim.verify(forged, dnsfunc=lambda name, timeout=5: record)
