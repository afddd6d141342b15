"""The curator's proof before each automatic issue, end to end: real `postroom run` processes
(`--once`, and the service), a real SMTP server (aiosmtpd), the real web app on 127.0.0.1
answering the proof's links, time moved with POSTROOM_CLOCK_OFFSET instead of waiting.

Each site's schedule puts its next slot two to three days after the real now, so its first
`run --once` (real clock: the slot before the site began) is outside any proof window.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import dkim
import httpx
import lxml.html
import pytest
from aiosmtpd.smtp import AuthResult
from postroom.core.config import Site, open_site
from postroom.core.schedule import WEEKDAYS
from postroom.store import Store
from service_support import SECRET, Service, issues, offset_to, postroom
from smtp_sink import Script, SmtpSink, free_port
from support import dkim_key, make_site, write
from web_support import MovableClock, serve_site

CURATOR = "editor@notes.example.org"
BASE = "https://notes.example.org/"
ORIGIN = {"Origin": BASE.rstrip("/"), "Sec-Fetch-Site": "same-origin"}


def proof_site(
    tmp_path: Path, sink: SmtpSink, people: int = 3, proof_hours: int = 24, mail: str = ""
) -> Site:
    """Two posts, `people` subscribers, a curator, and its first slot recorded; `mail`
    adds to its [mail] section."""
    london = ZoneInfo("Europe/London")
    day = WEEKDAYS[(datetime.now(UTC) + timedelta(days=3)).astimezone(london).weekday()]
    config = (
        f'[site]\nbase_url = "{BASE}"\ntimezone = "Europe/London"\n'
        f'[curator]\nname = "Ed Itor"\nemail = "{CURATOR}"\n'
        f'[digest]\nschedule = "{day} 07:00"\nproof_hours = {proof_hours}\n'
        "[service]\ntick_seconds = 1\n" + sink.config() + mail
    )
    root = make_site(tmp_path / "site", config=config).root
    for n in range(2):
        write(root / "content" / f"p{n}.md", f"---\ntitle: Post {n}\ndate: 2016-06-2{n}\n---\nB.\n")
    write(root / "list.csv", "".join(f"reader{n}@example.org\n" for n in range(people)))
    assert postroom(root, "subscribers", "import", str(root / "list.csv")).returncode == 0
    first = postroom(root, "run", "--once")
    assert first.returncode == 0 and "before-start" in first.stdout, first.stdout + first.stderr
    return open_site(root)


def run_once(site: Site, offset: float) -> str:
    done = postroom(site.root, "run", "--once", clock_offset=offset)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def hours(site: Site, h: float, weeks: int = 0) -> float:
    """The clock offset that puts now `h` hours after the coming slot (before it if < 0)."""
    return offset_to(site, timedelta(hours=h), weeks)


def to(sink: SmtpSink, address: str) -> list[EmailMessage]:
    return [r.message for r in sink.received if r.recipient == address]


def readers(sink: SmtpSink) -> list[EmailMessage]:
    return [r.message for r in sink.received if r.recipient != CURATOR]


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def proof_link(proof: EmailMessage, action: str) -> str:
    [link] = set(re.findall(rf"{re.escape(BASE)}proof/{action}\?token=[\w.=-]+", text_of(proof)))
    assert link in html_of(proof)  # the same link in both parts
    return link


class Web:
    """The site's web app on 127.0.0.1, reached as nginx would pass its base_url on."""

    def __init__(self, client: httpx.Client, port: int) -> None:
        self.client, self.port = client, port

    def local(self, url: str) -> str:
        parts = urlsplit(url)
        assert url.startswith(BASE), url
        return f"http://127.0.0.1:{self.port}{parts.path}?{parts.query}"

    def page(self, url: str) -> httpx.Response:
        return self.client.get(self.local(url))

    def press(self, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        """Open the link, then press the page's one button as a browser would."""
        opened = self.page(url)
        assert opened.status_code == 200, opened.text
        [form] = lxml.html.fromstring(opened.text).xpath("//form[@method='post']")
        assert form.get("action") == url  # the button posts to the link itself
        fields = {i.get("name"): i.get("value") for i in form.xpath(".//input[@type='hidden']")}
        return self.client.post(
            self.local(form.get("action")),
            data=fields,
            headers=ORIGIN if headers is None else headers,
        )


@contextmanager
def web(site: Site, offset: float) -> Iterator[Web]:
    store = Store(site.store_url)
    port = free_port()
    try:
        with (
            serve_site(site, store, SECRET.encode(), MovableClock(timedelta(seconds=offset)), port),
            httpx.Client(timeout=10) as client,
        ):
            yield Web(client, port)
    finally:
        store.close()


def main_text(response: httpx.Response) -> str:
    return " ".join(lxml.html.fromstring(response.text).find(".//main").text_content().split())


def test_the_proof_is_the_issue_as_it_goes_out_and_hold_then_send_now(tmp_path):
    with SmtpSink() as sink:
        site = proof_site(tmp_path, sink)
        before = hours(site, -2)
        run_once(site, before)
        [proof] = to(sink, CURATOR)
        assert proof["Subject"].startswith("[Proof] ") and not readers(sink)
        assert "Post 0" in html_of(proof) and "Post 1" in html_of(proof)
        assert "2 posts" in text_of(proof)

        write(site.content_dir / "late.md", "---\ntitle: After the proof\n---\nLate.\n")
        run_once(site, hours(site, -1))  # picked up after the proof: not in this issue
        assert len(sink.received) == 1  # and no second proof

        with web(site, hours(site, -0.5)) as browser:
            hold = proof_link(proof, "hold")
            asked = browser.page(hold)
            assert "Hold issue 1?" in main_text(asked)
            held = browser.press(hold)
            assert held.status_code == 200 and "is held" in main_text(held)
            again = browser.page(hold)  # a second look: nothing more to press
            assert "Already held" in main_text(again) and "<form" not in again.text

            out = run_once(site, hours(site, 1))  # the slot passes: nothing goes out
            assert not readers(sink), out
            [notice] = to(sink, CURATOR)[1:]
            assert "(held)" in notice["Subject"] and "you held it" in notice.get_content()
            [row] = issues(site, hours(site, 1))
            assert (row["issue"], row["state"], row["queued"], row["sent"]) == (1, "held", 0, 0)
            status = postroom(site.root, "digest", "status", clock_offset=hours(site, 1))
            assert "issue 1" in status.stdout and "held, not sent" in status.stdout
            assert (
                json.loads(
                    postroom(site.root, "status", "--json", clock_offset=hours(site, 1)).stdout
                )["last_issue"]
                is None
            )  # nothing was issued yet

            sent = browser.press(proof_link(proof, "send"))
            assert sent.status_code == 200 and "on its way" in main_text(sent)
            assert "Already sent" in main_text(browser.page(proof_link(proof, "skip")))
        run_once(site, hours(site, 2))
        mails = readers(sink)
        assert sorted(m["To"] for m in mails) == [f"reader{n}@example.org" for n in range(3)]
        assert {m["Subject"] for m in mails} == {proof["Subject"].removeprefix("[Proof] ")}
        body = html_of(mails[0])
        assert "Post 0" in body and "Post 1" in body and "After the proof" not in body
        for part in (html_of, text_of):  # the proof is the issue, plus the note above it
            assert _within(part(mails[0]), part(proof)) is None
        [row] = issues(site, hours(site, 2))
        assert (row["state"], row["sent"], row["posts"]) == ("issued", 3, 2)

        run_once(site, hours(site, 0.1, weeks=1))  # the next week: the late post, no proof
        assert sum("After the proof" in html_of(m) for m in readers(sink)) == 3


def _within(subscriber: str, proof: str) -> str | None:
    """The first line of the subscriber's part not in the proof's (in order), personal
    values aside (the address, the signed unsubscribe link); None if there is none."""

    def lines(text: str) -> list[str]:
        text = re.sub(r"(unsubscribe|preferences)\?token=[\w.=-]+", r"\1", text)
        text = text.replace("reader0@example.org", "ADDRESS").replace(CURATOR, "ADDRESS")
        return text.splitlines()

    remaining = iter(lines(proof))
    return next((line for line in lines(subscriber) if line not in remaining), None)


def test_skip_rolls_the_posts_into_the_next_issue_and_its_proof(tmp_path):
    with SmtpSink() as sink:
        site = proof_site(tmp_path, sink)
        run_once(site, hours(site, -3))
        [proof] = to(sink, CURATOR)
        with web(site, hours(site, -2)) as browser:
            skip = proof_link(proof, "skip")
            assert "Skip issue 1?" in main_text(browser.page(skip))
            skipped = browser.press(skip)
            assert skipped.status_code == 200 and "Skipped" in main_text(skipped)
            hold = browser.page(proof_link(proof, "hold"))  # the issue is gone: nothing to press
            assert "Nothing to do" in main_text(hold) and "<form" not in hold.text
        run_once(site, hours(site, 1))
        assert len(sink.received) == 1 and issues(site, hours(site, 1)) == []  # not even told

        run_once(site, hours(site, -2, weeks=1))  # next week's proof: the same two posts
        [next_proof] = to(sink, CURATOR)[1:]
        assert "Post 0" in html_of(next_proof) and "Post 1" in html_of(next_proof)
        assert "No. 1 ·" in html_of(next_proof)  # the skipped issue's number, made again
        run_once(site, hours(site, 0.5, weeks=1))  # not held: it goes out at its slot
        mails = readers(sink)
        assert len(mails) == 3 and all("Post 1" in html_of(m) for m in mails)
        assert {m["Subject"] for m in mails} == {next_proof["Subject"].removeprefix("[Proof] ")}


def test_send_now_goes_out_at_once_from_the_running_service(tmp_path):
    with SmtpSink() as sink:
        site = proof_site(tmp_path, sink)
        before = hours(site, -5)
        with Service(site.root, clock_offset=before) as service:
            service.wait_for(lambda e: e["event"] == "digest" and e.get("proof") is True)
            [proof] = to(sink, CURATOR)
            with web(site, before) as browser:
                assert browser.press(proof_link(proof, "send")).status_code == 200
            [sent] = service.wait_for(lambda e: e["event"] == "send" and "sent" in e, timeout=20)
            assert sent["sent"] == 3
            assert service.terminate()[0] == 0
        assert len(readers(sink)) == 3  # five hours before the slot
        after = hours(site, 1)
        run_once(site, after)  # the slot: already issued, nothing twice
        assert len(readers(sink)) == 3
        [row] = issues(site, after)
        assert (row["state"], row["sent"]) == ("issued", 3)


def test_links_are_signed_for_one_action_and_the_button_only_from_the_site(tmp_path):
    with SmtpSink() as sink:
        site = proof_site(tmp_path, sink)
        run_once(site, hours(site, -2))
        [proof] = to(sink, CURATOR)
        hold = proof_link(proof, "hold")
        with web(site, hours(site, -1)) as browser:
            foreign = browser.page(hold.replace("/proof/hold?", "/proof/send?"))
            assert foreign.status_code == 400 and "not for this action" in foreign.text
            forged = browser.page(hold[:-3] + "abc")
            assert forged.status_code == 400
            cross = browser.press(hold, headers={"Origin": "https://evil.example.net"})
            assert cross.status_code == 403
            assert browser.client.post(browser.local(hold), headers=ORIGIN).status_code == 403
            assert issues(site, hours(site, -1))[0]["state"] == "proof"  # none of it acted
        with web(site, hours(site, 24 * 8)) as late:  # a week after the slot: expired
            assert "expired" in late.page(hold).text


@pytest.mark.parametrize("proof_hours", [0, 24])
def test_without_proofs_the_slot_goes_out_as_it_always_did(tmp_path, proof_hours):
    """proof_hours = 0, or no curator.email: no proof, the issue made at its slot."""
    with SmtpSink() as sink:
        site = proof_site(tmp_path, sink, proof_hours=proof_hours)
        if proof_hours:
            config = site.root / "postroom.toml"
            config.write_text(config.read_text().replace(f'email = "{CURATOR}"', 'email = ""'))
        run_once(site, hours(site, -2))
        assert not sink.received
        out = run_once(site, hours(site, 1))
        assert len(readers(sink)) == 3 and not to(sink, CURATOR), out
        [row] = issues(site, hours(site, 1))
        assert (row["state"], row["sent"], row["slot"]) == ("issued", 3, None)


def test_an_empty_slot_and_a_late_one_are_told_to_the_curator_once(tmp_path):
    with SmtpSink() as sink:
        site = proof_site(tmp_path, sink)
        for n in range(2):
            (site.content_dir / f"p{n}.md").unlink()
        run_once(site, hours(site, -2))
        assert not sink.received  # nothing new: no proof
        run_once(site, hours(site, 1))
        run_once(site, hours(site, 2))  # told once, not at every run
        [empty] = to(sink, CURATOR)
        assert "(empty)" in empty["Subject"] and "nothing new" in empty.get_content()

        write(site.content_dir / "n.md", "---\ntitle: New\n---\nNew.\n")
        run_once(site, hours(site, -2, weeks=1))  # its proof
        run_once(site, hours(site, 24 * 4, weeks=1))  # back four days after the slot: late
        late = to(sink, CURATOR)[2:]
        assert len(late) == 1 and "(late)" in late[0]["Subject"] and not readers(sink)
        run_once(site, hours(site, -1, weeks=2))  # the late issue's post is in the next proof
        assert "New" in html_of(to(sink, CURATOR)[-1])


def test_the_proof_is_dkim_signed_as_the_issue_is(tmp_path):
    """Issues, welcomes and notices were signed, the proof was not: under a DMARC reject
    policy the curator's own proof could be refused."""
    key, record = dkim_key(tmp_path)
    with SmtpSink() as sink:
        site = proof_site(tmp_path, sink, mail=f'dkim_key = "{key}"\ndkim_selector = "pr1"\n')
        run_once(site, hours(site, -2))
        [proof] = [r for r in sink.received if r.recipient == CURATOR]
    assert proof.message["Subject"].startswith("[Proof] ")
    assert dkim.verify(proof.data, dnsfunc=lambda name, timeout=5: record)


def test_digest_send_sends_a_proofed_issue_even_while_an_older_one_is_unfinished(tmp_path):
    """`digest send` is the curator sending a waiting issue by hand (the held notice says
    so), and `--dry-run` said it would; with an older issue still owing a deferred message
    it only finished that one, and the waiting issue stayed where it was."""
    script = Script(defer={"reader0@example.org"})  # issue 1 stays unfinished
    with SmtpSink(script) as sink:
        site = proof_site(tmp_path, sink)
        run_once(site, hours(site, -2))  # issue 1's proof
        run_once(site, hours(site, 0.5))  # issue 1 at its slot: reader0 deferred
        assert sorted(m["To"] for m in readers(sink)) == [f"reader{n}@example.org" for n in (1, 2)]
        write(site.content_dir / "week2.md", "---\ntitle: Week two\n---\nTwo.\n")
        run_once(site, hours(site, -2, weeks=1))  # issue 2 frozen for its proof
        assert [r["state"] for r in issues(site, hours(site, -2, weeks=1))] == ["issued", "proof"]
        now = hours(site, -1.5, weeks=1)
        said = postroom(site.root, "digest", "send", "--dry-run", clock_offset=now).stdout
        assert "issue 2 (proof) would be sent now" in said
        done = postroom(site.root, "digest", "send", clock_offset=now)
        assert done.returncode in (0, 1), done.stdout + done.stderr  # reader0 still deferred
        assert "issue 2 (proof) sent now" in done.stdout
        assert sum("Week two" in html_of(m) for m in readers(sink)) == 2  # reader0 defers all


def test_a_notice_the_server_would_not_take_is_sent_by_a_later_run(tmp_path):
    """The notice's claim was given back only for a refusal or a server away: a login the
    server refused (a ConfigError) kept it, and the curator was never told of the slot."""

    class Only:  # aiosmtpd's authenticator: one password is good
        def __call__(self, server, session, envelope, mechanism, auth_data):
            good = auth_data.password == b"right"
            return AuthResult(success=good, handled=False)

    with SmtpSink(authenticator=Only(), auth_require_tls=False) as sink:
        login = 'username = "ed"\n'
        site = proof_site(tmp_path, sink, mail=login)
        for n in range(2):
            (site.content_dir / f"p{n}.md").unlink()
        wrong = {"POSTROOM_SMTP_PASSWORD": "wrong"}
        done = postroom(site.root, "run", "--once", clock_offset=hours(site, 1), env=wrong)
        assert "curator not told" in done.stdout and not sink.received, done.stdout
        right = {"POSTROOM_SMTP_PASSWORD": "right"}
        done = postroom(site.root, "run", "--once", clock_offset=hours(site, 2), env=right)
        [empty] = to(sink, CURATOR)
        assert "(empty)" in empty["Subject"], done.stdout
