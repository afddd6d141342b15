"""The site feed's history (RFC 5005 section 4, feeds/history.py) and the XSL stylesheet
every Atom and RSS document names (feeds/static/feed.xsl): read back by feedparser, the
XML as emitted checked with lxml, the stylesheet run by lxml and by Chromium."""

import http.server
import threading
from pathlib import Path
from typing import ClassVar
from urllib.parse import urljoin

import feedparser
import pytest
from conftest import CHROMIUM, CHROMIUM_FLAGS
from lxml import etree
from postroom.feeds import build
from postroom.feeds import history as history_module
from postroom.feeds.syndication import FH_NS, XSL_NAME
from support import make_post, read

pytestmark = pytest.mark.once  # pages, feeds and files: the same on either store

ATOM = "{http://www.w3.org/2005/Atom}"
FH = f"{{{FH_NS}}}"
BASE = "https://notes.example.org/"
PAGE = 4  # posts per archive page here; feed_site's window is 3
TYPES = {"atom": "application/atom+xml", "rss": "application/rss+xml"}


def posts(last, first=1, **changes):
    return [make_post(n, **changes) for n in range(first, last + 1)]


def links(site, name):
    """rel -> href of the document's own atom:link elements (Atom feed or RSS channel)."""
    root = etree.fromstring(read(site, name))
    head = root if root.tag == f"{ATOM}feed" else root.find("channel")
    found = {}
    for link in head.findall(f"{ATOM}link"):
        assert link.get("rel") not in found, (name, link.get("rel"))  # each rel once
        found[link.get("rel")] = link.get("href")
    return found


def walk(site, stem):
    """Entry titles from the subscription feed back through every prev-archive page, as a
    reader fetching the whole history would (feedparser reads each document), and the
    documents visited."""
    name, titles, visited = f"{stem}.xml", [], []
    while name:
        assert name not in visited, f"prev-archive loops at {name}"
        visited.append(name)
        parsed = feedparser.parse(read(site, name))
        assert not parsed.bozo, (name, parsed.get("bozo_exception"))
        titles += [entry.title for entry in parsed.entries]
        prev = [link.href for link in parsed.feed.links if link.rel == "prev-archive"]
        name = prev[0].removeprefix(BASE) if prev else None
    return titles, visited


def archive_files(site):
    folder = site.public_dir / "archive"
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.is_dir() else {}


@pytest.mark.parametrize("stem", ["atom", "rss"])
def test_walking_prev_archive_reads_every_post_once_newest_first(feed_site, stem):
    build(feed_site, posts(12), page_size=PAGE)
    titles, visited = walk(feed_site, stem)
    assert titles == [f"Post number {n}" for n in range(12, 0, -1)]
    # 9 posts beyond the window of 3: pages of 4 from the oldest, the newest one growing
    assert visited == [f"{stem}.xml", *(f"archive/{stem}-{n}.xml" for n in (3, 2, 1))]
    first = feedparser.parse(read(feed_site, f"archive/{stem}-1.xml"))
    assert [e.title for e in first.entries] == [f"Post number {n}" for n in (4, 3, 2, 1)]


def test_a_full_page_never_changes_only_the_newest_grows(feed_site):
    """Post after post, up to three pages filling: every page that was full stays byte for
    byte, and is not rewritten; a page gets its next-archive link as it fills."""
    build(feed_site, posts(4), page_size=PAGE)
    before = archive_files(feed_site)
    assert set(before) == {"atom-1.xml", "rss-1.xml"}
    for last in range(5, 20):
        report = build(feed_site, posts(last), page_size=PAGE)
        after = archive_files(feed_site)
        archived = last - 3
        full = archived // PAGE
        assert len(after) == 2 * (full + 1), last
        for number in range(1, full + 1):
            for stem in TYPES:
                name = f"{stem}-{number}.xml"
                assert "next-archive" in links(feed_site, f"archive/{name}"), (last, name)
                if name in before and number <= (archived - 1) // PAGE:
                    assert after[name] == before[name], (last, name)  # full last time too
                    assert f"archive/{name}" not in report.written, (last, name)
        newest = full + 1
        assert f"archive/atom-{newest}.xml" in report.written, last  # the one that grew
        assert "next-archive" not in links(feed_site, f"archive/atom-{newest}.xml")
        before = after


