"""Republishing that respects the source: `full`, `excerpt` or `link`, decided per post,
per source and per site, and honoured alike by the feeds, the post's page and the digest.

Posts come from real files through intake into a real SQLite store; feeds are read back
with feedparser and the pages and email with lxml."""

from __future__ import annotations

import json

import feedparser
import pytest
from lxml import html as lxml_html
from postroom.content.intake import scan
from postroom.core.config import ConfigError, open_site
from postroom.core.model import Republish
from postroom.core.republish import EXCERPT_CHARS, EXCERPT_WORDS, excerpt, republish_of
from postroom.emails.render import render_digest
from postroom.feeds import build
from postroom.store import Store
from support import make_site, read

BASE = '[site]\nbase_url = "https://notes.example.org/"\ntitle = "Practice Notes"\n'
WORDS = [f"word{n:03d}" for n in range(1, 201)]  # word081 is the first an excerpt leaves out
TEXT = " ".join(WORDS)


def sourced(title: str, source: str = "Community Care", extra: str = "") -> str:
    return (
        f"---\ntitle: {title}\ndate: 2026-11-02\nsource: {source}\n"
        f"source_url: https://www.example.org/{title.lower().replace(' ', '-')}\n"
        f"author: Ann Writer\n{extra}---\n{TEXT}\n"
    )


OWN = f"---\ntitle: My own view\ndate: 2026-11-03\n---\n{TEXT}\n"


def published(tmp_path, files: dict[str, str], config: str = BASE):
    site = make_site(tmp_path / "site", files, config=config)
    store = Store(site.store_url)
    try:
        report = scan(site, store)
        posts = store.posts()
    finally:
        store.close()
    build(site, posts)
    return site, {p.title: p for p in posts}, report


def entries(site, name: str = "atom.xml") -> dict[str, str]:
    """Each entry's title -> its content (Atom, RSS) as feedparser gives it."""
    parsed = feedparser.parse(read(site, name))
    assert not parsed.bozo, parsed.bozo_exception
    return {
        e.title: e.content[0].value if "content" in e else e.get("description", "")
        for e in parsed.entries
    }


def json_items(site) -> dict[str, dict]:
    return {i["title"]: i for i in json.loads(read(site, "feed.json"))["items"]}


def test_a_new_site_shows_other_publications_as_excerpts_and_the_curators_own_whole(tmp_path):
    site, posts, _ = published(tmp_path, {"cc.md": sourced("From the source"), "own.md": OWN})
    assert republish_of(site.config, posts["From the source"]) is Republish.EXCERPT
    assert republish_of(site.config, posts["My own view"]) is Republish.FULL
    for name in ("atom.xml", "rss.xml"):
        content = entries(site, name)
        excerpt = content["From the source"]
        assert (
            f"word{EXCERPT_WORDS:03d}…" in excerpt and f"word{EXCERPT_WORDS + 1:03d}" not in excerpt
        )
        assert "Read the whole article at Community Care" in excerpt
        assert 'href="https://www.example.org/from-the-source"' in excerpt
        assert "First published in" in excerpt  # the credit stays
        assert (
            "word200" in content["My own view"]
            and "Read the whole article" not in (content["My own view"])
        )
    items = json_items(site)
    assert "word081" not in items["From the source"]["content_html"]
    assert "word200" in items["My own view"]["content_html"]


def test_a_sources_table_and_a_posts_own_choice_override_the_site(tmp_path):
    config = (
        BASE
        + 'republish = "full"\n'
        + '[sources."community care"]\nrepublish = "link"\n'  # any case: one source
        + '[sources."Local Government Chronicle"]\nrepublish = "excerpt"\n'
    )
    files = {
        "cc.md": sourced("Linked only", extra="comment: Worth reading for the numbers.\n"),
        "cc2.md": sourced("Cleared in full", extra="republish: full\n"),
        "lgc.md": sourced("Quoted in part", source="Local Government Chronicle"),
        "other.md": sourced("Whole by the site", source="Another Weekly"),
    }
    site, posts, _ = published(tmp_path, files, config)
    rules = {title: republish_of(site.config, post) for title, post in posts.items()}
    assert rules == {
        "Linked only": Republish.LINK,
        "Cleared in full": Republish.FULL,
        "Quoted in part": Republish.EXCERPT,
        "Whole by the site": Republish.FULL,
    }
    content = entries(site)
    linked = content["Linked only"]
    assert "word001" not in linked  # none of the source's words
    assert "Worth reading for the numbers." in linked and "First published in" in linked
    assert 'href="https://www.example.org/linked-only"' in linked
    assert "word200" in content["Cleared in full"] and "word200" in content["Whole by the site"]
    assert "word081" not in content["Quoted in part"]
    summary = feedparser.parse(read(site, "atom.xml"))
    by_title = {e.title: e for e in summary.entries}
    assert by_title["Linked only"].summary == "Worth reading for the numbers."  # not the text


