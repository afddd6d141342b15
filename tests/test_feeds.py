"""Feeds written by feeds.build(): read back by feedparser, and their XML and JSON checked as
emitted (feedparser forgives what validators refuse)."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import feedparser
from lxml import etree
from postroom.core.model import Attribution, Severity
from postroom.feeds import build
from support import T0, make_post, read

ATOM = "{http://www.w3.org/2005/Atom}"
DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
FOLDERS = ("", "tags/policy/", "sources/community-care/")
FORMATS = ("atom.xml", "rss.xml", "feed.json")


def read_feed(site, name):
    """Atom and RSS through feedparser; JSON Feed (which feedparser 6.0 cannot read) as JSON,
    mapped to feedparser's shape."""
    if not name.endswith(".json"):
        return feedparser.parse(read(site, name))
    document = json.loads(read(site, name))
    entries = [
        feedparser.FeedParserDict(
            id=item["id"],
            title=item["title"],
            link=item["url"],
            content=[feedparser.FeedParserDict(value=item["content_html"])],
            author=item.get("authors", [{}])[0].get("name"),
        )
        for item in document["items"]
    ]
    return feedparser.FeedParserDict(bozo=False, entries=entries)


def titles(site, name):
    return [entry.title for entry in read_feed(site, name).entries]


def all_feeds(site):
    """The site's, tags' and sources' feeds; the digest archive's is tests/test_archive.py's."""
    names = (str(p.relative_to(site.public_dir)) for p in site.public_dir.rglob("*"))
    return sorted(n for n in names if n.endswith(FORMATS) and not n.startswith("digests/"))


def five_posts():
    """Posts 1-5; odd ones tagged policy; post 4, picked up first, from another publication."""
    lgc = Attribution(source="Local Government Chronicle", url="https://www.lgcplus.com/4")
    return [make_post(n) for n in (1, 2, 3, 5)] + [make_post(4, attribution=lgc, picked_up=T0)]


def test_every_feed_reads_back_with_entries_and_attribution(feed_site):
    build(feed_site, five_posts())
    assert len(all_feeds(feed_site)) == 12  # site, policy, Community Care, LGC
    for folder in FOLDERS:
        for name in FORMATS:
            parsed = read_feed(feed_site, folder + name)
            assert not parsed.bozo, (folder, name, parsed.get("bozo_exception"))
            assert parsed.entries, (folder, name)
            for entry in parsed.entries:
                n = entry.title.removeprefix("Post number ")
                assert entry.id == f"tag:notes.example.org,2026-11-02:post-{n}"
                assert entry.link == f"https://notes.example.org/posts/post-{n}/"
                assert entry.author == "Mark Rogers"
                content = entry.content[0].value
                assert f"<p>Body of post {n}.</p>" in content
                assert "By Mark Rogers, chief executive, Solihull MBC" in content
                assert (
                    f'First published in <a href="https://www.communitycare.co.uk/{n}">'
                    "Community Care</a> on " in content
                )


def test_tag_and_source_feeds_hold_only_their_posts(feed_site):
    build(feed_site, five_posts())
    for name in FORMATS:
        assert titles(feed_site, "tags/policy/" + name) == [
            "Post number 5",
            "Post number 3",
            "Post number 1",
        ]
        assert titles(feed_site, "sources/community-care/" + name) == [
            "Post number 5",
            "Post number 3",
            "Post number 2",
        ]
        assert titles(feed_site, "sources/local-government-chronicle/" + name) == ["Post number 4"]


def test_window_is_by_pick_up_not_by_the_posts_own_date(feed_site):
    old = make_post(9, date=datetime(2009, 1, 1, tzinfo=UTC), picked_up=T0 + timedelta(days=9))
    tie = make_post(8, picked_up=T0 + timedelta(hours=5))  # same pick-up as post 5
    build(feed_site, [*five_posts(), old, tie])
    for name in FORMATS:
        assert titles(feed_site, name) == ["Post number 9", "Post number 8", "Post number 5"]


