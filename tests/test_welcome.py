"""The welcome email after a confirmed subscription, end to end: `serve` on 127.0.0.1, an
httpx client pressing the buttons, and a real SMTP server (aiosmtpd) taking the mail.
Once per address however often Confirm is pressed; the schedule, the site and a working
unsubscribe link in it; a curator's own template (SITE/templates/emails/) used, and the
packaged one again once it is removed."""

from __future__ import annotations

import re
from email.message import EmailMessage

import httpx
import lxml.html
import pytest
from postroom.store.subscribers import Status, SubscriberList
from smtp_sink import SmtpSink
from support import write
from web_support import SECRET, Served, serving

POSTS = {"a.md": "---\ntitle: Thresholds\ndate: 2016-06-23\n---\nOne.\n"}
SITE = "[digest]\nschedule = 'thu 18:30'\n"  # the site is "postroom" (the default title)


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("POSTROOM_SECRET", SECRET.decode())


def same_site(served: Served) -> dict[str, str]:
    return {"Origin": served.url.rstrip("/"), "Sec-Fetch-Site": "same-origin"}


def mails(sink: SmtpSink, address: str, subject: str) -> list[EmailMessage]:
    found = [r.message for r in sink.received if r.recipient == address]
    return [m for m in found if m["Subject"].startswith(subject)]


def subscribe_and_confirm(client: httpx.Client, served: Served, sink: SmtpSink, address: str):
    """Subscribe, open the emailed link and press Confirm twice (a double click)."""
    answer = client.post("subscribe", data={"email": address}, headers=same_site(served))
    assert answer.status_code == 200
    [confirmation] = mails(sink, address, "Confirm your subscription")
    [link] = re.findall(r"http\S+/confirm\?token=\S+", confirmation.get_content())
    page = lxml.html.fromstring(client.get(link).text)
    [csrf] = page.xpath("//input[@name='csrf']/@value")
    for _ in range(2):
        pressed = client.post(link, data={"csrf": csrf}, headers=same_site(served))
        assert pressed.status_code == 200 and "Subscribed" in pressed.text


def test_one_welcome_with_the_schedule_and_a_working_unsubscribe_link(tmp_path):
    address = "reader@example.org"
    with (
        SmtpSink() as sink,
        serving(tmp_path / "site", POSTS, mail=sink.config() + SITE) as served,
        httpx.Client(base_url=served.url) as client,
    ):
        subscribe_and_confirm(client, served, sink, address)
        [welcome] = mails(sink, address, "Welcome")  # once, for two presses
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
        assert SubscriberList(served.store).find(address).status is Status.ACTIVE
        assert client.post(link, data={"List-Unsubscribe": "One-Click"}).status_code == 200
        assert SubscriberList(served.store).find(address).status is Status.UNSUBSCRIBED


def test_the_curators_welcome_template_is_used_and_removing_it_falls_back(tmp_path):
    own = tmp_path / "site" / "templates" / "emails" / "welcome.txt"
    write(own, "Hello from the curator of {{ title }}. Leave: {{ unsubscribe_url }}\n")
    with (
        SmtpSink() as sink,
        serving(tmp_path / "site", POSTS, mail=sink.config() + SITE) as served,
        httpx.Client(base_url=served.url) as client,
    ):
        subscribe_and_confirm(client, served, sink, "one@example.org")
        [themed] = mails(sink, "one@example.org", "Welcome")
        text = themed.get_body(("plain",)).get_content()
        assert text.startswith("Hello from the curator of postroom. Leave: http")
        assert "every Thursday" in themed.get_body(("html",)).get_content()  # not overridden

        own.unlink()
        subscribe_and_confirm(client, served, sink, "two@example.org")
        [packaged] = mails(sink, "two@example.org", "Welcome")
        text = packaged.get_body(("plain",)).get_content()
        assert "curator" not in text and "every Thursday at 18:30" in " ".join(text.split())
