"""Relative URLs made absolute (issue 17): a feed reader or an inbox shows a post far from
its page, so every feed format and the digest resolve the curator's relative links and
images against the post's page; a captured article's own links were resolved at intake
against the original's address, since "/2020/x" there means the source's site, not ours."""

from __future__ import annotations

import email
import email.policy
import json

import feedparser
import pytest
from lxml import etree
from lxml import html as lxml_html
from postroom.content.readers import read_file
from postroom.core.model import Severity
from postroom.core.urls import absolute_html, lead_image, web_url
from postroom.emails.render import render_digest
from postroom.feeds import build
from postroom.feeds.syndication import post_url
from postroom.scheduler import main
from postroom.store import Store
from postroom.store.subscribers import SubscriberList
from support import make_post, make_site, read, write

pytestmark = pytest.mark.once  # pages, feeds and files: the same on either store

# the sources' articles shown whole: the links inside them are what is resolved here
BASE = (
    '[site]\nbase_url = "https://notes.example.org/"\ntitle = "Practice Notes"\n'
    'republish = "full"\n'
)
ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
BODY = (
    '<p>See <a href="/about/">about us</a>, <a href="#notes">the notes</a>,'
    ' <a href="../other/">another post</a> and <a href="//cdn.example.net/x">a mirror</a>.</p>'
    '<p><img src="chart.png" alt="A chart"></p>'
    '<blockquote cite="/sources/1"><p>Quoted.</p></blockquote>'
    '<p><a href="https://www.example.org/kept">an absolute link</a></p>'
)
PAGE = "https://notes.example.org/posts/post-1/"
RESOLVED = {
    "https://notes.example.org/about/",
    f"{PAGE}#notes",
    "https://notes.example.org/posts/other/",
    "https://cdn.example.net/x",
    f"{PAGE}chart.png",
    "https://notes.example.org/sources/1",
    "https://www.example.org/kept",
}
WORDS = " ".join(["Duty teams kept the phones open through the snow."] * 12)


def urls(fragment: str) -> set[str]:
    root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    return {v for e in root.iter() for k, v in e.attrib.items() if k in ("href", "src", "cite")}


@pytest.fixture
def site(tmp_path):
    return make_site(tmp_path, config=BASE)


def test_every_feed_format_gives_absolute_links_and_images(site):
    post = make_post(1, body_html=BODY, comment='<p>Read <a href="/guide/">our guide</a>.</p>')
    build(site, [post])
    assert post_url(site, post) == PAGE
    atom = etree.fromstring(read(site, "atom.xml")).find(f"{ATOM}entry/{ATOM}content").text
    rss = etree.fromstring(read(site, "rss.xml")).find(f"channel/item/{CONTENT}").text
    [item] = json.loads(read(site, "feed.json"))["items"]
    credit = "https://www.communitycare.co.uk/1"
    for content in (atom, rss, item["content_html"]):
        assert urls(content) == RESOLVED | {credit, "https://notes.example.org/guide/"}
    # feedparser, its own resolving switched off, reads them as written
    parsed = feedparser.parse(read(site, "atom.xml"), resolve_relative_uris=False)
    assert f'src="{PAGE}chart.png"' in parsed.entries[0].content[0].value


def test_the_digest_gives_absolute_links_and_images_in_html_and_text(tmp_path):
    site = make_site(tmp_path, config=BASE + "[digest]\nfull_text = true\n")
    rendered = render_digest(site, 1, [make_post(1, body_html=BODY)])
    tree = lxml_html.fromstring(rendered.html)
    post = tree.xpath("//div[contains(@class, 'post')]")[0]
    found = {v for e in post.iter() for k, v in e.attrib.items() if k in ("href", "src", "cite")}
    assert found >= RESOLVED
    assert not {u for u in found if not u.startswith(("https://", "http://"))}
    assert "https://notes.example.org/about/" in rendered.text


def test_the_post_page_itself_is_left_as_written(site):
    build(site, [make_post(1, body_html=BODY)])
    page = read(site, "posts/post-1/index.html").decode()
    assert 'href="/about/"' in page and 'src="chart.png"' in page


@pytest.mark.nostore
def test_a_saved_pages_links_are_the_originals_site_not_ours(site):
    text = (
        "<!doctype html><html><head><title>Snow days</title>"
        '<link rel="canonical" href="https://www.example.org/news/2026/snow-days">'
        "</head><body><article><h1>Snow days</h1>"
        + "".join(f"<p>{WORDS} Paragraph {n}.</p>" for n in range(6))
        + '<p>See <a href="/2020/x">the 2020 report</a> and <a href="figures">the figures</a>.'
        "</p></article></body></html>"
    )
    reading = read_file("pages/snow.html", text.encode(), None, site.config)
    [post] = reading.posts
    assert post.attribution.url == "https://www.example.org/news/2026/snow-days"
    links = urls(post.body_html)
    assert "https://www.example.org/2020/x" in links
    assert "https://www.example.org/news/2026/figures" in links
    # the curator's sidecar URL is the original's address, and wins
    sidecar = b'url = "https://mirror.example.com/a/b"\n'
    [post] = read_file("pages/snow.html", text.encode(), sidecar, site.config).posts
    assert "https://mirror.example.com/2020/x" in urls(post.body_html)


