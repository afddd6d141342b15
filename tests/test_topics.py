"""Tag and source pages, topics/ and feeds/: what a reader finds by following links from a
post or the index, and what a feed reader's autodiscovery finds on a topic's page.

Read back as HTML (lxml) and the feeds they point to with feedparser; the pages in
Chromium at 375 px, served over HTTP on 127.0.0.1 by `postroom serve`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from lxml import etree
from playwright.sync_api import expect
from postroom.core.model import Attribution
from postroom.feeds import build
from postroom.feeds.pages import ON_FIRST_PAGE, ON_INDEX
from support import make_post, read
from web_support import screenshot_width, serving

pytestmark = pytest.mark.once  # pages, feeds and files: the same on either store

BASE = "https://notes.example.org/"
FEED_NAMES = ("atom.xml", "rss.xml", "feed.json")
TYPES = ("application/atom+xml", "application/rss+xml", "application/feed+json")
SITE_FEEDS = [
    ("application/atom+xml", f"{BASE}atom.xml"),
    ("application/rss+xml", f"{BASE}rss.xml"),
    ("application/feed+json", f"{BASE}feed.json"),
    ("application/atom+xml", f"{BASE}digests/atom.xml"),
]


def page(site, name):
    return etree.HTML(read(site, name))


def listed(site, name):
    """The titles a list page shows, in order."""
    return [li.findtext("h2/a") for li in page(site, name).findall(".//ol[@class='posts']/li")]


def alternates(html):
    return [
        (link.get("type"), link.get("href"), link.get("title"))
        for link in html.iter("link")
        if link.get("rel") == "alternate"
    ]


def local(site, url):
    """The file under public/ that `url` (an address on the site) is served from."""
    assert url.startswith(BASE), url
    path = site.public_dir / url.removeprefix(BASE)
    return path / "index.html" if url.endswith("/") else path


def dated(n, day, **changes):
    """Post n, written on `day` of 2016 (its own date), picked up n hours after T0."""
    return make_post(n, date=datetime(2016, 1, 1, tzinfo=UTC) + timedelta(days=day), **changes)


def test_a_tag_page_lists_every_post_by_its_own_date_not_only_the_feed_window(feed_site):
    # window is 3; the pick-up order (n) and the written order (day) disagree
    posts = [dated(n, day, tags=("policy",)) for n, day in ((1, 30), (3, 10), (5, 50), (7, 20))]
    posts += [dated(9, 40, tags=()), dated(11, 5, tags=("policy",))]
    build(feed_site, posts)
    expected = ["Post number 5", "Post number 1", "Post number 7", "Post number 3"]
    assert listed(feed_site, "tags/policy/index.html") == [*expected, "Post number 11"]
    on_posts_page = page(feed_site, "posts/index.html").xpath("//ol/li/a/text()")
    assert [t for t in on_posts_page if t != "Post number 9"] == [*expected, "Post number 11"]
    assert len(feedparser.parse(read(feed_site, "tags/policy/atom.xml")).entries) == 3
    assert listed(feed_site, "sources/community-care/index.html") == [
        "Post number 5",
        "Post number 9",
        "Post number 1",
        "Post number 7",
        "Post number 3",
        "Post number 11",
    ]
    item = page(feed_site, "tags/policy/index.html").find(".//ol/li")
    assert item.find("h2/a").get("href") == f"{BASE}posts/post-5/"
    assert item.find("p/time").get("datetime") == "2016-02-20T00:00:00+00:00"
    assert item.findtext("p/time") == "20 February 2016"
    credit = item.find("p[@class='credit']")
    assert "".join(credit.itertext()).startswith("By Mark Rogers, chief executive")
    assert credit.find("a").get("href") == "https://www.communitycare.co.uk/5"
    assert page(feed_site, "tags/policy/index.html").findtext(".//h1") == "Tagged policy"
    assert page(feed_site, "sources/community-care/index.html").findtext(".//h1") == (
        "From Community Care"
    )


def nav(site, name):
    """(rel, href) of a page's newer/older links."""
    return [(a.get("rel"), a.get("href")) for a in page(site, name).iterfind(".//nav/a")]


