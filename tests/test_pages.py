"""Pages written by feeds.build(): parsed as HTML and checked for what a reader and a feed
reader's autodiscovery need."""

import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import postroom.feeds as feeds_module
import postroom.feeds.pages as pages_module
import pytest
from lxml import etree
from postroom.core.model import Attribution, DateSource
from postroom.feeds import build
from postroom.feeds.credit import credit_html
from postroom.feeds.writer import MANIFEST
from support import T0, make_post, read

BASE = "https://notes.example.org/"


def page(site, name):
    return etree.HTML(read(site, name))


def test_index_autodiscovers_all_three_feeds_then_the_digest_feed(feed_site):
    build(feed_site, [make_post(1)])
    html = page(feed_site, "index.html")
    alternates = [
        (link.get("type"), link.get("href"))
        for link in html.iter("link")
        if link.get("rel") == "alternate"
    ]
    assert alternates == [  # the site's Atom first: a reader that takes one takes that
        ("application/atom+xml", f"{BASE}atom.xml"),
        ("application/rss+xml", f"{BASE}rss.xml"),
        ("application/feed+json", f"{BASE}feed.json"),
        ("application/atom+xml", f"{BASE}digests/atom.xml"),
    ]
    links = {a.get("href") for a in html.iter("a")}
    assert {href for _, href in alternates} | {f"{BASE}digests/"} <= links  # visible too


def test_every_page_is_self_contained_and_readable_on_a_phone(feed_site):
    build(feed_site, [make_post(1)])
    for name in ("index.html", "posts/index.html", "posts/post-1/index.html"):
        html = page(feed_site, name)
        assert html.get("lang") == "en-GB", name
        assert html.find("head/meta[@charset='utf-8']") is not None, name
        viewport = html.find("head/meta[@name='viewport']").get("content")
        assert "width=device-width" in viewport, name
        assert "max-width: 40em" in html.findtext("head/style"), name
        assert not list(html.iter("script")), name
        assert not html.xpath("//*[@src]"), name  # no external resources
        assert not html.xpath("//link[@rel='stylesheet']"), name


def test_index_shows_the_window_newest_pick_up_first(feed_site):
    old = make_post(9, date=datetime(2009, 1, 1, tzinfo=UTC), picked_up=T0 + timedelta(days=9))
    build(feed_site, [make_post(n) for n in (1, 2, 3)] + [old])
    items = page(feed_site, "index.html").findall(".//ol/li")
    assert [li.findtext("h2/a") for li in items] == [
        "Post number 9",
        "Post number 3",
        "Post number 2",
    ]
    first = items[0]
    assert first.find("h2/a").get("href") == f"{BASE}posts/post-9/"
    assert first.findtext("p/time") == "11 November 2026"  # picked up: the date it was added
    credit = first.find("p[@class='credit']")
    assert credit.find("a").get("href") == "https://www.communitycare.co.uk/9"
    assert "on 1 January 2009" in etree.tostring(credit, encoding="unicode")
    assert "Summary 9" in [p.text for p in first.findall("p")]


def test_each_post_has_a_page_with_its_whole_body_credit_tags_and_original(feed_site):
    posts = [make_post(n) for n in range(1, 6)]
    build(feed_site, posts)
    for post in posts:
        article = page(feed_site, f"posts/{post.id}/index.html").find(".//article")
        assert article.findtext("h1") == post.title
        assert article.find("p[@class='credit']") is not None
        assert f"Body of post {post.id[-1]}." in [p.text for p in article.findall("p")]
        originals = [a for a in article.iter("a") if a.text == "Read the original"]
        assert [a.get("href") for a in originals] == [post.attribution.url]
    tags = page(feed_site, "posts/post-1/index.html").find(".//article/p[@class='meta']")
    assert "".join(tags.itertext()) == "Tags: policy"
    assert tags.find("a").get("href") == f"{BASE}tags/policy/"


def test_all_posts_are_listed_by_their_own_date_newest_first(feed_site):
    posts = [make_post(n, date=datetime(2016, 6, 10 - n, tzinfo=UTC)) for n in range(1, 6)]
    build(feed_site, posts)  # more than the window of 3: the list has every post
    items = page(feed_site, "posts/index.html").findall(".//ol/li")
    assert [li.findtext("a") for li in items] == [f"Post number {n}" for n in range(1, 6)]
    assert items[0].findtext("span/time") == "9 June 2016"
    assert items[0].find("a").get("href") == f"{BASE}posts/post-1/"


