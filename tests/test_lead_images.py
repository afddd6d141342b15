"""A post's lead image (issue 17, "Richer entries"): found by every intake route (front
matter, sidecar, a saved page's og:image or first picture, an added link's og:image, a
followed feed's media:thumbnail), carried by every feed format (checked in the emitted
XML with lxml and read back by feedparser) and shown, small and never needed, in the
digest and on the post's page."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import feedparser
import pytest
import yaml
from feed_server import feed_server
from lxml import etree
from lxml import html as lxml_html
from postroom.content.fetch import Fetched
from postroom.content.intake import scan
from postroom.content.markdown import front_matter
from postroom.content.readers import read_file
from postroom.content.sourcefeed import read_feed
from postroom.core.model import LeadImage, Severity
from postroom.core.urls import lead_image
from postroom.emails.render import render_digest
from postroom.feeds import build
from postroom.feeds.syndication import SUMMARY_CHARS, entry_summary
from postroom.service.fetching import Fetcher
from postroom.service.follow import Follower
from postroom.store import Store
from service_support import postroom
from support import NEWS_PAGE, make_post, make_site, read

BASE = '[site]\nbase_url = "https://notes.example.org/"\ntitle = "Practice Notes"\n'
MEDIA = "{http://search.yahoo.com/mrss/}"
ATOM = "{http://www.w3.org/2005/Atom}"
PHOTO = LeadImage("https://img.example.org/snow.jpg", "A gritter on a snowy road", "image/jpeg")
WORDS = " ".join(["Duty teams kept the phones open through the snow."] * 12)


@pytest.fixture
def site(tmp_path):
    return make_site(tmp_path, config=BASE)


def one_post(site, name: str, text: str, sidecar: str | None = None):
    """The one post a file gives, and the warnings said about it."""
    reading = read_file(name, text.encode(), sidecar.encode() if sidecar else None, site.config)
    assert not reading.failed, reading.problems
    [post] = reading.posts
    return post, [p.reason for p in reading.problems if p.severity is Severity.WARNING]


def markdown(**meta: object) -> str:
    head = yaml.safe_dump({"title": "Snow days", "date": "2026-11-20", **meta}, sort_keys=False)
    return f"---\n{head}---\n{WORDS}\n"


# --- intake ---------------------------------------------------------------------------


@pytest.mark.nostore
def test_front_matter_names_the_image_and_its_alt_text(site):
    post, warnings = one_post(site, "notes/snow.md", markdown(image=PHOTO.url, image_alt=PHOTO.alt))
    assert post.image == PHOTO and not warnings
    # a path from the site's root is on the site; its type is read off its extension
    post, _ = one_post(site, "notes/snow.md", markdown(image="/media/chart.png"))
    assert post.image == LeadImage("https://notes.example.org/media/chart.png", "", "image/png")
    # no extension, no type: the feeds then give no enclosure, never a guessed one
    post, _ = one_post(site, "notes/snow.md", markdown(image="https://img.example.org/p?id=4"))
    assert post.image == LeadImage("https://img.example.org/p?id=4")


@pytest.mark.nostore
@pytest.mark.parametrize(
    "value",
    [
        "javascript:alert(1)",
        "data:image/png;base64,iVBORw0KGgo=",
        "media/chart.png",  # relative to a page whose address is not known yet
        "ftp://files.example.org/snow.jpg",
        "https://img.example.org/" + "a" * 2000 + ".jpg",
        42,
    ],
)
def test_an_image_that_is_no_web_address_is_refused_and_the_post_still_published(site, value):
    post, warnings = one_post(site, "notes/snow.md", markdown(image=value))
    assert post.image is None and post.title == "Snow days"
    assert len(warnings) == 1 and "'image'" in warnings[0] and "no lead image" in warnings[0]


@pytest.mark.nostore
def test_a_url_in_two_lines_or_with_spaces_becomes_one_line():
    image = lead_image("https://img.example.org/a snow\nday.jpg", "A\n  gritter")
    assert image == LeadImage(
        "https://img.example.org/a%20snow%20day.jpg", "A gritter", "image/jpeg"
    )


@pytest.mark.nostore
def test_a_sidecar_gives_a_capture_its_image_and_alt(site):
    sidecar = (
        'url = "https://www.example.org/news/leadership"\n'
        f'image = "{PHOTO.url}"\nimage_alt = "{PHOTO.alt}"\n'
    )
    post, warnings = one_post(site, "news/leadership.txt", NEWS_PAGE, sidecar)
    assert post.image == PHOTO and not warnings
    post, warnings = one_post(site, "news/leadership.txt", NEWS_PAGE, 'image = "javascript:x"\n')
    assert post.image is None and any("sidecar 'image'" in w for w in warnings)


def saved_page(head: str = "", body_start: str = "", og_url: str = "") -> str:
    """A saved article page: `head` in its <head>, `body_start` before the article's text."""
    canonical = f'<meta property="og:url" content="{og_url}">' if og_url else ""
    paragraphs = "".join(f"<p>{WORDS} Paragraph {n}.</p>" for n in range(6))
    return (
        f"<!doctype html><html><head><title>Snow days and duty teams</title>{canonical}{head}"
        '<meta property="og:site_name" content="Example Care Weekly"></head><body>'
        '<nav><img src="/assets/menu-photo.jpg" alt="menu"></nav>'
        f"<article><h1>Snow days and duty teams</h1>{body_start}{paragraphs}"
        '<p>See <a href="/2020/x">the 2020 report</a>.</p></article></body></html>'
    )