def test_a_topic_page_shows_the_newest_and_its_years_and_a_year_goes_with_its_posts(feed_site):
    # 55 policy posts over two years (their own dates): more than the first page holds
    posts = [
        make_post(2 * n + 1, date=datetime(2015 + n % 2, 1 + n % 12, 1 + n % 28, tzinfo=UTC))
        for n in range(ON_FIRST_PAGE + 5)
    ]
    build(feed_site, posts)
    first = "tags/policy/index.html"
    dated = sorted(posts, key=lambda p: (p.date, p.id), reverse=True)
    assert listed(feed_site, first) == [p.title for p in dated[:ON_FIRST_PAGE]]
    years = page(feed_site, first).iterfind(".//ul[@class='inline years']/li/a")
    assert [(a.text, a.get("href")) for a in years] == [
        ("2016", f"{BASE}tags/policy/2016.html"),
        ("2015", f"{BASE}tags/policy/2015.html"),
    ]
    of_2015 = "tags/policy/2015.html"
    assert listed(feed_site, of_2015) == [p.title for p in dated if p.date.year == 2015]
    assert nav(feed_site, of_2015) == [("prev", f"{BASE}tags/policy/2016.html")]
    assert (
        page(feed_site, of_2015).findtext("head/title") == "Tagged policy · 2015 · Practice Notes"
    )

    added = make_post(201, date=datetime(2016, 5, 5, tzinfo=UTC))
    report = build(feed_site, [*posts, added])  # a post of 2016: 2015's page is left alone
    assert "tags/policy/2016.html" in report.written and of_2015 not in report.written

    report = build(feed_site, [p for p in posts if p.date.year == 2016] + [added])
    assert of_2015 in report.removed
    assert not (feed_site.public_dir / of_2015).exists()


def test_a_topic_page_autodiscovers_its_own_feeds_first_then_the_sites(feed_site):
    build(feed_site, [make_post(n) for n in (1, 2, 3)])
    for folder, title in (
        ("tags/policy/", "Practice Notes: policy"),
        ("sources/community-care/", "Practice Notes: from Community Care"),
    ):
        found = alternates(page(feed_site, folder + "index.html"))
        own = [(t, f"{BASE}{folder}{name}") for t, name in zip(TYPES, FEED_NAMES, strict=True)]
        assert [(t, href) for t, href, _ in found] == own + SITE_FEEDS
        for kind, href, label in found:
            path = local(feed_site, href)
            assert path.is_file(), href
            if kind == "application/feed+json":
                assert json.loads(path.read_bytes())["title"] + " (JSON Feed)" == label
            elif folder in href:
                parsed = feedparser.parse(path.read_bytes())
                assert not parsed.bozo, href
                assert label == f"{parsed.feed.title} ({'Atom' if 'atom' in kind else 'RSS'})"
                assert parsed.feed.title == title
    index = alternates(page(feed_site, "index.html"))
    assert [(t, href) for t, href, _ in index] == SITE_FEEDS  # the index advertises the site's


def test_a_post_page_links_its_tags_and_source_to_their_pages(feed_site):
    lgc = Attribution(source="Local Government Chronicle", url="https://www.lgcplus.com/4")
    post = make_post(1, tags=("policy", "Social Work", "  "), attribution=lgc)
    other = make_post(3, tags=("social-work",))  # the same slug: the same folder
    build(feed_site, [post, other])
    article = page(feed_site, "posts/post-1/index.html").find(".//article")
    tags, source = article.findall("p[@class='meta']")
    assert "".join(tags.itertext()) == "Tags: policy, Social Work,   "  # a blank tag: no link
    links = [(a.text, a.get("href")) for a in tags.iter("a")]
    assert links == [("policy", f"{BASE}tags/policy/"), ("Social Work", f"{BASE}tags/social-work/")]
    assert "".join(source.itertext()) == "More from Local Government Chronicle"
    href = source.find("a").get("href")
    assert href == f"{BASE}sources/local-government-chronicle/"
    for url in [href] + [url for _, url in links]:
        assert local(feed_site, url).is_file(), url
    merged = page(feed_site, "tags/social-work/index.html")
    assert merged.findtext(".//h1") == "Tagged Social Work"  # the first spelling, sorted
    assert listed(feed_site, "tags/social-work/index.html") == ["Post number 3", "Post number 1"]
    other_page = page(feed_site, "posts/post-3/index.html").find(".//article/p[@class='meta']/a")
    assert other_page.get("href") == f"{BASE}tags/social-work/"
    assert not list(feed_site.public_dir.glob("tags/untitled*"))


