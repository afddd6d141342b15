"""Feed documents made cheaply, written as before: one feedgen entry per post and build
shared by every document (`syndication._entry`), documents finished as trees and
serialized once (`syndication.finished`). Each is held to the slower way it replaced:
the same bytes."""

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import feedgen.entry
import feedgen.feed
import pytest
from feedgen.entry import FeedEntry
from feedgen.ext.dc import DcEntryExtension
from feedgen.util import formatRFC2822
from lxml import etree
from postroom.core.model import Attribution, DateSource, LeadImage, Republish
from postroom.feeds import build, history, syndication
from postroom.feeds.safety import admit
from postroom.feeds.syndication import (
    ATOM,
    FORMATS,
    MEDIA_TYPES,
    FeedSet,
    document_tree,
    finish,
    finished,
    rfc2822,
    too_long,
)
from support import make_post, make_site

HUB_SITE = (
    '[site]\nbase_url = "https://n.example/sub/"\ntitle = "P & <N>"\n'
    'websub_hub = "https://hub.example/"\n[curator]\nname = "Cur"\nemail = "c@x.org"\n'
    "[feed]\nmax_content_kb = 1\nwindow = 3\n"
)


def odd_posts():
    """Posts that take every branch of an entry: no credit, a stripped title, tags to
    fold, a comment under each rule, a body cut short, relative links, images."""
    image = LeadImage(url="https://img.example/a.jpg", media_type="image/jpeg", length=1234)
    posts = [
        make_post(1),
        make_post(2, body_html="", summary="", attribution=Attribution(), tags=()),
        make_post(
            3, body_html="<p>a\r\nb ]]&gt; \u00e9\u2014 \U0001f600</p>", title=" T\x01i\n x "
        ),
        make_post(4, attribution=Attribution(), tags=("a b", "", " c\n", "é")),
        make_post(5, comment="<p>My <b>view</b></p>", republish=Republish.LINK),
        make_post(6, comment="<p>Quote</p>", republish=Republish.EXCERPT),
        make_post(7, body_html="<p>" + "long words " * 400 + "</p>"),
        make_post(8, body_html='<p><a href="/rel/">rel</a> <img src="x.png"></p>', summary=""),
        make_post(9, image=image),
        make_post(10, image=replace(image, length=None)),
        # no body, no credit (no source, its date the pick-up's): an entry with no content
        make_post(
            11,
            body_html="",
            summary="",
            attribution=Attribution(),
            tags=(),
            date_source=DateSource.PICKED_UP,
        ),
    ]
    admitted, problems = admit(posts)
    assert not problems
    return sorted(admitted, key=lambda post: post.picked_up, reverse=True)


def feedgen_bytes(site, feed, stem, name):
    """A document as feedgen's public calls write it, the way `document` made it before
    it took feedgen's tree: Atom read back to put the link attributes feedgen 1.0.0 drops
    (python-feedgen#135), pretty-printed; RSS pretty-printed by feedgen."""
    fg = syndication._generator(site, feed, name, MEDIA_TYPES[stem])
    if stem == "rss":
        return fg.rss_str(pretty=True)
    root = etree.fromstring(fg.atom_str())
    for element, entry in zip(root.iterfind(f"{ATOM}entry"), fg.entry(), strict=True):
        for link, wanted in zip(element.iterfind(f"{ATOM}link"), entry.link(), strict=True):
            for key in ("rel", "type", "hreflang", "title", "length"):
                if value := wanted.get(key):
                    link.set(key, value)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def test_documents_finished_as_trees_are_the_bytes_finish_makes_of_feedgens(tmp_path):
    site = make_site(tmp_path, config=HUB_SITE)
    posts = odd_posts()
    links = [("current", "https://n.example/sub/atom.xml"), ("prev-archive", "https://x/1")]
    for stem in MEDIA_TYPES:
        for feed, path, extra, archive in (
            (FeedSet("", "Site", posts), f"{stem}.xml", links[1:], False),
            (FeedSet("tags/t/", "Tag", posts[:4]), f"tags/t/{stem}.xml", [], False),
            (FeedSet("", "Site", posts[::-1]), f"archive/{stem}-2.xml", links, True),
            (FeedSet("", "Site", ()), f"archive/{stem}-3.xml", links[:1], True),
        ):
            syndication.forget()
            before = finish(feedgen_bytes(site, feed, stem, path), path, extra, archive)
            syndication.forget()
            after = finished(document_tree(site, feed, stem, path), path, extra, archive)
            assert after == before, (stem, path)
            assert b"<?xml-stylesheet" in after and after.count(b"<entry") + after.count(
                b"<item>"
            ) == len(feed.posts)
    syndication.forget()