ORIGINAL = "https://www.example.org/news/2026/snow-days"


@pytest.mark.nostore
def test_a_saved_page_gives_its_og_image_resolved_against_the_original(site):
    head = (
        '<meta property="og:image" content="/images/gritter.jpg">'
        '<meta property="og:image:alt" content="A gritter at dawn">'
    )
    post, _ = one_post(site, "pages/snow.html", saved_page(head, og_url=ORIGINAL))
    assert post.image == LeadImage(
        "https://www.example.org/images/gritter.jpg", "A gritter at dawn", "image/jpeg"
    )
    assert post.attribution.url == ORIGINAL
    # the image's own alt when the page says none for sharing
    body = '<figure><img src="/images/gritter.jpg" alt="The gritter"></figure>'
    head = '<meta name="twitter:image" content="https://www.example.org/images/gritter.jpg">'
    post, _ = one_post(site, "pages/snow.html", saved_page(head, body, og_url=ORIGINAL))
    assert post.image.alt == "The gritter"


@pytest.mark.nostore
def test_a_saved_page_without_og_image_gives_its_first_picture_not_pixels_or_logos(site):
    body = (
        '<img src="https://track.example.net/p.gif" width="1" height="1" alt="">'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="">'
        '<img src="/assets/site-logo.png" alt="Example Care Weekly">'
        '<img src="/assets/share.svg" alt="Share">'
        '<img class="avatar" src="/people/jane.jpg" alt="Jane">'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="photos/snow.webp"'
        ' alt="Snow on the car park" width="800" height="450">'
        '<img src="/photos/second.jpg" alt="A second picture">'
    )
    post, _ = one_post(site, "pages/snow.html", saved_page(body_start=body, og_url=ORIGINAL))
    assert post.image == LeadImage(
        "https://www.example.org/news/2026/photos/snow.webp", "Snow on the car park", "image/webp"
    )


@pytest.mark.nostore
def test_a_page_whose_only_image_is_a_tracking_pixel_has_no_lead_image(site):
    body = '<img src="https://track.example.net/p.gif?u=1" width="1" height="1">'
    post, _ = one_post(site, "pages/snow.html", saved_page(body_start=body, og_url=ORIGINAL))
    assert post.image is None
    # nor one whose image is relative, with nothing to resolve it against
    post, _ = one_post(site, "pages/snow.html", saved_page(body_start='<img src="a/b.jpg">'))
    assert post.image is None


@pytest.mark.nostore
def test_a_sidecar_alt_describes_the_image_the_page_gave(site):
    head = '<meta property="og:image" content="https://www.example.org/images/gritter.jpg">'
    sidecar = 'image_alt = "A yellow gritter lorry"\n'
    post, _ = one_post(site, "pages/snow.html", saved_page(head, og_url=ORIGINAL), sidecar)
    assert post.image.url == "https://www.example.org/images/gritter.jpg"
    assert post.image.alt == "A yellow gritter lorry"


ARTICLE = saved_page(
    '<meta property="og:image" content="/images/gritter.jpg">'
    '<meta property="og:image:alt" content="A gritter at dawn">'
    '<meta property="article:published_time" content="2026-11-20">'
)