def test_atom_as_emitted_meets_rfc_4287(feed_site):
    build(feed_site, [*five_posts(), make_post(6, attribution=Attribution())])
    for name in all_feeds(feed_site):
        if not name.endswith("atom.xml"):
            continue
        feed = etree.fromstring(read(feed_site, name))
        for element in ("id", "title", "updated", f"author/{ATOM}name"):
            assert feed.findtext(ATOM + element), (name, element)
        [self_link] = feed.findall(f"{ATOM}link[@rel='self']")
        assert self_link.get("href") == f"https://notes.example.org/{name}"
        assert feed.find(f"{ATOM}link[@rel='alternate']").get("href") == (
            "https://notes.example.org/"
        )
        for entry in feed.iter(f"{ATOM}entry"):
            for element in ("id", "title", "updated", "published", "summary"):
                assert entry.findtext(ATOM + element), (name, element)
            links = entry.findall(f"{ATOM}link")
            assert all(link.get("rel") for link in links), name  # python-feedgen#135
            alternates = [link for link in links if link.get("rel") == "alternate"]
            assert [link.get("type") for link in alternates] == ["text/html"], name
            content = entry.find(f"{ATOM}content")
            assert content.get("type") == "html" and "<p>Body of post" in content.text


def test_atom_entries_link_the_original_and_date_it(feed_site):
    build(feed_site, [make_post(1), make_post(2, attribution=Attribution())])
    feed = etree.fromstring(read(feed_site, "atom.xml"))
    entries = {e.findtext(f"{ATOM}title"): e for e in feed.iter(f"{ATOM}entry")}
    one, bare = entries["Post number 1"], entries["Post number 2"]
    assert one.find(f"{ATOM}link[@rel='via']").get("href") == "https://www.communitycare.co.uk/1"
    assert one.findtext(f"{ATOM}published") == "2026-11-02T09:00:00+00:00"  # picked up, not 2016
    assert one.findtext(f"{ATOM}updated") == "2026-11-02T09:00:00+00:00"
    assert one.findtext(f"{ATOM}author/{ATOM}name") == "Mark Rogers"
    assert bare.find(f"{ATOM}link[@rel='via']") is None
    assert bare.find(f"{ATOM}author") is None  # the feed's author (the curator) stands
    assert feed.findtext(f"{ATOM}author/{ATOM}name") == "The curator"
    assert "3 June 2016" in bare.findtext(f"{ATOM}content")
    assert "First published" not in bare.findtext(f"{ATOM}content")  # no place: no "in …"


def test_source_is_the_author_when_there_is_no_author(feed_site):
    build(feed_site, [make_post(1, attribution=Attribution(source="Community Care"))])
    for name in FORMATS:
        assert read_feed(feed_site, name).entries[0].author == "Community Care", name


def test_feed_updated_is_the_newest_post_change_not_the_clock(feed_site):
    edited = make_post(1, updated=T0 + timedelta(days=30))
    build(feed_site, [edited, make_post(2), make_post(3)])
    atom = etree.fromstring(read(feed_site, "atom.xml"))
    assert atom.findtext(f"{ATOM}updated") == "2026-12-02T08:00:00+00:00"
    channel = etree.fromstring(read(feed_site, "rss.xml")).find("channel")
    assert parsedate_to_datetime(channel.findtext("lastBuildDate")) == edited.updated


def test_rss_channel_and_items(feed_site):
    build(feed_site, [make_post(1)])
    channel = etree.fromstring(read(feed_site, "rss.xml")).find("channel")
    assert channel.findtext("title") == "Practice Notes"
    assert channel.findtext("link") == "https://notes.example.org/"
    assert channel.findtext("description")
    self_link = channel.find(f"{ATOM}link")
    assert self_link.get("rel") == "self"
    assert self_link.get("href") == "https://notes.example.org/rss.xml"
    [item] = channel.findall("item")
    guid = item.find("guid")
    assert guid.get("isPermaLink") == "false"
    assert guid.text == "tag:notes.example.org,2026-11-02:post-1"
    assert item.findtext("link") == "https://notes.example.org/posts/post-1/"
    assert item.findtext(DC_CREATOR) == "Mark Rogers"
    assert item.findtext("description") == "Summary 1"
    assert "Community Care</a>" in item.findtext(CONTENT_ENCODED)
    assert parsedate_to_datetime(item.findtext("pubDate")) == T0 + timedelta(hours=1)