def test_names_and_bytes_do_not_depend_on_the_order_posts_come_in(feed_site):
    posts = [
        make_post(1, tags=("social-work", "Social Work")),
        make_post(2, tags=("SOCIAL WORK",)),
        make_post(3, tags=("Social work!",)),
    ]
    build(feed_site, posts)
    snapshot = {p: p.read_bytes() for p in feed_site.public_dir.rglob("*") if p.is_file()}
    again = build(feed_site, list(reversed(posts)))
    assert again.written == () and again.removed == ()
    assert snapshot == {p: p.read_bytes() for p in feed_site.public_dir.rglob("*") if p.is_file()}
    assert page(feed_site, "tags/social-work/index.html").findtext(".//h1") == "Tagged SOCIAL WORK"


def test_feeds_page_lists_every_feed_file_there_is_with_how_to_subscribe(feed_site):
    lgc = Attribution(source="Local Government Chronicle", url="https://www.lgcplus.com/4")
    posts = [make_post(n, tags=(f"tag {n % 3}",)) for n in range(1, 8)]
    build(feed_site, [*posts, make_post(8, attribution=lgc)])
    on_disk = {
        BASE + path.relative_to(feed_site.public_dir).as_posix()
        for path in feed_site.public_dir.rglob("*")
        if path.name in FEED_NAMES
    }
    assert len(on_disk) == 3 + 1 + 3 * 3 + 2 * 3  # site, digest, 3 tags, 2 sources
    html = page(feed_site, "feeds/index.html")
    linked = {href for href in html.xpath("//main//a/@href") if href.endswith(FEED_NAMES)}
    assert linked == on_disk
    shown = set(html.xpath("//main//code/text()"))  # the site's addresses, to copy
    assert {f"{BASE}atom.xml", f"{BASE}rss.xml", f"{BASE}digests/atom.xml"} <= shown
    how = "".join(html.find(".//main/p").itertext())
    assert how.startswith("How to subscribe: copy a feed's address")
    assert "feed reader" in how
    topic_pages = {a.get("href") for a in html.iterfind(".//ul[@class='feeds topics']/li/a[1]")}
    assert topic_pages == {f"{BASE}tags/tag-{n}/" for n in range(3)}


def test_hostile_tag_and_source_names_are_text_everywhere(feed_site):
    evil_tag = '<script>alert("tag")</script>'
    evil_source = '"><img src=x onerror=alert(1)>'
    post = make_post(
        1, tags=(evil_tag,), attribution=Attribution(source=evil_source, url="https://x.org/1")
    )
    build(feed_site, [post])
    pages = [
        "index.html",
        "topics/index.html",
        "feeds/index.html",
        "posts/post-1/index.html",
        "tags/script-alert-tag-script/index.html",
        "sources/img-src-x-onerror-alert-1/index.html",
    ]
    for name in pages:
        html = page(feed_site, name)
        assert not list(html.iter("script")), name
        assert not html.xpath("//img"), name
        assert not html.xpath("//@onerror"), name
        text = "".join(html.find("body").itertext())
        assert evil_tag in text or name.startswith("sources/"), name  # it lists no tags
        assert evil_source in text, name
    head = alternates(page(feed_site, "tags/script-alert-tag-script/index.html"))
    assert head[0][2] == f"Practice Notes: {evil_tag} (Atom)"  # escaped, read back whole


def test_the_index_names_the_most_used_topics_and_links_to_all_and_to_the_feeds(feed_site):
    posts = [make_post(n, tags=(f"topic {n:03}",)) for n in range(100)]
    posts += [make_post(300 + n, tags=("busy",)) for n in range(3)]
    posts += [make_post(400 + n, tags=("second",)) for n in range(2)]
    build(feed_site, posts)
    html = page(feed_site, "index.html")
    tags = html.xpath("//ul[@class='inline topics']/li/a/text()")
    assert len(tags) == ON_INDEX
    assert tags[:3] == ["busy", "second", "topic 000"]
    assert html.xpath("//ul[@class='inline sources']/li/a/text()") == ["Community Care"]
    more = {a.get("href"): a.text for a in html.iter("a")}
    assert more[f"{BASE}topics/"] == "All 103 topics and sources"
    assert more[f"{BASE}feeds/"].startswith("Every feed")
    overview = page(feed_site, "topics/index.html")
    all_tags = overview.xpath("//ul[@class='inline topics']/li/a")
    assert len(all_tags) == 102
    for a in all_tags:
        assert local(feed_site, a.get("href")).is_file()


