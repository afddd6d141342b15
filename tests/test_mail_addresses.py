"""Internationalised addresses, end to end, and one recipient never stopping an issue.

A list with a non-ASCII local part (RFC 6531), an IDN domain and plain addresses, sent
to a real SMTP server (aiosmtpd on 127.0.0.1) that offers SMTPUTF8, and to one that does
not; the confirmation message for the same addresses; the same addresses accepted alike
by `subscribers add`, `subscribers import` and the subscribe form.
"""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime

import httpx
import pytest
from postroom.emails.confirm import confirmation
from postroom.scheduler import main
from postroom.store import Store
from postroom.store.schema import subscribers
from postroom.store.subscribers import Status, SubscriberList
from smtp_sink import SmtpSink
from sqlalchemy import insert
from test_delivery import SECRET, digest_site
from web_support import confirmation_mail, serving

UTF8_LOCAL = "jürgen@example.de"  # needs SMTPUTF8
IDN = "q7@exämple.org"  # an ASCII local part: its domain as punycode needs nothing
IDN_ASCII = "q7@xn--exmple-cua.org"
PLAIN = ["ann@example.org", "bob@example.org"]
# a row no message can be made for: its domain is no IDNA name (a trailing hyphen). The
# list refuses it today; a list kept by an older version, or loaded by hand, may hold one.
BROKEN = "odd@exämple-.org"


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("POSTROOM_SECRET", SECRET)