class _Pages(BaseHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        pass

    def do_GET(self) -> None:
        body = ARTICLE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def pages() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_an_added_link_keeps_its_og_image_through_to_the_feeds(tmp_path, pages):
    site = make_site(tmp_path, config=BASE + "[fetch]\nallow_private = true\n")
    done = postroom(site.root, "add", f"{pages}/news/snow-days")
    assert done.returncode == 0, done.stderr
    [written] = (site.content_dir / "links").glob("*.md")
    front = yaml.safe_load(written.read_text().split("---")[1])
    # the page's relative og:image, resolved against the address it was served from
    assert front["image"] == f"{pages}/images/gritter.jpg"
    assert front["image_alt"] == "A gritter at dawn"
    store = Store(site.store_url)
    try:
        scan(site, store)
        [post] = store.posts()
    finally:
        store.close()
    assert post.image == LeadImage(f"{pages}/images/gritter.jpg", "A gritter at dawn", "image/jpeg")
    build(site, [post])
    [entry] = feedparser.parse(read(site, "atom.xml")).entries
    assert entry.media_thumbnail == [{"url": f"{pages}/images/gritter.jpg"}]


RSS_WITH_IMAGES = """<?xml version="1.0"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>Weekly</title>
<link>https://www.example.org/</link>
<item><title>Thumbnail</title><link>https://www.example.org/a</link>
<media:thumbnail url="/thumbs/a.jpg" width="150"/></item>
<item><title>Enclosure</title><link>https://www.example.org/b</link>
<enclosure url="https://www.example.org/b.png" length="5120" type="image/png"/></item>
<item><title>Podcast</title><link>https://www.example.org/c</link>
<enclosure url="https://www.example.org/c.mp3" length="99" type="audio/mpeg"/></item>
<item><title>Script</title><link>https://www.example.org/d</link>
<media:thumbnail url="javascript:alert(1)"/></item>
</channel></rss>"""


@pytest.mark.nostore
def test_a_followed_feeds_entries_carry_their_images():
    feed = read_feed(Fetched("https://www.example.org/feed", 200, "application/rss+xml",
                             RSS_WITH_IMAGES.encode()))  # fmt: skip
    images = [entry.image for entry in feed.entries]
    assert images == [
        LeadImage("https://www.example.org/thumbs/a.jpg", "", "image/jpeg"),
        LeadImage("https://www.example.org/b.png", "", "image/png", 5120),  # its length known
        None,  # a podcast's audio is no picture
        None,  # nor is a script
    ]
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Weekly",
        "items": [{"id": "1", "url": "https://www.example.org/e", "title": "E",
                   "content_text": "Text.", "image": "https://www.example.org/e.gif"}],
    }  # fmt: skip
    [entry] = read_feed(Fetched("https://www.example.org/feed.json", 200, "application/json",
                                json.dumps(doc).encode())).entries  # fmt: skip
    assert entry.image == LeadImage("https://www.example.org/e.gif", "", "image/gif")


# --- feeds ----------------------------------------------------------------------------


def test_every_feed_format_carries_the_image_and_an_enclosure_only_when_its_length_is_known(
    site,
):
    sized = replace(PHOTO, url="https://img.example.org/sized.jpg", length=48213)
    posts = [
        make_post(1, image=PHOTO),
        make_post(2, image=sized),
        make_post(3),
    ]
    build(site, posts)
    atom = etree.fromstring(read(site, "atom.xml"))
    rss = etree.fromstring(read(site, "rss.xml"))
    by_id = {e.findtext(f"{ATOM}id").rsplit(":", 1)[1]: e for e in atom.iter(f"{ATOM}entry")}
    items = {i.findtext("link").rstrip("/").rsplit("/", 1)[1]: i for i in rss.iter("item")}
    for post in posts:
        for entry in (by_id[post.id], items[post.id]):
            thumbs = [t.get("url") for t in entry.findall(f"{MEDIA}thumbnail")]
            assert thumbs == ([post.image.url] if post.image else [])
    # the enclosure: RSS requires length and type, and the W3C validator refuses length="0"
    enclosures = by_id["post-2"].findall(f"{ATOM}link[@rel='enclosure']")
    assert [dict(e.attrib) for e in enclosures] == [
        {"href": sized.url, "rel": "enclosure", "type": "image/jpeg", "length": "48213"}
    ]
    assert dict(items["post-2"].find("enclosure").attrib) == {
        "url": sized.url, "length": "48213", "type": "image/jpeg"
    }  # fmt: skip
    for post_id in ("post-1", "post-3"):
        assert by_id[post_id].find(f"{ATOM}link[@rel='enclosure']") is None
        assert items[post_id].find("enclosure") is None
    for name in ("atom.xml", "rss.xml"):  # and feedparser reads them back
        parsed = {
            e.link.rstrip("/").rsplit("/", 1)[1]: e
            for e in feedparser.parse(read(site, name)).entries
        }
        assert parsed["post-1"].media_thumbnail == [{"url": PHOTO.url}]
        assert parsed["post-1"].enclosures == []
        [enclosure] = parsed["post-2"].enclosures
        assert (enclosure.href, enclosure.type, enclosure.length) == (
            sized.url,
            "image/jpeg",
            "48213",
        )
        assert "media_thumbnail" not in parsed["post-3"]
    items_json = {
        i["url"].rstrip("/").rsplit("/", 1)[1]: i
        for i in json.loads(read(site, "feed.json"))["items"]
    }
    assert items_json["post-1"]["image"] == PHOTO.url and "attachments" not in items_json["post-1"]
    assert items_json["post-2"]["attachments"] == [
        {"url": sized.url, "mime_type": "image/jpeg", "size_in_bytes": 48213}
    ]
    assert "image" not in items_json["post-3"]
    before = {name: read(site, name) for name in ("atom.xml", "rss.xml", "feed.json")}
    build(site, list(reversed(posts)))  # deterministic: the same posts, the same bytes
    assert before == {name: read(site, name) for name in before}