def test_a_sidecar_sets_the_rule_for_every_post_of_a_capture(tmp_path):
    capture = "Monday, 2 November 2026\n\nA captured piece\n\n" + TEXT + "\n"
    files = {
        "page.txt": capture,
        "page.meta.toml": 'source = "Community Care"\nurl = "https://www.example.org/c"\n'
        'republish = "link"\n',
    }
    site, posts, _ = published(tmp_path, files, BASE + 'republish = "full"\n')
    (post,) = posts.values()
    assert post.republish is Republish.LINK
    assert "word001" not in entries(site)[post.title]


@pytest.mark.parametrize(
    ("where", "files"),
    [
        ("front matter", {"a.md": sourced("Typo", extra="republish: ful\n")}),
        (
            "sidecar",
            {
                "a.txt": "Monday, 2 November 2026\n\nCaptured\n\nSome text.\n",
                "a.meta.toml": 'republish = "everything"\n',
            },
        ),
    ],
)
def test_a_bad_rule_in_a_file_is_named_and_its_post_shown_as_a_link(tmp_path, where, files):
    """A typo is not an error that would keep the last good version (perhaps `full`)
    published: the post is shown as `link`, the least, until the rule is mended."""
    site, posts, report = published(
        tmp_path, {**files, "own.md": OWN}, BASE + 'republish = "full"\n'
    )
    assert len(posts) == 2
    (post,) = [p for title, p in posts.items() if title != "My own view"]
    assert post.republish is Republish.LINK
    assert (
        "Some text" not in entries(site)[post.title] and "word001" not in entries(site)[post.title]
    )
    (problem,) = [p for p in report.problems if "republish" in p.reason]
    assert where in problem.reason and "full, excerpt, link" in problem.reason
    assert problem.reason.endswith("shown as link") and problem.severity.value == "warning"


def test_a_typo_made_later_narrows_a_post_shown_whole(tmp_path):
    files = {"a.md": sourced("Cleared", extra="republish: full\n")}
    site = make_site(tmp_path / "site", files, config=BASE)
    store = Store(site.store_url)
    try:
        scan(site, store)
        build(site, store.posts())
        assert "word200" in entries(site)["Cleared"]
        (site.content_dir / "a.md").write_text(sourced("Cleared", extra="republish: lnk\n"))
        scan(site, store)
        build(site, store.posts())
    finally:
        store.close()
    assert "word001" not in entries(site)["Cleared"]
    for path in site.public_dir.rglob("*"):
        if path.is_file():
            assert b"word200" not in path.read_bytes(), path


def test_the_page_honours_the_rule_and_credits_the_original_as_canonical(tmp_path):
    config = BASE + '[sources."Community Care"]\nrepublish = "link"\n'
    files = {
        "cc.md": sourced("Linked only", extra="comment: My view of it.\n"),
        "lgc.md": sourced("Quoted in part", source="Local Government Chronicle"),
        "own.md": OWN,
    }
    site, posts, _ = published(tmp_path, files, config)

    def page(title: str):
        return lxml_html.fromstring(read(site, f"posts/{posts[title].id}/index.html"))

    linked, quoted, own = page("Linked only"), page("Quoted in part"), page("My own view")
    assert linked.xpath("//link[@rel='canonical']/@href") == ["https://www.example.org/linked-only"]
    assert quoted.xpath("//link[@rel='canonical']/@href") == [
        "https://www.example.org/quoted-in-part"
    ]
    assert own.xpath("//link[@rel='canonical']") == []  # the curator's own page is the original
    linked_text = linked.xpath("string(//article)")
    assert "word001" not in linked_text and "My view of it." in linked_text
    assert linked.xpath("//article//p[@class='original']/a/@href") == [
        "https://www.example.org/linked-only"
    ]
    quoted_text = quoted.xpath("string(//article)")
    assert "word080" in quoted_text and "word081" not in quoted_text
    assert "word200" in own.xpath("string(//article)")


