"""`postroom serve` as a person starts it on their own machine: the real command in its own
process, on a port that is not base_url's, opened in Debian's headless Chromium, with
the files transport taking the confirmation (a site on localhost may not use smtp). And
`serve` before anything is built.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import prestart
from playwright.sync_api import expect
from postroom.content.intake import scan
from postroom.core.config import Config, Site, open_site
from postroom.service.jobs import publish
from postroom.store import Store
from postroom.store.subscribers import Status, SubscriberList
from postroom.web import server
from smtp_sink import free_port
from support import make_site
from web_support import SECRET, confirmation_mail

POSTS = {
    "duty.md": "---\ntitle: What duty teams know\ndate: 2016-06-23\n---\nThe phones stayed open.\n",
}
ADDRESS = "reader@example.org"
PUBLISHED = "http://localhost:8000/"  # the default base_url: serve is started elsewhere


def build(root: Path) -> None:
    site = open_site(root)
    store = Store(site.store_url)
    try:
        scan(site, store)
        publish(site, store, datetime.now(UTC))
    finally:
        store.close()


@contextmanager
def serve(root: Path, port: int) -> Iterator[tuple[str, str]]:
    """`postroom serve --port PORT` in its own process until the block ends: (the address it
    printed, everything it printed before it)."""
    env = os.environ | {"POSTROOM_SECRET": SECRET.decode()}
    command = [sys.executable, "-m", "postroom.scheduler", "--site", str(root), "serve"]
    process = prestart.popen(  # forked from a prestarted Python (tests/prestart.py)
        [*command, "--port", str(port)], env=env, stderr=subprocess.STDOUT
    )
    try:
        said = []
        for line in process.stdout:  # the lines it prints before it starts listening
            said.append(line)
            if line.startswith("X-Forwarded-For"):
                break
        printed = "".join(said)
        found = re.search(r"^serving \S+ at (\S+) ", printed, re.M)
        assert found, printed
        deadline = time.monotonic() + 15
        while True:  # listening once a connection is accepted
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "serve did not start listening"
                time.sleep(0.05)
        yield found.group(1), printed
    finally:
        process.terminate()
        process.wait(15)
        process.stdout.close()


def other_port() -> int:
    port = free_port()
    return port if port != 8000 else free_port()


def test_subscribing_works_at_the_address_serve_prints(chromium, tmp_path):
    """The defect: the pages' form went to base_url (localhost:8000), which the CSP's
    `form-action 'self'` blocks from 127.0.0.1:PORT: pressing Subscribe did nothing."""
    # the files transport: a site on localhost may not send through smtp (RFC 8058)
    site = make_site(tmp_path / "site", POSTS, f'[site]\nbase_url = "{PUBLISHED}"\n')
    assert site.base_url == PUBLISHED
    build(site.root)
    published = (site.public_dir / "index.html").read_bytes()
    port = other_port()
    with serve(site.root, port) as (address, printed):
        assert address == f"http://127.0.0.1:{port}/", printed
        context = chromium.new_context()
        try:
            page = context.new_page()
            page.goto(address)
            page.get_by_label("Email address").fill(ADDRESS)
            page.get_by_role("button", name="Subscribe").click()
            expect(page.locator("h1")).to_have_text("Check your inbox")
            assert page.url == f"{address}subscribe"

            body = confirmation_mail(site, ADDRESS).get_content()
            [link] = re.findall(r"http://\S+/confirm\?token=\S+", body)
            assert link.startswith(f"{address}confirm?token="), link  # where it listens
            page.goto(link)
            page.get_by_role("button", name="Confirm").click()
            expect(page.locator("h1")).to_have_text("Subscribed")

            # every link on the page leads to where it is served, none to base_url
            page.goto(address)
            hrefs = page.eval_on_selector_all("[href]", "es => es.map(e => e.href)")
            own = [h for h in hrefs if h.startswith(("http://localhost", "http://127."))]
            assert own and all(h.startswith(address) for h in own), own
        finally:
            context.close()
    store = Store(site.store_url)
    try:
        assert SubscriberList(store).find(ADDRESS).status is Status.ACTIVE
    finally:
        store.close()
    # the published site is not touched by a preview
    assert (site.public_dir / "index.html").read_bytes() == published
    assert f'action="{PUBLISHED}subscribe"'.encode() in published


def test_the_preview_answers_conditional_gets_of_what_it_serves(tmp_path):
    site = make_site(tmp_path / "site", POSTS, "[site]\ntitle = 'Notes'\n")
    build(site.root)
    port = other_port()
    with serve(site.root, port) as (address, _), httpx.Client(base_url=address) as client:
        for path in ("", "atom.xml", "feed.json", "posts/"):
            first = client.get(path)
            assert first.status_code == 200, path
            assert PUBLISHED.encode() not in first.content, path
            assert address.encode() in first.content, path
            assert int(first.headers["content-length"]) == len(first.content)
            again = client.get(path, headers={"If-None-Match": first.headers["etag"]})
            assert again.status_code == 304 and again.content == b"", path


def test_a_real_base_url_is_never_rewritten():
    """Behind a proxy, `serve` listens on 127.0.0.1 for a site with a real name: the links
    stay the site's own."""
    local = open_site_with(PUBLISHED)
    real = open_site_with("https://notes.example.org/")
    assert server.preview_url(real, server.Listen("127.0.0.1", 8000)) is None
    assert server.preview_url(local, server.Listen("127.0.0.1", 8000)) == "http://127.0.0.1:8000/"
    assert server.preview_url(local, server.Listen("localhost", 8000)) is None  # where it is
    assert server.preview_url(local, server.Listen("::1", 8001)) == "http://[::1]:8001/"
    assert server.preview_url(local, server.Listen("0.0.0.0", 8001)) == "http://127.0.0.1:8001/"


def open_site_with(base_url: str) -> Site:
    config = Config()
    return Site(Path("/nowhere"), replace(config, site=replace(config.site, base_url=base_url)))


def test_serve_before_the_first_build_says_so_and_serves_the_build_once_made(tmp_path):
    site = make_site(tmp_path / "site", POSTS)
    port = other_port()
    with serve(site.root, port) as (address, printed), httpx.Client(base_url=address) as client:
        for path in ("", "posts/", "atom.xml"):
            answer = client.get(path)
            assert answer.status_code == 503, (path, answer.text)
            assert "Nothing published yet" in answer.text
            assert "Traceback" not in answer.text and str(site.root) not in answer.text
        assert "nothing is built yet" in printed
        build(site.root)
        assert client.get("").status_code == 200