def test_an_empty_newest_page_is_there_when_the_last_is_full(feed_site):
    build(feed_site, posts(11), page_size=PAGE)  # 8 archived: pages 1, 2 full, 3 empty
    assert feedparser.parse(read(feed_site, "archive/atom-3.xml")).entries == []
    assert links(feed_site, "atom.xml")["prev-archive"] == f"{BASE}archive/atom-3.xml"
    assert links(feed_site, "archive/atom-2.xml")["next-archive"] == f"{BASE}archive/atom-3.xml"
    assert walk(feed_site, "atom")[0] == [f"Post number {n}" for n in range(11, 0, -1)]


@pytest.mark.parametrize("stem", ["atom", "rss"])
def test_archive_documents_as_emitted(feed_site, stem):
    """lxml on the bytes: fh:archive, current, self, prev- and next-archive where they
    belong, the feed's own id and title; the subscription feed is no archive."""
    build(feed_site, posts(12), page_size=PAGE)
    media = TYPES[stem]
    for number in (1, 2, 3):
        name = f"archive/{stem}-{number}.xml"
        root = etree.fromstring(read(feed_site, name))
        head = root if stem == "atom" else root.find("channel")
        assert head.find(f"{FH}archive") is not None and len(head.findall(f"{FH}archive")) == 1
        assert root.nsmap.get("fh") == FH_NS  # declared once, at the top
        found = links(feed_site, name)
        assert found["current"] == f"{BASE}{stem}.xml"
        assert found["self"] == f"{BASE}{name}"
        assert found.get("prev-archive") == (
            f"{BASE}archive/{stem}-{number - 1}.xml" if number > 1 else None
        )
        assert found.get("next-archive") == (
            f"{BASE}archive/{stem}-{number + 1}.xml" if number < 3 else None
        )
        for link in head.findall(f"{ATOM}link"):
            if link.get("rel") != "alternate":
                assert link.get("type") == media, (name, link.get("rel"))
        if stem == "atom":
            assert root.findtext(f"{ATOM}id") == BASE  # the same logical feed
            assert root.findtext(f"{ATOM}title") == "Practice Notes"
            assert root.findtext(f"{ATOM}updated")
    subscription = etree.fromstring(read(feed_site, f"{stem}.xml"))
    assert not list(subscription.iter(f"{FH}archive"))
    assert links(feed_site, f"{stem}.xml")["prev-archive"] == f"{BASE}archive/{stem}-3.xml"


def test_a_site_within_the_window_has_no_archive(feed_site):
    build(feed_site, posts(3), page_size=PAGE)
    assert not (feed_site.public_dir / "archive").exists()
    for stem in TYPES:
        assert "prev-archive" not in links(feed_site, f"{stem}.xml")
    build(feed_site, posts(4), page_size=PAGE)  # one post beyond: one page
    assert archive_files(feed_site).keys() == {"atom-1.xml", "rss-1.xml"}
    build(feed_site, posts(3), page_size=PAGE)  # and back: the archive goes
    assert not (feed_site.public_dir / "archive").exists()
    assert "prev-archive" not in links(feed_site, "atom.xml")


def test_tag_and_source_feeds_have_no_archive(feed_site):
    build(feed_site, posts(12), page_size=PAGE)
    for folder in ("tags/policy/", "sources/community-care/"):
        assert "prev-archive" not in links(feed_site, f"{folder}atom.xml")
        assert not (feed_site.public_dir / folder / "archive").exists()


def test_same_posts_same_bytes(feed_site):
    build(feed_site, posts(12), page_size=PAGE)
    first = archive_files(feed_site)
    report = build(feed_site, list(reversed(posts(12))), page_size=PAGE)
    assert report.written == () and archive_files(feed_site) == first


def test_an_edit_changes_only_the_page_it_is_on(feed_site):
    build(feed_site, posts(12), page_size=PAGE)
    before = archive_files(feed_site)
    six = make_post(6, title="Post six, edited")
    six = make_post(6, title="Post six, edited", updated=six.updated.replace(year=2027))
    edited = [six if p.id == "post-6" else p for p in posts(12)]
    build(feed_site, edited, page_size=PAGE)
    after = archive_files(feed_site)
    changed = {name for name in after if after[name] != before[name]}
    assert changed == {"atom-2.xml", "rss-2.xml"}
    assert "Post six, edited" in walk(feed_site, "atom")[0]