def test_json_feed_items(feed_site):
    build(feed_site, [make_post(1)])
    document = json.loads(read(feed_site, "feed.json"))
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["feed_url"] == "https://notes.example.org/feed.json"
    assert document["home_page_url"] == "https://notes.example.org/"
    [item] = document["items"]
    assert item["id"] == "tag:notes.example.org,2026-11-02:post-1"
    assert item["url"] == "https://notes.example.org/posts/post-1/"
    assert item["external_url"] == "https://www.communitycare.co.uk/1"
    assert item["authors"] == [{"name": "Mark Rogers"}]
    assert item["date_published"] == "2026-11-02T09:00:00+00:00"
    assert item["date_modified"] == "2026-11-02T09:00:00+00:00"
    assert "<p>Body of post 1.</p>" in item["content_html"]
    assert item["_postroom"] == {
        "source": "Community Care",
        "author_role": "chief executive, Solihull MBC",
        "original_date": "2016-06-02T00:00:00+00:00",
        "date_source": "text",
    }
    assert read(feed_site, "feed.json").endswith(b"}\n")


def test_entry_ids_survive_edits_and_a_new_base_path(feed_site):
    build(feed_site, [make_post(1)])
    before = read_feed(feed_site, "atom.xml").entries[0].id
    build(feed_site, [make_post(1, title="A new title", updated=T0 + timedelta(days=1))])
    assert read_feed(feed_site, "atom.xml").entries[0].id == before
    moved = replace(
        feed_site,
        config=replace(
            feed_site.config,
            site=replace(feed_site.config.site, base_url="https://notes.example.org/blog/"),
        ),
    )
    build(moved, [make_post(1)])
    entry = read_feed(moved, "atom.xml").entries[0]
    assert entry.id == before and entry.link == "https://notes.example.org/blog/posts/post-1/"


def test_same_input_same_bytes_and_nothing_rewritten(feed_site):
    posts = five_posts()
    first = build(feed_site, posts)
    snapshot = {p: p.read_bytes() for p in feed_site.public_dir.rglob("*") if p.is_file()}
    again = build(feed_site, list(reversed(posts)))  # the order posts come in does not matter
    assert again.written == () and again.removed == ()
    assert again.unchanged == len(first.written)
    assert snapshot == {p: p.read_bytes() for p in feed_site.public_dir.rglob("*") if p.is_file()}


def test_an_edit_rewrites_only_the_files_it_shows_in(feed_site):
    posts = [make_post(n) for n in (1, 2, 3)]
    build(feed_site, posts)
    edited = replace(posts[0], title="Edited title", updated=T0 + timedelta(days=5))
    report = build(feed_site, [edited, *posts[1:]])
    feeds = {folder + name for folder in FOLDERS for name in FORMATS}
    pages = {"index.html", "posts/index.html", "posts/post-1/index.html"}
    topics = {"tags/policy/index.html", "sources/community-care/index.html"}  # it lists post 1
    assert set(report.written) == feeds | pages | topics
    assert "Edited title" in read(feed_site, "posts/post-1/index.html").decode()


def test_a_withdrawn_post_leaves_pages_and_feeds(feed_site):
    posts = [make_post(n) for n in (1, 2, 3)]
    build(feed_site, posts)
    report = build(feed_site, posts[1:])
    assert "posts/post-1/index.html" in report.removed
    assert not (feed_site.public_dir / "posts/post-1").exists()
    assert "tags/policy/atom.xml" in report.written  # post 3 is still tagged
    for name in all_feeds(feed_site):
        assert "Post number 1" not in titles(feed_site, name), name
    report = build(feed_site, posts[1:2])  # post 3 goes too: no policy posts are left
    assert {f"tags/policy/{name}" for name in FORMATS} <= set(report.removed)
    assert not (feed_site.public_dir / "tags").exists()