def test_the_digest_never_shows_more_than_the_rule_even_with_full_text(tmp_path):
    config = (
        BASE + "[digest]\nfull_text = true\n" + '[sources."Community Care"]\nrepublish = "link"\n'
    )
    files = {
        "cc.md": sourced("Linked only", extra="comment: My view of it.\n"),
        "lgc.md": sourced("Quoted in part", source="Local Government Chronicle"),
        "own.md": OWN,
    }
    site, posts, _ = published(tmp_path, files, config)
    rendered = render_digest(site, 1, list(posts.values()))
    document = lxml_html.fromstring(rendered.html)
    blocks = {
        block.xpath("string(.//h2)"): block
        for block in document.xpath("//div[@class]")
        if block.xpath(".//h2")
    }
    linked = blocks["Linked only"].xpath("string(.)")
    assert "word001" not in linked and "My view of it." in linked
    assert "Read the whole article at Community Care" in linked
    quoted = blocks["Quoted in part"].xpath("string(.)")
    assert "word081" not in quoted and "Read the whole article" in quoted
    assert "word200" in blocks["My own view"].xpath("string(.)")  # whole: full_text
    assert rendered.cut == ()  # capped by the rule, not by the budget
    text = rendered.text
    assert text.count("word200") == 1  # the own post, whole, in the text part too
    assert "My view of it." in text and "https://www.example.org/linked-only" in text