def test_a_shared_entry_writes_what_a_fresh_one_does(tmp_path):
    """Every format of a feed rendered with its entries made for other documents first
    (another feed set, vetting, an archive page) is the bytes of one rendered cold."""
    site = make_site(tmp_path, config=HUB_SITE)
    posts = odd_posts()
    feed = FeedSet("", "Site", posts[:6], archives=2)
    cold = {}
    for name, render in FORMATS.items():
        syndication.forget()
        cold[name] = render(site, feed)
    syndication.forget()
    for post in posts:
        syndication.check_entry(site, post)
    history._render(site, FeedSet("", "Site", ()), posts[::-1], 1, False, lambda _: True)
    FORMATS["atom.xml"](site, FeedSet("tags/x/", "X", posts[3:]))
    assert {name: render(site, feed) for name, render in FORMATS.items()} == cold
    # an edited post (an equal post no longer) is filled again, never served stale
    edited = replace(posts[0], title="Edited title")
    assert b"Edited title" in FORMATS["atom.xml"](site, replace(feed, posts=[edited]))
    syndication.forget()


def test_each_post_is_made_an_entry_once_in_a_build(tmp_path, monkeypatch):
    """A build in one process (archive pages too few for workers): each post, vetted for
    its windows, shown in its site, tag and source feeds in Atom and RSS and on an
    archive page, is filled as a feedgen entry once; before, 2 to 7 times."""
    site = make_site(tmp_path, config=HUB_SITE)
    filled = Counter()
    fill = syndication._fill_entry

    def counted(fe, site, post):
        filled[post.id] += 1
        fill(fe, site, post)

    monkeypatch.setattr(syndication, "_fill_entry", counted)
    posts = [make_post(n, tags=("policy", "care") if n % 2 else ("care",)) for n in range(1, 13)]
    report = build(site, posts, page_size=4)
    assert not report.problems
    assert (site.public_dir / "archive" / "rss-3.xml").exists()  # 9 archived, 3 pages
    archived = {post.id for post in posts[:9]}
    # a window post that is also on an archive page is made again after its page is done
    assert set(filled) == {post.id for post in posts}
    assert all(count == 1 for post_id, count in filled.items() if post_id not in archived)
    assert max(filled.values()) <= 2


def test_rss_items_name_their_author_as_feedgens_own_dc_extension_does(tmp_path, monkeypatch):
    """`_DcCreator` (dc:creator alone, without feedgen's lookup of fifteen DC elements
    per item) writes the bytes feedgen's Dublin Core entry extension writes."""
    site = make_site(tmp_path, config=HUB_SITE)
    feed = FeedSet("", "Site", odd_posts())
    syndication.forget()
    ours = syndication.rss(site, feed)
    assert b"<dc:creator>" in ours
    syndication.forget()
    monkeypatch.setattr(syndication, "_DcCreator", DcEntryExtension)
    assert syndication.rss(site, feed) == ours
    syndication.forget()


def test_the_elements_vetting_made_serve_the_first_feed_that_takes_the_post(tmp_path, monkeypatch):
    """`check_entry` makes each post's Atom and RSS elements; the first feed document
    that takes the post uses them instead of making them again, a later one makes its
    own (an element is a child of one document), and the bytes are those of feeds
    rendered with no vetting first."""
    site = make_site(tmp_path, config=HUB_SITE)
    posts = odd_posts()
    first, second = FeedSet("", "Site", posts[:6]), FeedSet("tags/t/", "T", posts[4:])
    cold = {}
    for feed in (first, second):
        for name in ("atom.xml", "rss.xml"):
            syndication.forget()
            cold[feed.folder + name] = FORMATS[name](site, feed)
    syndication.forget()
    made = Counter()
    for stem in ("atom", "rss"):
        method = getattr(FeedEntry, f"{stem}_entry")

        def counted(entry, extensions=True, method=method, stem=stem):
            made[stem] += 1
            return method(entry, extensions)

        monkeypatch.setattr(FeedEntry, f"{stem}_entry", counted)
    for post in posts:
        syndication.check_entry(site, post)
    assert made == {"atom": len(posts), "rss": len(posts)}
    for feed, again in ((first, 0), (second, 2)):  # posts[4:6] are in both
        for name in ("atom.xml", "rss.xml"):
            assert FORMATS[name](site, feed) == cold[feed.folder + name]
        assert made == {"atom": len(posts) + again, "rss": len(posts) + again}
    syndication.forget()


