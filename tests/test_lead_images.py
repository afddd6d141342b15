"""A post's lead image (issue 17, "Richer entries"): found by every intake route (front
matter, sidecar, a saved page's og:image or first picture, an added link's og:image, a
followed feed's media:thumbnail), carried by every feed format (checked in the emitted
XML with lxml and read back by feedparser) and shown, small and never needed, in the
digest and on the post's page."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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
from postroom.core.config import Site
from postroom.core.model import LeadImage, Severity
from postroom.core.urls import lead_image
from postroom.emails.render import render_digest
from postroom.feeds import build
from postroom.feeds.syndication import SUMMARY_CHARS, entry_summary
from postroom.service.fetching import Fetcher
from postroom.service.follow import FeedReport, Follower
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


@contextmanager
def followed(tmp_path, feed: str) -> Iterator[tuple[str, Site, Store, FeedReport]]:
    """`feed` served on 127.0.0.1 and followed once: (the server's URL, the site, its
    store (open inside the block), the poll's report)."""
    with feed_server() as server:
        url = server.set("/feed", feed)
        config = f'{BASE}[fetch]\nallow_private = true\n[[follow]]\nurl = "{url}"\n'
        site = make_site(tmp_path, config=config)
        store = Store(site.store_url)
        try:
            [report] = Follower(Fetcher(site, store)).poll(datetime(2026, 12, 2, 9, tzinfo=UTC))
            yield server.url, site, store, report
        finally:
            store.close()


def test_a_followed_feeds_entry_is_written_with_its_image(tmp_path):
    with followed(tmp_path, FOLLOWED) as (served, site, _, report):
        pass
    [written] = report.written
    meta, _ = front_matter((site.content_dir / written).read_text())
    assert meta["image"] == f"{served}/thumbs/snow.jpg"  # against the feed's address
    assert "image_alt" not in meta


# --- found by an adversarial tester ---------------------------------------------------

ODD_SIZES = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>Odd</title>
<link>https://www.example.org/</link><description>News</description>
<item><title>A superscript two</title><link>https://www.example.org/news/a</link>
<guid isPermaLink="false">urn:odd:1</guid><pubDate>Tue, 01 Dec 2026 09:00:00 +0000</pubDate>
<description>First.</description>
<enclosure url="/pic.jpg" type="image/jpeg" length="²"/></item>
<item><title>A media content size in Arabic digits</title><link>https://www.example.org/news/b</link>
<guid isPermaLink="false">urn:odd:2</guid><pubDate>Tue, 01 Dec 2026 10:00:00 +0000</pubDate>
<description>Second.</description>
<media:content url="/b.png" type="image/png" medium="image" fileSize="١٢٣"/></item>
</channel></rss>"""


@pytest.mark.nostore
@pytest.mark.parametrize(
    "length", ["²", "١٢٣", "0", "-5", "5e3", "12.5", "unknown", "9" * 5000, True, 2**40, 0, -1]
)
def test_a_length_that_is_no_whole_number_of_bytes_is_ignored_and_the_image_kept(length):
    image = lead_image("https://img.example.org/a.jpg", "", "", "image/jpeg", length)
    assert image == LeadImage("https://img.example.org/a.jpg", "", "image/jpeg", None)
    assert lead_image("https://img.example.org/a.jpg", "", "", "", " 5120 ").length == 5120


def test_an_odd_length_in_a_followed_feed_never_makes_the_feed_unreadable(tmp_path):
    """`length="²"` passed str.isdigit() and failed int(): the whole feed was unreadable
    in `follow check` and `run`. Now the number is ignored and every entry is written."""
    with followed(tmp_path, ODD_SIZES) as (served, site, _, report):
        pass
    assert not report.error and len(report.written) == 2
    images = {}
    for written in report.written:
        meta, _ = front_matter((site.content_dir / written).read_text())
        images[meta["title"]] = meta
    pic = images["A superscript two"]
    assert pic["image"] == f"{served}/pic.jpg" and "image_length" not in pic
    png = images["A media content size in Arabic digits"]
    assert png["image"] == f"{served}/b.png" and "image_length" not in png


ENCLOSED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Weekly</title>
<link>https://www.example.org/</link><description>News</description>
<item><title>Snow days and duty teams</title><link>https://www.example.org/news/snow</link>
<guid isPermaLink="false">urn:example:1</guid><pubDate>Tue, 01 Dec 2026 09:00:00 +0000</pubDate>
<description>&lt;p&gt;Duty teams kept the phones open.&lt;/p&gt;</description>
<enclosure url="/media/pic.jpg" type="image/jpeg" length="12345"/></item>
</channel></rss>"""


def test_a_followed_feeds_image_enclosure_reaches_every_feed_as_an_enclosure(tmp_path):
    """The feed's type and length were lost on the way to the post file, so no feed ever
    gave an enclosure: now the front matter keeps them and every format gives one."""
    with followed(tmp_path, ENCLOSED) as (served, site, store, report):
        [written] = report.written
        meta, _ = front_matter((site.content_dir / written).read_text())
        picture = f"{served}/media/pic.jpg"
        assert (meta["image"], meta["image_type"], meta["image_length"]) == (
            picture,
            "image/jpeg",
            12345,
        )
        report = scan(site, store)
        assert not [p for p in report.problems if "image" in p.reason], report.problems
        [post] = store.posts()
    assert post.image == LeadImage(picture, "", "image/jpeg", 12345)
    build(site, [post])
    atom = etree.fromstring(read(site, "atom.xml"))
    [enclosure] = atom.findall(f"{ATOM}entry/{ATOM}link[@rel='enclosure']")
    assert dict(enclosure.attrib) == {
        "href": picture, "rel": "enclosure", "type": "image/jpeg", "length": "12345"
    }  # fmt: skip
    rss = etree.fromstring(read(site, "rss.xml"))
    [enclosure] = rss.findall("channel/item/enclosure")
    assert dict(enclosure.attrib) == {"url": picture, "length": "12345", "type": "image/jpeg"}
    [item] = json.loads(read(site, "feed.json"))["items"]
    assert item["attachments"] == [
        {"url": picture, "mime_type": "image/jpeg", "size_in_bytes": 12345}
    ]


@pytest.mark.nostore
def test_front_matter_and_sidecar_give_the_images_type_and_length(site):
    post, warnings = one_post(
        site, "notes/snow.md", markdown(image=PHOTO.url, image_type="image/webp", image_length=512)
    )
    assert post.image == replace(PHOTO, alt="", media_type="image/webp", length=512)
    assert not warnings
    # a bad type or length is said and left out; the image stays, its type guessed
    post, warnings = one_post(
        site, "notes/snow.md", markdown(image=PHOTO.url, image_type="text/html", image_length="²")
    )
    assert post.image == replace(PHOTO, alt="")
    assert len(warnings) == 2
    assert "front matter 'image_type'" in warnings[0] and "'text/html'" in warnings[0]
    assert "front matter 'image_length'" in warnings[1] and "'²'" in warnings[1]
    # without an image they say nothing of one
    post, warnings = one_post(site, "notes/snow.md", markdown(image_length=512))
    assert post.image is None and warnings == [
        "front matter 'image_length' without 'image' ignored"
    ]
    # a sidecar's, with its image or alone about the page's own picture
    sidecar = f'image = "{PHOTO.url}"\nimage_type = "image/png"\nimage_length = 2048\n'
    post, warnings = one_post(site, "news/leadership.txt", NEWS_PAGE, sidecar)
    assert post.image == LeadImage(PHOTO.url, "", "image/png", 2048) and not warnings
    head = '<meta property="og:image" content="https://www.example.org/images/gritter.jpg">'
    page = saved_page(head, og_url=ORIGINAL)
    post, warnings = one_post(site, "pages/snow.html", page, 'image_length = "4096"\n')
    assert post.image == LeadImage(
        "https://www.example.org/images/gritter.jpg", "", "image/jpeg", 4096
    )
    post, warnings = one_post(site, "pages/snow.html", page, "image_length = -3\n")
    assert post.image.length is None and "sidecar 'image_length'" in warnings[0]
    post, warnings = one_post(site, "news/leadership.txt", NEWS_PAGE, 'image_type = "image/png"\n')
    assert post.image is None
    assert warnings == ["sidecar 'image_type' ignored: the post has no image"]


@pytest.mark.nostore
def test_an_image_url_with_characters_no_url_may_hold_is_percent_encoded_once():
    said = 'https://img.example.org/say "cheese" <now>|{x}^`\\.jpg?q=ä'
    encoded = (
        "https://img.example.org/say%20%22cheese%22%20%3Cnow%3E%7C%7Bx%7D%5E%60%5C.jpg?q=%C3%A4"
    )
    assert lead_image(said).url == encoded
    assert lead_image(encoded).url == encoded  # already encoded: left as it is
    assert (
        lead_image("https://img.example.org/100%.jpg").url == "https://img.example.org/100%25.jpg"
    )
    assert lead_image("https://bücher.example/a.jpg").url == "https://xn--bcher-kva.example/a.jpg"


def test_an_image_url_with_a_quote_reaches_the_feeds_encoded(site):
    post, _ = one_post(site, "notes/snow.md", markdown(image='https://img.example.org/a"b.jpg'))
    assert post.image.url == "https://img.example.org/a%22b.jpg"
    stored = make_post(1, image=post.image)
    build(site, [stored])
    [item] = json.loads(read(site, "feed.json"))["items"]
    assert item["image"] == "https://img.example.org/a%22b.jpg"
    assert b'a\\"b' not in read(site, "feed.json")
    for name in ("atom.xml", "rss.xml"):
        [thumb] = etree.fromstring(read(site, name)).iter(f"{MEDIA}thumbnail")
        assert thumb.get("url") == "https://img.example.org/a%22b.jpg"


def test_the_digests_images_have_no_height_attribute_only_css(tmp_path):
    """premailer turned `height: auto` into height="auto": invalid HTML (a number only)."""
    config = BASE + 'republish = "full"\n[digest]\nfull_text = true\n'
    site = make_site(tmp_path, config=config)
    body = '<p>Text.</p><p><img src="https://img.example.org/in.jpg" alt="In the text"></p>'
    rendered = render_digest(site, 1, [make_post(1, image=PHOTO, body_html=body)])
    images = lxml_html.fromstring(rendered.html).xpath("//img")
    assert len(images) == 2
    for image in images:
        assert image.get("height") is None, etree.tostring(image)
        assert "height:auto" in image.get("style").replace(" ", "")
    assert 'height="auto"' not in rendered.html