def test_a_withdrawn_post_shifts_the_pages_after_it_and_nothing_is_lost(feed_site):
    """As feeds/history.py says: its place goes, so its page and every later page change."""
    build(feed_site, posts(12), page_size=PAGE)
    before = archive_files(feed_site)
    kept = [p for p in posts(12) if p.id != "post-2"]
    build(feed_site, kept, page_size=PAGE)
    after = archive_files(feed_site)
    assert {n for n in after if after.get(n) != before.get(n)} == set(after)  # 1, 2, 3 all
    for stem in TYPES:
        titles, _ = walk(feed_site, stem)
        assert titles == [f"Post number {n}" for n in range(12, 0, -1) if n != 2]


def test_a_refused_post_keeps_its_place_and_is_reported(feed_site):
    refused = make_post(2, title="\x00 \x0b ")  # nothing left of the title: feedgen raises
    build(feed_site, posts(12), page_size=PAGE)
    before = archive_files(feed_site)
    report = build(
        feed_site, [p if p.id != "post-2" else refused for p in posts(12)], page_size=PAGE
    )
    [problem] = report.problems
    assert problem.file == "p2.txt" and "left out of the feeds" in problem.reason
    after = archive_files(feed_site)
    assert {n for n in after if after[n] != before[n]} == {"atom-1.xml", "rss-1.xml"}
    titles, _ = walk(feed_site, "atom")
    assert titles == [f"Post number {n}" for n in range(12, 0, -1) if n != 2]


def test_full_pages_are_not_rendered_again(feed_site, monkeypatch):
    """A new post renders only the growing page; a touched page is made again."""
    rendered = []
    real = history_module._documents
    monkeypatch.setattr(
        history_module,
        "_documents",
        lambda site, page, n, last: rendered.append(n) or real(site, page, n, last),
    )
    build(feed_site, posts(23), page_size=PAGE)  # 20 archived: 5 full + 1
    assert rendered == [1, 2, 3, 4, 5, 6]
    rendered.clear()
    build(feed_site, posts(24), page_size=PAGE)
    assert rendered == [6]
    (feed_site.public_dir / "archive/rss-2.xml").write_bytes(b"touched")
    rendered.clear()
    report = build(feed_site, posts(24), page_size=PAGE)
    assert rendered == [2] and report.written == ("archive/rss-2.xml",)
    assert walk(feed_site, "rss")[0] == [f"Post number {n}" for n in range(24, 0, -1)]


# --- the XSL stylesheet ---


def xml_documents(site):
    names = (str(p.relative_to(site.public_dir)) for p in site.public_dir.rglob("*.xml"))
    return sorted(n for n in names if not Path(n).name.startswith("."))


def test_every_atom_and_rss_document_names_the_stylesheet_right_after_the_declaration(
    feed_site,
):
    build(feed_site, posts(12), page_size=PAGE)
    names = xml_documents(feed_site)
    assert {"atom.xml", "rss.xml", "archive/atom-1.xml", "tags/policy/atom.xml"} <= set(names)
    assert "digests/atom.xml" in names
    for name in names:
        lines = read(feed_site, name).split(b"\n")
        assert lines[0].startswith(b"<?xml version=")
        pi = etree.fromstring(read(feed_site, name)).getprevious()
        assert lines[1].startswith(b"<?xml-stylesheet ") and pi.target == "xml-stylesheet"
        assert pi.get("type") == "text/xsl"
        # relative, so it resolves to the one stylesheet from any folder
        assert urljoin(BASE + name, pi.get("href")) == BASE + XSL_NAME, name
        assert not feedparser.parse(read(feed_site, name)).bozo, name
    assert (feed_site.public_dir / XSL_NAME).is_file()


def transform(site, name):
    xslt = etree.XSLT(etree.parse(str(site.public_dir / XSL_NAME)))
    return etree.tostring(xslt(etree.fromstring(read(site, name))), method="html").decode()