@pytest.mark.nostore
def test_srcset_and_poster_are_resolved_and_nothing_relative_is_the_same_string():
    fragment = '<img src="a.jpg" srcset="a.jpg 1x, /b/a@2x.jpg 2x, https://c.example/a.jpg 3x">'
    out = absolute_html(fragment, "https://notes.example.org/posts/p/")
    img = lxml_html.fragment_fromstring(out)
    assert img.get("srcset") == (
        "https://notes.example.org/posts/p/a.jpg 1x, https://notes.example.org/b/a@2x.jpg 2x,"
        " https://c.example/a.jpg 3x"
    )
    kept = '<p><a href="https://www.example.org/x">x</a> and text &amp; more</p>'
    assert absolute_html(kept, "https://notes.example.org/") is kept  # no parse, same bytes
    assert absolute_html(BODY, "not a url") is BODY  # no base to resolve against
    assert absolute_html(BODY, PAGE) == absolute_html(BODY, PAGE)


@pytest.mark.nostore
@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "data:image/png;base64,iVBORw0KGgo=",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "https://",
        "http://[::1",
        "",
    ],
)
def test_a_script_or_data_image_url_is_refused(url):
    assert web_url(url) is None
    assert lead_image(url, "alt") is None
    assert lead_image(url, "alt", base="https://notes.example.org/") is None


# --- found by an adversarial tester ---------------------------------------------------

INTRO = "![A map](/rel.png) Read [about us](/about/) and [the notes](notes/x).\n"
INTRO_URLS = {
    "https://notes.example.org/rel.png",
    "https://notes.example.org/about/",
    "https://notes.example.org/notes/x",
}


def test_the_digest_intros_links_are_absolute_in_the_mail_the_archive_and_the_feed(
    tmp_path, monkeypatch
):
    """The intro's "/about/" stayed relative in the sent message (HTML and text), the
    issue's page and the issues feed: in an inbox or a reader it leads nowhere."""
    monkeypatch.setenv("POSTROOM_SECRET", "test-secret-that-is-long-enough")
    config = BASE + '[curator]\nemail = "curator@notes.example.org"\n'
    site = make_site(tmp_path, config=config)
    write(site.content_dir / "_digest" / "next.md", INTRO)
    write(site.content_dir / "a.md", f"---\ntitle: Snow\ndate: 2026-11-20\n---\n{WORDS}\n")
    store = Store(site.store_url)
    try:
        SubscriberList(store).add("ann@example.org", name="Ann")
    finally:
        store.close()
    assert main(["--site", str(site.root), "digest", "send"]) == 0
    [eml] = (site.root / "outbox" / "1").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    html = message.get_body(("html",)).get_content()
    [intro] = lxml_html.fromstring(html).find_class("intro")
    assert {v for e in intro.iter() for k, v in e.attrib.items() if k in ("href", "src")} == (
        INTRO_URLS
    )
    text = message.get_body(("plain",)).get_content()
    assert "https://notes.example.org/about/" in text and "(/about/)" not in text
    page = lxml_html.fromstring(read(site, "digests/1/index.html"))
    [intro] = page.find_class("intro")
    assert {v for e in intro.iter() for k, v in e.attrib.items() if k in ("href", "src")} == (
        INTRO_URLS
    )
    index = lxml_html.fromstring(read(site, "digests/index.html"))
    [intro] = index.find_class("intro")
    assert urls(etree.tostring(intro, encoding="unicode")) == INTRO_URLS
    content = etree.fromstring(read(site, "digests/atom.xml")).find(f"{ATOM}entry/{ATOM}content")
    assert urls(content.text) >= INTRO_URLS
    assert not {u for u in urls(content.text) if not u.startswith("https://")}


BAD_URL = "http://[::1/"


@pytest.mark.nostore
def test_a_malformed_source_url_is_dropped_with_a_warning_and_the_post_published(site):
    """'http://[::1/' made urlsplit raise: the whole file was unreadable ("ValueError:
    Invalid IPv6 URL"). Now the URL is dropped and named, as a non-http one is."""
    text = f"---\ntitle: Snow\ndate: 2026-11-20\nsource_url: '{BAD_URL}'\n---\n{WORDS}\n"
    sidecar = f'url = "{BAD_URL}"\nsource = "Weekly"\n'.encode()
    capture = f"Snow days\n\n20 November 2026\n\n{WORDS}\n\n{WORDS}\n"
    for name, data, side in (
        ("notes/snow.md", text, None),
        ("notes/snow.md", text.replace(f"source_url: '{BAD_URL}'", "source: Weekly"), sidecar),
        ("news/snow.txt", capture, sidecar),
    ):
        reading = read_file(name, data.encode(), side, site.config)
        assert not reading.failed, reading.problems
        [post] = reading.posts
        assert post.attribution.url is None
        warnings = [p.reason for p in reading.problems if p.severity is Severity.WARNING]
        assert any(BAD_URL in w and "dropped" in w for w in warnings), warnings


def test_a_stored_post_with_a_malformed_source_url_still_builds(site):
    """A post stored before intake dropped such URLs: its credit names the URL as given."""
    post = make_post(1)
    bad = make_post(2, attribution=post.attribution.__class__(source=None, url=BAD_URL))
    build(site, [post, bad])
    assert b"Post number 2" in read(site, "atom.xml")
