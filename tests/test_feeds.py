"""Feeds and pages written by feeds.build(), read back by feedparser, lxml and json."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from lxml import etree

from content.model import Attribution, DateSource, Post
from feeds import build
from tests.support import make_site

ATOM = "{http://www.w3.org/2005/Atom}"
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def make_post(n: int, **changes) -> Post:
    post = Post(
        id=f"post-{n}",
        title=f"Post number {n}",
        date=datetime(2016, 6, n % 28 + 1, tzinfo=UTC),
        date_source=DateSource.TEXT,
        picked_up=T0 + timedelta(hours=n),
        updated=T0 + timedelta(hours=n),
        body_html=f"<p>Body of post {n}.</p>",
        summary=f"Summary {n}",
        attribution=Attribution(
            source="Community Care",
            author="Mark Rogers",
            author_role="chief executive, Solihull MBC",
            url=f"https://www.communitycare.co.uk/{n}",
        ),
        tags=("policy",) if n % 2 else (),
        files=(f"p{n}.txt",),
    )
    return replace(post, **changes)


@pytest.fixture
def site(tmp_path):
    return make_site(
        tmp_path,
        config='[site]\nbase_url = "https://notes.example.org/"\n'
        'title = "Practice Notes"\n[feed]\nwindow = 3\n',
    )


def read(site, name):
    return (site.public_dir / name).read_bytes()


def read_feed(site, name):
    """Atom and RSS through feedparser; JSON Feed (which feedparser 6.0 cannot read) as JSON,
    checked against the 1.1 spec's required fields and mapped to the same shape."""
    if not name.endswith(".json"):
        return feedparser.parse(read(site, name))
    document = json.loads(read(site, name))
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["title"] and isinstance(document["items"], list)
    entries = []
    for item in document["items"]:
        assert item["id"] and ("content_html" in item or "content_text" in item)
        entries.append(
            feedparser.FeedParserDict(
                title=item["title"],
                link=item["url"],
                summary=item["content_html"],
                author=item.get("authors", [{}])[0].get("name"),
            )
        )
    return feedparser.FeedParserDict(bozo=False, entries=entries)


def test_every_feed_reads_back_without_errors_and_carries_attribution(site):
    posts = [make_post(n) for n in range(1, 6)]
    build(site, posts)
    for folder in ("", "tags/policy/", "sources/community-care/"):
        for name in ("atom.xml", "rss.xml", "feed.json"):
            parsed = read_feed(site, folder + name)
            assert not parsed.bozo, (folder, name, parsed.get("bozo_exception"))
            assert parsed.entries, (folder, name)
            entry = parsed.entries[0]
            assert entry.link.startswith("https://notes.example.org/posts/post-")
            assert entry.author == "Mark Rogers"
            content = entry.content[0].value if "content" in entry else entry.summary
            assert "chief executive, Solihull MBC" in content
            assert 'href="https://www.communitycare.co.uk/' in content
            assert "Community Care" in content and "June 2016" in content
    tagged = feedparser.parse(read(site, "tags/policy/atom.xml"))
    assert {e.title for e in tagged.entries} == {"Post number 5", "Post number 3", "Post number 1"}


def test_window_is_by_pick_up_not_by_the_posts_own_date(site):
    old = make_post(9, date=datetime(2009, 1, 1, tzinfo=UTC), picked_up=T0 + timedelta(days=9))
    build(site, [make_post(n) for n in range(1, 6)] + [old])
    titles = [e.title for e in feedparser.parse(read(site, "atom.xml")).entries]
    assert titles == ["Post number 9", "Post number 5", "Post number 4"]


def test_atom_xml_has_rfc4287_elements_and_typed_links(site):
    build(site, [make_post(1), make_post(2, attribution=Attribution())])
    tree = etree.fromstring(read(site, "atom.xml"))
    for element in ("id", "title", "updated", "author/" + ATOM + "name"):
        assert tree.find(ATOM + element) is not None, element
    assert tree.find(f"{ATOM}link[@rel='self']").get("href") == (
        "https://notes.example.org/atom.xml"
    )
    entries = tree.findall(ATOM + "entry")
    assert len(entries) == 2
    for entry in entries:
        for element in ("id", "title", "updated", "published"):
            assert entry.find(ATOM + element) is not None
        links = entry.findall(ATOM + "link")
        assert all(link.get("rel") for link in links)  # feedgen#135 would leave them bare
        alternates = [link for link in links if link.get("rel") == "alternate"]
        assert len(alternates) == 1 and alternates[0].get("type") == "text/html"
        assert entry.find(ATOM + "content").get("type") == "html"
        assert entry.find(ATOM + "id").text.startswith("tag:notes.example.org,2026-11-02:")
    [with_source] = [e for e in entries if e.findtext(ATOM + "title") == "Post number 1"]
    assert with_source.find(f"{ATOM}link[@rel='via']").get("href") == (
        "https://www.communitycare.co.uk/1"
    )
    [bare] = [e for e in entries if e.findtext(ATOM + "title") == "Post number 2"]
    assert bare.find(f"{ATOM}link[@rel='via']") is None