def test_the_stylesheet_is_safe_by_construction(feed_site):
    build(feed_site, posts(1))
    xsl = etree.parse(str(feed_site.public_dir / XSL_NAME))
    elements = [e for e in xsl.iter() if isinstance(e.tag, str)]
    assert not [e for e in elements if "disable-output-escaping" in e.attrib]
    paths = [e.get(key, "") for e in elements for key in ("select", "test", "match")]
    assert not [path for path in paths if "content" in path]  # the body is never shown


@pytest.mark.parametrize("name", ["atom.xml", "rss.xml", "archive/atom-1.xml", "archive/rss-2.xml"])
def test_lxml_runs_the_stylesheet_into_a_page_of_the_feed(feed_site, name):
    hostile = make_post(
        12,
        title='<script>alert("t")</script> & <b>bold</b>',
        summary="<img src=x onerror=alert(1)>",
    )
    build(feed_site, [*posts(11), hostile], page_size=PAGE)
    html = transform(feed_site, name)
    page = etree.HTML(html)
    assert page.findtext(".//h1") == "Practice Notes"
    words = " ".join(page.xpath("string(//body)").split())
    assert "This is a web feed" in words and "Copy this address into your feed reader" in words
    code = page.findtext(".//code")
    stem = "atom" if "atom" in name else "rss"
    assert code == f"{BASE}{stem}.xml"  # an archive page says to subscribe to the feed
    entries = [li.findtext("strong/a") for li in page.iter("li")]
    wanted = [e.title for e in feedparser.parse(read(feed_site, name)).entries]
    assert entries == wanted and entries
    hrefs = [a.get("href") for a in page.iterfind(".//li/strong/a")]
    assert all(h.startswith(f"{BASE}posts/") for h in hrefs)
    assert page.find(".//script") is None and page.find(".//img") is None
    assert all(li.findtext("time").strip() for li in page.iter("li"))


def test_the_subscription_page_shows_the_hostile_title_as_text(feed_site):
    hostile = make_post(
        12, title='<script>alert("t")</script>', summary="<img src=x onerror=alert(1)>"
    )
    build(feed_site, [*posts(11), hostile], page_size=PAGE)
    for name in ("atom.xml", "rss.xml"):
        page = etree.HTML(transform(feed_site, name))
        assert page.find(".//script") is None and page.find(".//img") is None
        assert page.findtext(".//li/strong/a") == '<script>alert("t")</script>'
        assert page.findtext(".//li/span") == "<img src=x onerror=alert(1)>"


# --- in Chromium ---


class StaticHost(http.server.SimpleHTTPRequestHandler):
    """public/ as a plain static host serves it (nginx's mime.types: .xml is text/xml).
    Chromium shows application/atom+xml and application/rss+xml as text, never
    running their stylesheet: see the README on feeds in a browser."""

    extensions_map: ClassVar = {".xml": "text/xml", ".xsl": "text/xsl", ".html": "text/html"}

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def xslt_chromium():
    """Chromium as installed, with XSLT asked for by name (--enable-features=XSLT): on by
    default in Chromium 156 (with a deprecation banner), and this flag keeps it on while
    Chromium still has the code; once it is gone this test fails and says so."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need it", pytrace=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_FLAGS, "--enable-features=XSLT"]
        )
        try:
            yield browser
        finally:
            browser.close()


def test_a_feed_opened_in_chromium_reads_as_a_page_at_375_px(feed_site, xslt_chromium):
    build(feed_site, posts(12), page_size=PAGE)
    handler = lambda *a: StaticHost(*a, directory=str(feed_site.public_dir))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    context = xslt_chromium.new_context(viewport={"width": 375, "height": 812})
    try:
        page = context.new_page()
        for name in ("atom.xml", "rss.xml", "archive/atom-1.xml", "tags/policy/rss.xml"):
            page.goto(url + name)
            page.wait_for_selector("h1")
            wanted = [e.title for e in feedparser.parse(read(feed_site, name)).entries]
            assert (
                page.locator("h1").inner_text()
                == feedparser.parse(read(feed_site, name)).feed.title
            )
            assert page.locator("li strong").all_inner_texts() == wanted, name
            assert "This is a web feed" in page.locator("body").inner_text()
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, (name, width)
    finally:
        context.close()
        server.shutdown()
        server.server_close()