def test_a_removed_tag_takes_its_pages_and_feeds_with_it(feed_site):
    posts = [make_post(1, tags=("passing fad",)), make_post(3)]
    build(feed_site, posts)
    folder = feed_site.public_dir / "tags" / "passing-fad"
    assert sorted(p.name for p in folder.iterdir()) == [
        "atom.xml",
        "feed.json",
        "index.html",
        "rss.xml",
    ]
    report = build(feed_site, [replace(posts[0], tags=()), posts[1]])
    assert "tags/passing-fad/index.html" in report.removed
    assert not folder.exists() or not any(folder.iterdir())
    assert "passing fad" not in read(feed_site, "feeds/index.html").decode()
    assert "passing fad" not in read(feed_site, "topics/index.html").decode()
    assert "passing-fad" not in read(feed_site, "posts/post-1/index.html").decode()


# --- in Chromium, at a phone's width ---

LONG_TAG = "Kinderschutzfachkraftberatungsstellenkoordinationsausschuss"
SITE_FILES = {
    f"p{n}.md": f"""---
title: Duty teams, note {n}
date: 2016-06-{n + 10}
source: The Very Long Named Journal of Safeguarding Practice and Research
source_url: https://www.example.org/{n}
tags: [{LONG_TAG}, duty teams]
---
Duty teams kept the phones open through the snow ({n}).
"""
    for n in range(1, 4)
}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("topics") / "site"
    with serving(root, SITE_FILES) as served:
        yield served


@pytest.mark.parametrize(
    "path",
    ["tags/kinderschutzfachkraftberatungsstellenkoordinationsausschuss/", "feeds/"],
)
def test_topic_and_feeds_pages_fit_a_phone_with_their_links_in_view(
    chromium, served, path, tmp_path
):
    context = chromium.new_context(viewport={"width": 375, "height": 812})
    try:
        browser = context.new_page()
        response = browser.goto(served.url + path)
        assert response is not None and response.ok, path
        scroll, inner = screenshot_width(browser, tmp_path / f"{path.strip('/')[:20]}-375.png")
        assert scroll <= inner, f"{path}: {scroll} px wide in a {inner} px window"
        links = browser.locator("main a")
        assert links.count() >= 6
        for n in range(links.count()):
            link = links.nth(n)
            link.scroll_into_view_if_needed()
            expect(link).to_be_visible()
            box = link.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= inner + 1, (
                path,
                link.inner_text(),
                box,
            )
        feeds = browser.locator("main a", has_text="Atom").first
        href = feeds.get_attribute("href")
        assert context.request.get(href).ok, href  # what the link points at is served
    finally:
        context.close()


def test_names_in_other_scripts_keep_folders_of_their_own(feed_site):
    """A slug drops letters outside Latin: "日本語", "Россия" and "Ελληνικά" would all be
    "untitled", "Россия Times" and "日本語 Times" both "times". Such names get a digest
    of the name after their slug; Latin names (accents too) keep their plain slug."""
    tags = ("日本語", "Россия", "Ελληνικά", "Café", "social work")
    sources = ("Россия Times", "日本語 Times", "Times")
    posts = [
        make_post(n, tags=(tag,), attribution=Attribution(source=source))
        for n, (tag, source) in enumerate(zip(tags, sources * 2, strict=False), 1)
    ]
    build(feed_site, posts)
    tag_folders = sorted(p.name for p in (feed_site.public_dir / "tags").iterdir())
    assert len(tag_folders) == len(tags)  # one each, none shared
    assert {"cafe", "social-work"} <= set(tag_folders)
    source_folders = sorted(p.name for p in (feed_site.public_dir / "sources").iterdir())
    assert len(source_folders) == 3 and "times" in source_folders
    for folder in tag_folders:
        [entry] = feedparser.parse(read(feed_site, f"tags/{folder}/atom.xml")).entries
        assert entry.tags[0].term in tags


def test_symbol_names_keep_folders_of_their_own_and_punctuation_is_no_difference(feed_site):
    posts = [
        make_post(1, tags=("🔥",)),
        make_post(2, tags=("💧",)),
        make_post(3, tags=("日本語",)),
        make_post(5, tags=("日本語!",)),
        make_post(7, tags=("Straße",)),
        make_post(9, tags=("strasse",)),
    ]
    build(feed_site, posts)
    folders = sorted(p.name for p in (feed_site.public_dir / "tags").iterdir())
    assert len(folders) == 4 and "strasse" in folders  # 🔥, 💧, 日本語(!), Straße/strasse