def test_a_script_in_a_title_is_text_on_every_page(feed_site):
    build(feed_site, [make_post(1, title="<script>alert(1)</script> & co")])
    for name in ("index.html", "posts/index.html", "posts/post-1/index.html"):
        raw = read(feed_site, name).decode()
        assert "<script>" not in raw, name
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in raw, name


def test_a_page_keeps_its_path_when_the_title_changes(feed_site):
    build(feed_site, [make_post(1)])
    report = build(feed_site, [make_post(1, title="A better title")])
    assert "posts/post-1/index.html" in report.written and report.removed == ()
    assert page(feed_site, "posts/post-1/index.html").findtext(".//h1") == "A better title"
    assert sorted(p.name for p in (feed_site.public_dir / "posts").iterdir()) == [
        "index.html",
        "post-1",
    ]


@pytest.mark.parametrize(
    ("attribution", "date_source", "expected"),
    [
        (
            Attribution(source="Community Care", author="Mark Rogers", url="https://cc.example/1"),
            DateSource.TEXT,
            'By Mark Rogers · First published in <a href="https://cc.example/1">Community Care'
            "</a> on 23 June 2016",
        ),
        (
            Attribution(author="A. Writer", author_role="team manager"),
            DateSource.PICKED_UP,
            "By A. Writer, team manager",
        ),
        (
            Attribution(url="https://www.example-lgc.org.uk/a?b=1&c=2"),
            DateSource.PICKED_UP,
            'First published at <a href="https://www.example-lgc.org.uk/a?b=1&amp;c=2">'
            "example-lgc.org.uk</a>",
        ),
        (
            Attribution(source="<b>Weekly</b>"),
            DateSource.HTML,
            "First published in &lt;b&gt;Weekly&lt;/b&gt; on 23 June 2016",
        ),
        (
            Attribution(source="Care & Co", author='Sam "Duty" O\'Neil', author_role="<i>lead</i>"),
            DateSource.FRONT_MATTER,
            "By Sam &#34;Duty&#34; O&#39;Neil, &lt;i&gt;lead&lt;/i&gt; · First published in "
            "Care &amp; Co on 23 June 2016",
        ),
        (Attribution(), DateSource.FRONT_MATTER, "23 June 2016"),  # no "First published" nowhere
        (Attribution(), DateSource.PICKED_UP, ""),
    ],
)
def test_the_credit_line_has_only_the_parts_we_know(attribution, date_source, expected):
    post = replace(
        make_post(1),
        attribution=attribution,
        date_source=date_source,
        date=datetime(2016, 6, 23, 9, 0, tzinfo=UTC),
    )
    assert credit_html(post) == expected
    assert credit_html(post) == expected  # the escaped byline and place remembered


def test_pages_are_written_before_the_feeds_and_lists_that_link_to_them(feed_site):
    build(feed_site, [make_post(1)])
    build(feed_site, [make_post(1), make_post(2)])
    root = feed_site.public_dir
    page_written = (root / "posts/post-2/index.html").stat().st_mtime_ns
    for linking in ("atom.xml", "rss.xml", "feed.json", "index.html", "posts/index.html"):
        assert (root / linking).stat().st_mtime_ns >= page_written, linking


def test_a_build_renders_only_pages_whose_post_or_site_changed_or_file_was_touched(
    feed_site, monkeypatch
):
    rendered = []
    real = pages_module.render_post_page

    def counting(site, post):
        rendered.append(post.id)
        return real(site, post)

    monkeypatch.setattr(feeds_module, "render_post_page", counting)
    posts = [make_post(1), make_post(2)]
    build(feed_site, posts)
    assert sorted(rendered) == ["post-1", "post-2"]
    root = feed_site.public_dir
    two = root / "posts/post-2/index.html"

    rendered.clear()
    report = build(feed_site, posts)  # nothing changed: nothing rendered, nothing written
    assert rendered == [] and report.written == ()

    edited = replace(posts[1], title="A new title")
    rendered.clear()
    report = build(feed_site, [posts[0], edited])
    assert rendered == ["post-2"] and "posts/post-2/index.html" in report.written
    assert "A new title" in two.read_text()

    two.write_text("defaced")  # someone touched the file: made again
    rendered.clear()
    build(feed_site, [posts[0], edited])
    assert rendered == ["post-2"] and "A new title" in two.read_text()

    config = feed_site.config
    retitled = replace(
        feed_site, config=replace(config, site=replace(config.site, title="Another title"))
    )
    rendered.clear()
    build(retitled, [posts[0], edited])  # the site changed: every page
    assert sorted(rendered) == ["post-1", "post-2"]

    def outputs():  # the manifest holds each file's mtime: the rest must be identical
        return {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and p.name != MANIFEST}

    incremental = outputs()
    shutil.rmtree(root)
    build(retitled, [posts[0], edited])  # a clean build writes the same bytes
    assert outputs() == incremental


