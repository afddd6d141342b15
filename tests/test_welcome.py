"""The welcome email after a confirmed subscription, end to end: `serve` on 127.0.0.1, an
httpx client pressing the buttons, and the files transport taking the mail (a site whose
base_url is this machine's may not send through smtp: RFC 8058). Once per address
however often Confirm is pressed (a second message would replace the file: a new inode);
the schedule, the site and a working unsubscribe link in it; a curator's own template
(SITE/templates/emails/) used, and the packaged one again once it is removed."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import httpx
import lxml.html
import pytest
from postroom.core.model import Cadence
from postroom.core.selection import Selection
from postroom.emails.transports import mail_file_name
from postroom.emails.welcome import welcome
from postroom.store.subscribers import Status, Subscriber, SubscriberList
from support import make_site, write
from web_support import SECRET, Served, confirmation_mail, parse, serving

POSTS = {"a.md": "---\ntitle: Thresholds\ndate: 2016-06-23\n---\nOne.\n"}
SITE = "[digest]\nschedule = 'thu 18:30'\n"  # the site is "postroom" (the default title)


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("POSTROOM_SECRET", SECRET.decode())


def same_site(served: Served) -> dict[str, str]:
    return {"Origin": served.url.rstrip("/"), "Sec-Fetch-Site": "same-origin"}


def welcome_file(served: Served, address: str) -> Path:
    return served.site.root / "outbox" / "welcome" / mail_file_name(address)


def subscribe_and_confirm(client: httpx.Client, served: Served, address: str) -> EmailMessage:
    """Subscribe, open the emailed link and press Confirm twice (a double click); the one
    welcome message."""
    answer = client.post("subscribe", data={"email": address}, headers=same_site(served))
    assert answer.status_code == 200
    confirmation = confirmation_mail(served.site, address)
    [link] = re.findall(r"http\S+/confirm\?token=\S+", confirmation.get_content())
    page = lxml.html.fromstring(client.get(link).text)
    [csrf] = page.xpath("//input[@name='csrf']/@value")
    sent = None
    for _ in range(2):
        pressed = client.post(link, data={"csrf": csrf}, headers=same_site(served))
        assert pressed.status_code == 200 and "Subscribed" in pressed.text
        inode = welcome_file(served, address).stat().st_ino  # written anew: another inode
        assert sent in (None, inode), "a second welcome for the second press"
        sent = inode
    return parse(welcome_file(served, address).read_bytes())


def test_one_welcome_with_the_schedule_and_a_working_unsubscribe_link(tmp_path):
    address = "reader@example.org"
    with (
        serving(tmp_path / "site", POSTS, mail=SITE) as served,
        httpx.Client(base_url=served.url) as client,
    ):
        welcome = subscribe_and_confirm(client, served, address)  # once, for two presses
        assert welcome["Subject"] == "Welcome to postroom"
        assert welcome["Auto-Submitted"] == "auto-generated"
        text = welcome.get_body(("plain",)).get_content()
        html = welcome.get_body(("html",)).get_content()
        for body in (text, html):
            assert "postroom" in body
            assert "every Thursday at 18:30 (Europe/London)" in " ".join(body.split())
            assert f"{served.url}digests/" in body
        assert re.search(r"due on Thursday \d{1,2} \w+ 20\d\d", " ".join(text.split()))

        [link] = re.findall(r"http\S+/unsubscribe\?token=\S+", text)
        assert link.startswith(f"{served.url}unsubscribe?token=")
        assert f"<{link}>" in welcome["List-Unsubscribe"]  # whole, for the mail client
        mailto = re.findall(r"<(mailto:[^>]+)>", welcome["List-Unsubscribe"])
        assert len(mailto) == 1 and "?subject=unsubscribe%20" in mailto[0]  # no encoded words
        raw = welcome_file(served, address).read_bytes().split(b"\r\n\r\n")[0]
        assert b"=?" not in raw
        assert SubscriberList(served.store).find(address).status is Status.ACTIVE
        assert client.post(link, data={"List-Unsubscribe": "One-Click"}).status_code == 200
        assert SubscriberList(served.store).find(address).status is Status.UNSUBSCRIBED


def test_the_curators_welcome_template_is_used_and_removing_it_falls_back(tmp_path):
    own = tmp_path / "site" / "templates" / "emails" / "welcome.txt"
    write(own, "Hello from the curator of {{ title }}. Leave: {{ unsubscribe_url }}\n")
    with (
        serving(tmp_path / "site", POSTS, mail=SITE) as served,
        httpx.Client(base_url=served.url) as client,
    ):
        themed = subscribe_and_confirm(client, served, "one@example.org")
        text = themed.get_body(("plain",)).get_content()
        assert text.startswith("Hello from the curator of postroom. Leave: http")
        assert "every Thursday" in themed.get_body(("html",)).get_content()  # not overridden

        own.unlink()
        packaged = subscribe_and_confirm(client, served, "two@example.org")
        text = packaged.get_body(("plain",)).get_content()
        assert "curator" not in text and "every Thursday at 18:30" in " ".join(text.split())


@pytest.mark.parametrize(
    ("cadence", "topics", "said"),
    [
        (None, (), "Each issue brings every new post, with its source"),
        (Cadence.MONTHLY, ("Adoption",), "every new post of topic adoption"),
        (Cadence.MONTHLY, (), "on the first Thursday at 18:30 (Europe/London) of each month;"
         " the first one you get is due on Thursday 7 January 2027"),
        (Cadence.OFF, (), "none come while your digests are off"),
    ],
)  # fmt: skip
def test_the_welcome_says_what_this_reader_chose_and_when_theirs_come(
    tmp_path, cadence, topics, said
):
    config = '[digest]\nschedule = "thu 18:30"\nmonthly = "first thu 18:30"\n'
    site = make_site(tmp_path, config=config)
    reader = Subscriber(7, "ann@example.org", "", Status.ACTIVE, "", "",
                        Selection.of(topics), cadence)  # fmt: skip
    now = datetime(2026, 12, 10, 12, tzinfo=UTC)  # the month's first Thursday has passed
    message = parse(welcome(site, b"x" * 32, reader, now).data)
    for part in ("plain", "html"):
        assert said in " ".join(message.get_body((part,)).get_content().split())
    assert "/preferences?token=" in message.get_body(("plain",)).get_content()