def test_rss_items_have_guid_and_dc_creator(site):
    build(site, [make_post(1)])
    channel = etree.fromstring(read(site, "rss.xml")).find("channel")
    for element in ("title", "link", "description"):
        assert channel.findtext(element)
    item = channel.find("item")
    assert item.find("guid").get("isPermaLink") == "false"
    assert item.findtext("{http://purl.org/dc/elements/1.1/}creator") == "Mark Rogers"


def test_json_feed_items(site):
    build(site, [make_post(1)])
    document = json.loads(read(site, "feed.json"))
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    [item] = document["items"]
    assert item["external_url"] == "https://www.communitycare.co.uk/1"
    assert item["authors"] == [{"name": "Mark Rogers"}]
    assert item["_postroom"]["source"] == "Community Care"
    for key in ("id", "url", "content_html", "date_published"):
        assert item[key]


def test_output_is_deterministic_and_unchanged_files_are_not_rewritten(site):
    posts = [make_post(n) for n in range(1, 4)]
    first = build(site, posts)
    snapshot = {p: p.read_bytes() for p in site.public_dir.rglob("*") if p.is_file()}
    again = build(site, posts)
    assert again.written == () and again.unchanged == len(first.written)
    assert snapshot == {p: p.read_bytes() for p in site.public_dir.rglob("*") if p.is_file()}
    edited = replace(posts[0], title="Edited title", updated=T0 + timedelta(days=5))
    third = build(site, [edited, *posts[1:]])
    assert "posts/post-1/index.html" in third.written
    assert "posts/post-2/index.html" not in third.written
    assert "Edited title" in read(site, "posts/post-1/index.html").decode()


def test_withdrawn_post_leaves_pages_and_feeds(site):
    posts = [make_post(n) for n in range(1, 4)]
    build(site, posts)
    report = build(site, posts[1:])
    assert "posts/post-1/index.html" in report.removed
    assert not (site.public_dir / "posts/post-1").exists()
    assert "Post number 1" not in read(site, "atom.xml").decode()
    assert "tags/policy/atom.xml" in report.removed or any(
        e.title != "Post number 1"
        for e in feedparser.parse(read(site, "tags/policy/atom.xml")).entries
    )


def test_bad_characters_huge_bodies_and_scripts_do_not_break_the_build(site):
    huge = make_post(1, body_html="<p>" + "word " * 1_100_000 + "</p>")  # about 5.5 MB
    nasty = make_post(
        2, title="<script>alert(1)</script> \x00\x0b\ufffe title", body_html="<p>ok\x0c</p>"
    )
    report = build(site, [huge, nasty, make_post(3)])
    [problem] = report.problems
    assert problem.file == "p1.txt" and "cut short" in problem.reason
    for name in ("atom.xml", "rss.xml", "feed.json"):
        parsed = read_feed(site, name)
        assert not parsed.bozo, name
        assert len(parsed.entries) == 3
    assert len(read(site, "atom.xml")) < 1_000_000
    assert len(read(site, "posts/post-1/index.html")) > 5_000_000
    page = read(site, "posts/post-2/index.html").decode()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_index_autodiscovers_all_three_feeds(site):
    build(site, [make_post(1)])
    html = etree.HTML(read(site, "index.html"))
    types = {
        link.get("type"): link.get("href")
        for link in html.iter("link")
        if link.get("rel") == "alternate"
    }
    assert types == {
        "application/atom+xml": "https://notes.example.org/atom.xml",
        "application/rss+xml": "https://notes.example.org/rss.xml",
        "application/feed+json": "https://notes.example.org/feed.json",
    }
    assert (site.public_dir / "posts/post-1/index.html").exists()
    assert "Post number 1" in read(site, "posts/index.html").decode()


def test_an_empty_site_still_has_valid_feeds(site):
    build(site, [])
    for name in ("atom.xml", "rss.xml", "feed.json"):
        assert not read_feed(site, name).bozo


def test_atomic_writes_leave_no_temp_files(site):
    build(site, [make_post(n) for n in range(1, 4)])
    leftovers = [p for p in site.public_dir.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