def test_posts_lists_the_newest_fifty_and_every_year_and_a_new_post_changes_only_its_year(
    feed_site,
):
    # 60 posts over three years (their own dates), picked up in another order
    posts = [
        make_post(n, date=datetime(2014 + n % 3, 1 + n % 12, 1 + n % 28, tzinfo=UTC))
        for n in range(1, 61)
    ]
    build(feed_site, posts)
    listing = page(feed_site, "posts/index.html")
    dated = sorted(posts, key=lambda p: (p.date, p.id), reverse=True)
    assert [a.text for a in listing.findall(".//ol/li/a")] == [p.title for p in dated[:50]]
    years = [(a.text, a.get("href")) for a in listing.findall(".//ul[@class='inline years']/li/a")]
    assert years == [(str(y), f"{BASE}posts/{y}.html") for y in (2016, 2015, 2014)]
    of_2015 = page(feed_site, "posts/2015.html")
    assert [a.text for a in of_2015.findall(".//ol/li/a")] == [
        p.title for p in dated if p.date.year == 2015
    ]
    assert of_2015.find(".//nav/a[@rel='prev']").get("href") == f"{BASE}posts/2016.html"

    report = build(feed_site, [*posts, make_post(61, date=datetime(2015, 3, 1, tzinfo=UTC))])
    lists = {name for name in report.written if name.startswith("posts/") and "post-" not in name}
    assert lists == {"posts/index.html", "posts/2015.html"}


#: post.html as it was before `render_post_page` handed it its values: it asks the helpers
#: (`shown`, `credit`, `canonical`, `tag_url`, `source_url`), as a site's own copy may
ASKING_POST_HTML = Path(__file__).with_name("post_asking_helpers.html")


def test_a_post_page_is_the_same_from_the_values_it_is_given_as_from_the_helpers(feed_site):
    """`render_post_page` hands post.html what it shows (`view`, `credit_line`, ...) rather
    than have it call the helpers; a site's own post.html that calls them (a copy of the
    packaged one before) still has them, and renders the same bytes."""
    from postroom.core.model import LeadImage, Republish
    from postroom.feeds.pages import render_post_page
    from postroom.feeds.theme import theme_folder

    nobody = Attribution(source=None, author=None, author_role=None, url=None)
    posts = [
        make_post(1),  # a tag, a source, the original: canonical, full
        make_post(2, tags=("policy", "Care & Health", "  ")),  # "  ": a tag with no page
        make_post(3, comment="<p>Worth a read.</p>", republish=Republish.LINK),
        make_post(4, comment="<p>Mine.</p>", republish=Republish.EXCERPT),
        make_post(5, image=LeadImage("https://img.example/a.jpg", "A <b>"), republish=None),
        make_post(6, attribution=nobody, files=("own.md",), republish=None),  # the curator's
    ]
    packaged = [render_post_page(feed_site, post) for post in posts]
    own = theme_folder(feed_site, "pages") / "post.html"
    own.parent.mkdir(parents=True)
    # marked, to be sure it is the one used
    asking = ASKING_POST_HTML.read_text(encoding="utf-8")
    own.write_text(asking.replace("<article>", '<article class="own">'), encoding="utf-8")
    try:
        asked = [render_post_page(feed_site, post) for post in posts]
        assert all(b'<article class="own">' in page for page in asked)
        assert [page.replace(b' class="own"', b"") for page in asked] == packaged
    finally:
        shutil.rmtree(own.parent)
    assert b'rel="canonical"' in packaged[0] and b'rel="canonical"' not in packaged[5]
    assert (
        b"Care &amp; Health</a>, " in packaged[1]
        and packaged[1].count(b'href="https://notes.example.org/tags/') == 2
    )
    assert b'class="lead-image"' in packaged[4] and b'<div class="comment">' in packaged[2]


def test_a_credit_escapes_a_markup_name_and_a_plain_one_of_the_same_text_apart():
    """The escapes a credit remembers are kept by type: a name that is Markup (already
    safe) and a plain one holding the same characters are not one entry."""
    from markupsafe import Markup
    from postroom.feeds.credit import _escaped

    class Text(str):
        pass

    assert _escaped(Markup("Q&amp;A")) == "Q&amp;A"
    assert _escaped(Text("Q&amp;A")) == "Q&amp;amp;A"
    assert _escaped("Q&amp;A") == "Q&amp;amp;A"