@pytest.mark.parametrize(
    ("config", "named"),
    [
        (BASE + 'republish = "most"\n', "'site.republish' must be one of full, excerpt, link"),
        ('[sources."CC"]\nrepublish = "some"\n', "[sources.\"CC\"]: 'republish' must be one of"),
        ('[sources."CC"]\nlicence = "cc-by"\n', "[sources.\"CC\"]: unknown key 'licence'"),
        ('[sources."CC"]\n[sources."cc"]\n', 'the same source as [sources."CC"]'),
        ("sources = 3\n", "'sources' must hold tables"),
    ],
)
def test_bad_republishing_config_is_refused_naming_the_key(tmp_path, config, named):
    root = tmp_path / "site"
    make_site(root)
    (root / "postroom.toml").write_text(config, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        open_site(root)
    assert named in str(caught.value)


def test_a_source_named_as_the_site_itself_is_the_curators_own(tmp_path):
    files = {"mine.md": sourced("Reposted from my blog", source="Practice Notes")}
    site, posts, _ = published(tmp_path, files)
    assert republish_of(site.config, posts["Reposted from my blog"]) is Republish.FULL
    assert "word200" in entries(site)["Reposted from my blog"]


def test_sources_named_without_latin_letters_are_told_apart(tmp_path):
    """Their slugs are all "untitled": the names themselves (any case) are compared."""
    config = (
        BASE + '[sources."Гардиан"]\nrepublish = "link"\n[sources."Лента"]\nrepublish = "full"\n'
    )
    files = {"g.md": sourced("One", source="гардиан"), "l.md": sourced("Two", source="Лента")}
    site, posts, _ = published(tmp_path, files, config)
    assert republish_of(site.config, posts["One"]) is Republish.LINK
    assert republish_of(site.config, posts["Two"]) is Republish.FULL


def test_check_names_a_sources_table_no_post_matches_and_gives_each_posts_rule(tmp_path, capsys):
    from postroom.scheduler import main

    config = BASE + '[sources."Comunity Care"]\nrepublish = "full"\n'
    site = make_site(tmp_path / "site", {"cc.md": sourced("One"), "own.md": OWN}, config=config)
    assert main(["--site", str(site.root), "check", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {p["title"]: p["republish"] for p in out["posts"]} == {
        "One": "excerpt",
        "My own view": "full",
    }
    (problem,) = [p for p in out["problems"] if p["file"] == "postroom.toml"]
    assert (
        problem["reason"] == '[sources."Comunity Care"] matches no post\'s source: is it spelt so?'
    )
    assert problem["severity"] == "warning"


def test_an_excerpt_read_from_the_start_of_a_body_is_the_excerpt_of_the_whole():
    """`excerpt` reads only as much HTML as its words need: the result must be what the
    whole body gives, however dense the markup, wherever the first cut falls."""
    from postroom.core.sanitize import html_to_text, one_line

    def whole(body: str) -> str:  # the same rules, on the whole text at once
        found = one_line(html_to_text(body)).split(" ")
        shown = " ".join(found[:EXCERPT_WORDS])
        if len(shown) > EXCERPT_CHARS:  # these bodies have no wide characters
            head = shown[:EXCERPT_CHARS]
            return head.rsplit(" ", 1)[0].rstrip(" ,;:.") + "…"
        if len(found) <= EXCERPT_WORDS:
            return shown
        return shown.rstrip(" ,;:.") + "…"

    link = '<a href="https://www.example.org/a/long/path/{0}?q=&amp;x={0}" title="t {0}">w{0}</a>'
    bodies = (
        [
            "<p>" + " ".join(f"word{n}" for n in range(count)) + "</p>"
            for count in (0, 1, 79, 80, 81, 400)
        ]
        + [
            "<p>" + " ".join(link.format(n) for n in range(count)) + "</p>"
            for count in (10, 79, 80, 81, 500)
        ]
        + ["<p>" + "&amp; fish &lt;chips&gt; " * count + "</p>" for count in (20, 26, 27, 300)]
        + ["<ul>" + "<li>item</li>" * 300 + "</ul>"]
        + ["<p>" + "abcdefghijk " * count + "</p>" for count in (60, 63, 64, 70, 200)]
    )
    for body in bodies:
        assert excerpt(body) == whole(body), body[:80]


def test_an_excerpt_of_text_without_spaces_is_held_to_a_length(tmp_path):
    """Japanese has no spaces between words: the whole article is one "word", and an
    excerpt is cut by length (a wide character counting as 3.5) instead."""
    article = "児童福祉の改革について。" * 300 + "最後の秘密文章。"
    files = {"jp.md": sourced("Japanese", source="Asahi Example").replace(TEXT, article)}
    site, _, _ = published(tmp_path, files)
    for name in ("atom.xml", "rss.xml"):
        content = entries(site, name)["Japanese"]
        assert "最後の秘密文章" not in content and "児童福祉" in content
    words = excerpt(f"<p>{article}</p>")
    assert words.endswith("…") and 150 <= len(words) <= 201
    hyphens = "-".join(f"w{n}" for n in range(5000))
    assert len(excerpt(f"<p>{hyphens}</p>")) <= EXCERPT_CHARS + 1


def test_a_sources_rule_is_that_sources_alone(tmp_path):
    """Names are compared in any case and spacing, never through a slug: "C++ Weekly"
    is not "C# Weekly", nor "Россия Times" the "Times"."""
    config = (
        BASE + '[sources."C# Weekly"]\nrepublish = "full"\n[sources."Times"]\nrepublish = "link"\n'
    )
    files = {
        "a.md": sourced("Sharp", source="c#  WEEKLY"),
        "b.md": sourced("Plus", source="C++ Weekly"),
        "c.md": sourced("Russian", source="Россия Times"),
        "d.md": sourced("London", source="The Times").replace("The Times", "times."),
    }
    site, posts, _ = published(tmp_path, files, config)
    rules = {title: republish_of(site.config, post).value for title, post in posts.items()}
    assert rules == {"Sharp": "full", "Plus": "excerpt", "Russian": "excerpt", "London": "link"}


def test_a_capture_with_no_source_is_not_taken_for_the_curators_own(tmp_path):
    """Only a Markdown post with no source is the curator's: a saved page whose
    publication intake could not name is still someone else's text."""
    page = (
        "<html><head><title>Found</title></head><body><article><p>"
        + TEXT
        + "</p></article></body></html>"
    )
    site, posts, _ = published(tmp_path, {"saved.html": page, "own.md": OWN})
    (saved,) = [p for t, p in posts.items() if t != "My own view"]
    assert saved.attribution.source is None
    assert republish_of(site.config, saved) is Republish.EXCERPT
    assert republish_of(site.config, posts["My own view"]) is Republish.FULL


def test_a_link_post_shows_neither_the_sources_picture_nor_its_words_anywhere(tmp_path):
    """`link`: title, credit, comment, link. The lead image is the source's too, and a
    digest of one post puts its teaser in the preheader, which the archive page keeps."""
    image = "image: https://www.example.org/photo.jpg\nimage_alt: A photo\n"
    files = {"cc.md": sourced("Linked only", extra=f"{image}republish: link\ncomment: Mine.\n")}
    site, posts, _ = published(tmp_path, files)
    for name in ("atom.xml", "rss.xml", "feed.json"):
        data = read(site, name)
        assert b"photo.jpg" not in data and b"word001" not in data, name
    page = read(site, f"posts/{posts['Linked only'].id}/index.html")
    assert b"photo.jpg" not in page and b"word001" not in page
    rendered = render_digest(site, 1, list(posts.values()))
    for part in (rendered.html, rendered.text):
        assert "photo.jpg" not in part and "word001" not in part
    assert "Mine." in rendered.html


@pytest.mark.parametrize(
    ("title", "article", "most"),
    [
        ("Japanese", "日本語の文章です。" * 28 + "秘密ZZLATE秘密" + "続きの文章です。" * 100, 201),
        ("Thai", "ภาษาไทยเขียนติดกันไม่เว้นวรรค" * 20 + "ZZLATE" + "ต่อไป" * 200, 401),
    ],
)
def test_nothing_past_an_unspaced_excerpt_reaches_any_file(tmp_path, title, article, most):
    """A text with no spaces between words is held to a weighted length, and the summary
    beside it (feeds, the index, the digest) never says more than the excerpt."""
    files = {"a.md": sourced(title, source="Src").replace(TEXT, article)}
    site, posts, _ = published(tmp_path, files)
    for path in site.public_dir.rglob("*"):
        if path.is_file():
            assert b"ZZLATE" not in path.read_bytes(), path
    rendered = render_digest(site, 1, list(posts.values()))
    assert "ZZLATE" not in rendered.html and "ZZLATE" not in rendered.text
    assert len(excerpt(f"<p>{article}</p>")) <= most


def test_an_excerpt_posts_standfirst_is_not_shown_beside_its_excerpt(tmp_path):
    """The summary of a captured article is often its standfirst, the source's words too:
    shown beside 80 words of the body it would be that much more."""
    extra = "summary: A standfirst of the source's ZZSTANDFIRST words.\n"
    site, posts, _ = published(tmp_path, {"a.md": sourced("Standfirst", extra=extra)})
    for path in site.public_dir.rglob("*"):
        if path.is_file():
            assert b"ZZSTANDFIRST" not in path.read_bytes(), path
    rendered = render_digest(site, 1, list(posts.values()))
    assert "ZZSTANDFIRST" not in rendered.html and "ZZSTANDFIRST" not in rendered.text


def test_source_names_are_compared_as_they_read(tmp_path):
    """Decomposed accents, full-width letters and zero-width characters are the same
    name to a reader, and so to a [sources] table."""
    import unicodedata

    config = BASE + '[sources."Café Times"]\nrepublish = "link"\n'
    decomposed = unicodedata.normalize("NFD", "Café Times")
    files = {
        "a.md": sourced("Decomposed", source=decomposed),
        "b.md": sourced("Wide", source="Ｃａｆé Times"),
        "c.md": sourced("Hidden", source="Café\u200b Times"),
    }
    site, posts, _ = published(tmp_path, files, config)
    assert {republish_of(site.config, p) for p in posts.values()} == {Republish.LINK}


def test_a_view_kept_for_a_build_is_never_given_for_another_post_or_site(tmp_path):
    """Views are kept by post id within a build: a post edited (a new object, same id) or
    the same post under another config is worked out again, whether or not a build
    cleared them in between."""
    from dataclasses import replace

    from postroom.feeds.showing import showing
    from postroom.feeds.syndication import feed_content
    from support import make_post

    site = make_site(tmp_path / "a", config=BASE)
    narrow = make_site(tmp_path / "b", config=BASE + 'republish = "link"\n')
    post = make_post(1, republish=None, body_html="<p>First words.</p>")
    assert "First words." in str(showing(site, post).body_html)
    edited = replace(post, body_html="<p>Second words.</p>")
    assert "Second words." in str(showing(site, edited).body_html)
    assert "Second words." in feed_content(site, edited)
    assert "Second words." not in feed_content(narrow, edited)  # the source linked only
    assert showing(narrow, edited).rule is Republish.LINK