def test_characters_xml_cannot_carry_never_reach_a_feed(feed_site):
    nasty = make_post(
        2,
        title="Bad \x00\x0b\ufffe title \ud800",
        body_html="<p>ok\x0c\x1f</p>",
        summary="sum\x08mary",
        attribution=Attribution(
            source="Comm\x01unity Care", author="Mark\x02 Rogers", url="https://example.org/\x03"
        ),
        tags=("pol\x04icy", "\x05"),
    )
    report = build(feed_site, [nasty])
    assert report.problems == ()
    for name in all_feeds(feed_site):
        parsed = read_feed(feed_site, name)
        assert not parsed.bozo, (name, parsed.get("bozo_exception"))
        entry = parsed.entries[0]
        assert entry.title == "Bad title", name
        assert entry.author == "Mark Rogers", name
    assert (feed_site.public_dir / "tags/policy/atom.xml").exists()
    assert (feed_site.public_dir / "sources/community-care/atom.xml").exists()


def test_a_huge_body_is_cut_in_feeds_with_a_link_to_the_whole_post(feed_site):
    paragraph = "<p>Paragraph <em>{}</em>" + " of a long report" * 20 + ".</p>"
    body = "".join(map(paragraph.format, range(14_000)))  # 5 MB
    huge = make_post(1, body_html=body)  # shown whole: make_post
    report = build(feed_site, [huge, make_post(2)])
    [problem] = report.problems
    assert problem.file == "p1.txt" and problem.severity == Severity.WARNING
    assert "cut short" in problem.reason
    for name in all_feeds(feed_site):
        parsed = read_feed(feed_site, name)
        assert not parsed.bozo, name
        [content] = [e.content[0].value for e in parsed.entries if e.title == "Post number 1"]
        assert len(content.encode()) < 101 * 1024, name
        assert content.endswith(
            '<p><a href="https://notes.example.org/posts/post-1/">Read the whole post</a></p>'
        )
        etree.fromstring(f"<div>{content}</div>")  # well-formed: the cut left no tag open
    assert len(read(feed_site, "atom.xml")) < 300_000
    assert read(feed_site, "posts/post-1/index.html").count(b"of a long report.") == 14_000


def test_a_post_feedgen_refuses_is_left_out_and_the_window_refills(feed_site):
    blank = make_post(9, title="\x00 \x0b ")  # nothing left of the title: feedgen raises
    posts = [make_post(n) for n in (1, 2, 3)] + [blank]
    report = build(feed_site, posts)
    [problem] = report.problems
    assert problem.file == "p9.txt" and "left out of the feeds" in problem.reason
    for name in FORMATS:
        assert titles(feed_site, name) == ["Post number 3", "Post number 2", "Post number 1"]
    assert (feed_site.public_dir / "posts/post-9/index.html").exists()


def test_posts_that_cannot_be_written_are_refused_not_fatal(feed_site):
    naive = make_post(1, date=datetime(2016, 6, 1))
    climbing = make_post(2, id="../../outside")
    report = build(feed_site, [naive, climbing, make_post(3)])
    assert {(p.file, p.severity) for p in report.problems} == {
        ("p1.txt", Severity.ERROR),
        ("p2.txt", Severity.ERROR),
    }
    assert titles(feed_site, "atom.xml") == ["Post number 3"]
    assert not (feed_site.root / "outside").exists()


def test_one_folder_per_slug_and_each_post_in_it_once(feed_site):
    build(feed_site, [make_post(1, tags=("Policy", "policy")), make_post(2, tags=("POLICY",))])
    assert titles(feed_site, "tags/policy/atom.xml") == ["Post number 2", "Post number 1"]
    feed = etree.fromstring(read(feed_site, "tags/policy/atom.xml"))
    assert feed.findtext(f"{ATOM}title") == "Practice Notes: POLICY"


def test_an_empty_site_still_has_valid_feeds(feed_site):
    report = build(feed_site, [])
    assert report.problems == ()
    for name in FORMATS:
        parsed = read_feed(feed_site, name)
        assert not parsed.bozo and parsed.entries == [], name
    atom = etree.fromstring(read(feed_site, "atom.xml"))
    assert atom.findtext(f"{ATOM}updated") == "1970-01-01T00:00:00+00:00"