def test_an_entry_summary_is_plain_text_cut_at_a_word(site):
    long = make_post(1, summary="", body_html="<p>" + "<b>Snow</b> days again. " * 60 + "</p>")
    summary = entry_summary(site, long)
    assert summary.endswith("…") and len(summary) <= SUMMARY_CHARS + 1
    assert "<" not in summary and summary.startswith("Snow days again. Snow days")
    assert summary[:-1].split(" ")[-1] in {"Snow", "days", "again"}
    assert entry_summary(site, make_post(2, summary="Said  by\nthe curator.")) == (
        "Said by the curator."
    )


# --- the digest and the page ---------------------------------------------------------


def test_the_digest_shows_a_small_image_with_alt_text_in_full_and_excerpt_never_in_the_list(
    tmp_path,
):
    site = make_site(tmp_path, config=BASE + "[digest]\nmax_posts = 2\n")
    posts = [make_post(n, image=replace(PHOTO, url=f"https://img.example.org/{n}.jpg"))
             for n in (1, 2, 3)]  # fmt: skip
    rendered = render_digest(site, 1, posts)
    tree = lxml_html.fromstring(rendered.html)
    images = tree.xpath("//img")
    assert [i.get("src") for i in images] == [posts[0].image.url, posts[1].image.url]
    for image in images:
        assert image.get("alt") == PHOTO.alt
        assert int(image.get("width")) <= 560
        style = image.get("style").replace(" ", "")
        assert "max-width:100%" in style and "height:auto" in style
        post = image.xpath("ancestor::div[contains(@class, 'post')]")[0]
        assert post.xpath(".//h2//a")  # beside its headline and text: never all there is
    assert posts[2].image.url not in rendered.html  # "More this week" lists titles only
    assert "img.example.org" not in rendered.text
    full = render_digest(make_site(tmp_path / "f", config=BASE + "[digest]\nfull_text = true\n"),
                         1, posts[:1])  # fmt: skip
    assert full.html.count("<img") == 1


def test_the_post_page_shows_the_image(site):
    build(site, [make_post(1, image=PHOTO), make_post(2)])
    page = lxml_html.fromstring(read(site, "posts/post-1/index.html"))
    [image] = page.xpath("//article/img")
    assert (image.get("src"), image.get("alt")) == (PHOTO.url, PHOTO.alt)
    assert not lxml_html.fromstring(read(site, "posts/post-2/index.html")).xpath("//article/img")


FOLLOWED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>Weekly</title>
<link>https://www.example.org/</link><description>News</description>
<item><title>Snow days and duty teams</title><link>https://www.example.org/news/snow</link>
<guid isPermaLink="false">urn:example:1</guid><pubDate>Tue, 01 Dec 2026 09:00:00 +0000</pubDate>
<description>&lt;p&gt;Duty teams kept the phones open.&lt;/p&gt;</description>
<media:thumbnail url="/thumbs/snow.jpg"/></item>
</channel></rss>"""


def test_a_followed_feeds_entry_is_written_with_its_image(tmp_path):
    with feed_server() as server:
        url = server.set("/feed", FOLLOWED)
        config = f'{BASE}[fetch]\nallow_private = true\n[[follow]]\nurl = "{url}"\n'
        site = make_site(tmp_path, config=config)
        store = Store(site.store_url)
        try:
            [report] = Follower(Fetcher(site, store)).poll(datetime(2026, 12, 2, 9, tzinfo=UTC))
        finally:
            store.close()
    [written] = report.written
    meta, _ = front_matter((site.content_dir / written).read_text())
    assert meta["image"] == f"{server.url}/thumbs/snow.jpg"  # against the feed's address
    assert "image_alt" not in meta