def mixed_site(tmp_path, sink: SmtpSink):
    site = digest_site(tmp_path, sink, people=[UTF8_LOCAL, IDN, *PLAIN])
    store = Store(site.store_url)
    try:
        with store.engine.begin() as conn:
            stamp = datetime.now(UTC).isoformat()
            conn.execute(
                insert(subscribers).values(
                    address=BROKEN,
                    address_key=BROKEN,
                    name="",
                    status="active",
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
    finally:
        store.close()
    return site


def ledger(site, capsys) -> dict:
    capsys.readouterr()
    assert main(["--site", str(site.root), "digest", "status", "--json"]) == 0
    return json.loads(capsys.readouterr().out)[-1]


def status_of(site, address: str) -> Status:
    store = Store(site.store_url)
    try:
        return next(s.status for s in SubscriberList(store).all() if s.address == address)
    finally:
        store.close()


def test_with_smtputf8_offered_every_address_gets_its_message_and_a_bad_row_fails_alone(
    tmp_path, capsys
):
    with SmtpSink(enable_SMTPUTF8=True) as sink:
        site = mixed_site(tmp_path, sink)
        assert main(["--site", str(site.root), "digest", "send"]) == 0
        received = {r.recipient: r for r in sink.received}
    err = capsys.readouterr().err
    assert sorted(received) == sorted([UTF8_LOCAL, IDN_ASCII, *PLAIN])

    raw = received[UTF8_LOCAL]
    assert "SMTPUTF8" in raw.mail_options
    assert "To: Jürgen <jürgen@example.de>\r\n".encode() in raw.data  # raw UTF-8 (RFC 6532)
    message = email.message_from_string(raw.data.decode("utf-8"), policy=email.policy.default)
    assert message["To"].addresses[0].username == "jürgen"  # RFC 6532: read as UTF-8
    assert "because jürgen@example.de is subscribed" in message.get_body(("plain",)).get_content()

    idn = received[IDN_ASCII]
    assert "SMTPUTF8" not in idn.mail_options and idn.data.isascii()  # nothing asked of it
    assert b"\r\nTo: Q7 <q7@xn--exmple-cua.org>\r\n" in b"\r\n" + idn.data
    for address in PLAIN:
        assert received[address].data.isascii() and not received[address].mail_options

    assert f"failed: {BROKEN}: not sent: the message could not be made: IDNAError" in err
    row = ledger(site, capsys)
    assert (row["sent"], row["failed"], row["queued"], row["deferred"]) == (4, 1, 0, 0)
    assert status_of(site, BROKEN) is Status.ACTIVE  # our failure, not a bounce


def test_without_smtputf8_only_the_non_ascii_local_part_fails_with_its_reason(tmp_path, capsys):
    with SmtpSink(enable_SMTPUTF8=False) as sink:  # (aiosmtpd's Controller offers it)
        site = mixed_site(tmp_path, sink)
        assert main(["--site", str(site.root), "digest", "send"]) == 0
        received = {r.recipient: r for r in sink.received}
        asked = sink.asked()
    err = capsys.readouterr().err
    assert sorted(received) == sorted([IDN_ASCII, *PLAIN])  # the others all delivered
    assert received[IDN_ASCII].message["To"].addresses[0].addr_spec == IDN_ASCII
    assert UTF8_LOCAL not in asked  # never offered to a server that cannot take it
    assert f"failed: {UTF8_LOCAL}: 553 5.6.7" in err and "SMTPUTF8" in err
    assert f"failed: {BROKEN}:" in err
    row = ledger(site, capsys)
    assert (row["sent"], row["failed"], row["queued"], row["deferred"]) == (3, 2, 0, 0)
    assert status_of(site, UTF8_LOCAL) is Status.ACTIVE  # the server's limit, not a bounce
    # nothing lost: a second send neither resends nor retries anything
    with SmtpSink(enable_SMTPUTF8=True) as again:
        config = site.root / "postroom.toml"
        config.write_text(config.read_text().replace(str(sink.port), str(again.port)))
        assert main(["--site", str(site.root), "digest", "send"]) == 0
        assert again.received == []


def test_the_confirmation_is_addressed_right(tmp_path):
    site = digest_site(tmp_path, None, people=[UTF8_LOCAL, IDN])
    store = Store(site.store_url)
    try:
        people = {s.address: s for s in SubscriberList(store).all()}
    finally:
        store.close()
    now = datetime.now(UTC)
    idn = confirmation(site, SECRET.encode(), people[IDN], now)
    assert idn.recipient == IDN_ASCII and not idn.needs_smtputf8
    assert b"\r\nTo: q7@xn--exmple-cua.org\r\n" in idn.data and idn.data.isascii()
    local = confirmation(site, SECRET.encode(), people[UTF8_LOCAL], now)
    assert local.recipient == UTF8_LOCAL and local.needs_smtputf8
    assert "\r\nTo: jürgen@example.de\r\n".encode() in local.data
    assert b"=?" not in local.data.split(b"\r\n\r\n")[0]  # no encoded words in its headers


@pytest.mark.once  # three sites, each new to the addresses: on PostgreSQL they would share one
def test_add_import_and_the_form_accept_and_refuse_the_same_addresses(tmp_path):
    good, bad = [UTF8_LOCAL, IDN, "Ann@Example.ORG"], ["no-at-sign", "a@b", BROKEN]
    cli = digest_site(tmp_path / "cli", None, people=[])
    for address in good:
        assert main(["--site", str(cli.root), "subscribers", "add", address]) == 0
    for address in bad:
        assert main(["--site", str(cli.root), "subscribers", "add", address]) == 2
    csv = tmp_path / "list.csv"
    csv.write_text("\n".join(good + bad) + "\n", encoding="utf-8")
    imported = digest_site(tmp_path / "import", None, people=[])
    assert main(["--site", str(imported.root), "subscribers", "import", str(csv)]) == 1

    with serving(tmp_path / "web", {}) as served, httpx.Client(base_url=served.url) as client:
        origin = {"Origin": served.url.rstrip("/")}
        for address in good:
            answer = client.post("subscribe", data={"email": address}, headers=origin)
            assert answer.status_code == 200, address
        for address in bad:
            answer = client.post("subscribe", data={"email": address}, headers=origin)
            assert answer.status_code == 400, address
        # the confirmation's link works for the UTF-8 address (written for its envelope)
        mail = confirmation_mail(served.site, UTF8_LOCAL)
        assert mail["To"] == UTF8_LOCAL
        [link] = [w for w in mail.get_content().split() if "/confirm?token=" in w]
        page = client.get(link)
        assert page.status_code == 200 and UTF8_LOCAL in page.text
        web = SubscriberList(served.store).all()

    def addresses(site) -> list[str]:
        store = Store(site.store_url)
        try:
            return sorted(s.address for s in SubscriberList(store).all())
        finally:
            store.close()

    assert addresses(cli) == addresses(imported) == sorted(s.address for s in web)
    assert addresses(cli) == sorted([UTF8_LOCAL, IDN, "Ann@example.org"])
