"""A feed opened in a browser through `postroom serve` reads as a page (feed.xsl): a
browser asking for HTML gets the feed as plain XML, which is what makes Chromium apply
the stylesheet, and a Content-Security-Policy that lets it load; a feed reader still
gets the feed's own media type."""

from __future__ import annotations

import httpx
import pytest
from web_support import SECRET, serving

pytestmark = pytest.mark.once  # pages, feeds and files: the same on either store

POST = """---
title: {title}
date: 2016-06-23
---
{title}: the text.
"""
FILES = {f"p{n}.md": POST.format(title=f"Post number {n}") for n in range(1, 4)}
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
READER_ACCEPT = "application/atom+xml, application/rss+xml;q=0.9, */*;q=0.5"


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("POSTROOM_SECRET", SECRET.decode())


@pytest.fixture
def served(tmp_path):
    with serving(tmp_path / "site", FILES) as served:
        yield served


@pytest.mark.parametrize(
    ("name", "reader_type"),
    [
        ("atom.xml", "application/atom+xml; charset=utf-8"),
        ("rss.xml", "application/rss+xml; charset=utf-8"),
        ("digests/atom.xml", "application/atom+xml; charset=utf-8"),
    ],
)
def test_a_browser_gets_plain_xml_and_a_reader_the_feed_type(served, name, reader_type):
    with httpx.Client(base_url=served.url, timeout=10) as client:
        as_reader = client.get(name, headers={"Accept": READER_ACCEPT})
        as_browser = client.get(name, headers={"Accept": BROWSER_ACCEPT})
        bare = client.get(name, headers={"Accept": "*/*"})
        sheet = client.get("feed.xsl")
    assert as_reader.headers["content-type"] == reader_type
    assert bare.headers["content-type"] == reader_type
    assert as_browser.headers["content-type"] == "application/xml; charset=utf-8"
    assert as_browser.content == as_reader.content  # the same bytes either way
    for response in (as_reader, as_browser):
        assert response.headers["vary"] == "Accept"
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
    assert sheet.status_code == 200
    assert sheet.headers["content-type"] == "text/xsl; charset=utf-8"
    # pages keep the policy that allows no script at all
    with httpx.Client(base_url=served.url, timeout=10) as client:
        page = client.get("", headers={"Accept": BROWSER_ACCEPT})
    assert "script-src" not in page.headers["content-security-policy"]


def test_a_feed_opened_in_chromium_through_serve_reads_as_a_page(served, chromium):
    context = chromium.new_context(viewport={"width": 375, "height": 812})
    try:
        page = context.new_page()
        for name in ("atom.xml", "rss.xml"):
            page.goto(served.url + name)
            page.wait_for_selector("h1", timeout=10_000)
            text = page.locator("body").inner_text()
            assert "This is a web feed" in text, name
            for n in range(1, 4):
                assert f"Post number {n}" in text, name
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, (name, width)
    finally:
        context.close()


@pytest.mark.parametrize(
    ("accept", "browser"),
    [
        (BROWSER_ACCEPT, True),
        (READER_ACCEPT, False),
        ("*/*", False),
        ("", False),
        ("*/*;q=1, text/html;q=0.1", False),  # takes anything, HTML least
        ("text/html;level=1;q=0.9, */*;q=1", False),
        ("application/atom+xml, text/html;q=0.7", False),  # SimplePie, FreshRSS
        ("text/html;q=0, application/atom+xml", False),
        ("text/html;q=abc", False),
        ("text/html", True),
    ],
)
def test_a_page_is_preferred_only_over_every_way_of_asking_for_the_feed(accept, browser):
    from postroom.web.app import prefers_html

    assert prefers_html(accept) is browser