def test_an_entry_with_no_content_is_written_as_a_parse_would_have_it(tmp_path):
    """The one text feedgen writes empty, an item's content, is no text at all: RSS
    `<description/>` (`_tree` looks only at such items), Atom `<content type="html"/>`."""
    site = make_site(tmp_path, config=HUB_SITE)
    empty = odd_posts()[0]
    assert empty.id == "post-11" and syndication.feed_content(site, empty) == ""
    feed = FeedSet("", "Site", [empty])
    assert b"<description/>" in syndication.rss(site, feed)
    assert b'<content type="html"/>' in syndication.atom(site, feed)
    syndication.forget()


def test_entries_join_a_feed_as_add_entry_would_add_them(tmp_path):
    """`_generator` appends its entries to feedgen's own list (`entry()`), not through
    `add_entry` (which tries to register each of the feed's extensions on every entry,
    failing, as the entry has them): the same bytes as a feed made by `add_entry`."""
    site = make_site(tmp_path, config=HUB_SITE)
    feed = FeedSet("", "Site", odd_posts())
    for stem, media_type in MEDIA_TYPES.items():
        name = f"{stem}.xml"
        syndication.forget()
        ours = finished(document_tree(site, feed, stem, name), name)
        syndication.forget()
        fg = syndication._generator(site, feed, name, media_type)
        entries = list(fg.entry())
        fg.entry([], replace=True)
        for entry in entries:
            assert fg.add_entry(entry, order="append") is entry
        assert finished(syndication._tree(fg, stem), name) == ours
    syndication.forget()


_ZONES = [
    UTC,
    timezone(timedelta(hours=5, minutes=30)),
    timezone(-timedelta(hours=8)),
    timezone(timedelta(hours=-23, minutes=-59)),
    timezone(timedelta(seconds=90)),  # %z writes the seconds too
]


@pytest.mark.parametrize("zone", _ZONES, ids=str)
def test_rss_dates_are_written_as_feedgens_own_helper_writes_them(zone):
    """`rfc2822`, which feedgen's modules call in place of its `formatRFC2822` (three
    `setlocale` calls a date), writes the same for every day, month and year."""
    assert feedgen.entry.formatRFC2822 is feedgen.feed.formatRFC2822 is rfc2822
    moments = [
        datetime(2023, 12, 25, 0, 0, 0) + timedelta(days=d, seconds=d * 3607) for d in range(400)
    ]
    moments += [
        datetime(1, 1, 1),
        datetime(999, 12, 31, 23, 59, 59),
        datetime(9999, 12, 31, 23, 59, 59),
    ]
    for moment in moments:
        aware = moment.replace(tzinfo=zone)
        assert rfc2822(aware) == formatRFC2822(aware), aware


@pytest.mark.parametrize(
    "body",
    [
        "a" * 256,
        "a" * 1024,
        "a" * 1025,
        "é" * 512,
        "é" * 513,
        "€" * 341,
        "€" * 342,
        "😀" * 256,
        "😀" * 257,
        "a" * 255 + "😀",
    ],
)
def test_a_body_is_too_long_by_its_bytes_as_ever(tmp_path, body):
    """`too_long` knows most bodies short by their length (at most 4 bytes a character)
    and measures only the others: its verdict is the encoded body's against the limit."""
    site = make_site(tmp_path, config=HUB_SITE)  # max_content_kb = 1
    for rule in Republish:
        post = make_post(1, body_html=body, republish=rule)
        whole = syndication.showing(site, post).rule is Republish.FULL
        assert too_long(site, post) == (len(body.encode()) > 1024 and whole), (rule, len(body))
