"""A site's own templates (SITE/templates/pages/, SITE/templates/emails/) before the packaged
ones: used when there, the packaged ones when removed or unusable, never a file outside the
folder, and content still sanitised. Real builds into public/ with a real SQLite store."""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from postroom.content.intake import scan
from postroom.scheduler import main
from postroom.service.jobs import publish
from postroom.store import Store
from support import make_site, write

POSTS = {
    "duty.md": "---\ntitle: What duty teams know\ndate: 2016-06-23\n---\n"
    "The phones stayed open. <script>alert(1)</script> <img src=x onerror=alert(2)>\n",
}
OWN_POST = """{% extends "base.html" %}
{% block main %}<article class="own-theme"><h1>{{ post.title }}</h1>
{{ post.body_html | safe }}</article>{% endblock %}
"""


class Built:
    """A site built as the service builds it: one store across builds."""

    def __init__(self, root: Path) -> None:
        self.site = make_site(root, POSTS)
        self.store = Store(self.site.store_url)
        scan(self.site, self.store)
        [self.post] = self.store.posts()

    def page(self) -> str:
        publish(self.site, self.store, datetime.now(UTC))
        path = self.site.public_dir / "posts" / self.post.id / "index.html"
        return path.read_text(encoding="utf-8")

    def override(self, name: str) -> Path:
        return self.site.root / "templates" / "pages" / name


@pytest.fixture
def built(tmp_path):
    built = Built(tmp_path / "site")
    try:
        yield built
    finally:
        built.store.close()


def test_an_override_of_post_html_is_used_and_its_removal_falls_back(built):
    packaged = built.page()
    assert "own-theme" not in packaged

    write(built.override("post.html"), OWN_POST)
    themed = built.page()  # the same process, the same memo: the page is made again
    assert '<article class="own-theme"><h1>What duty teams know</h1>' in themed
    assert "All posts" in themed  # base.html, packaged, still frames it
    assert "<script" not in themed and "onerror" not in themed  # content still sanitised

    built.override("post.html").unlink()
    assert built.page() == packaged


def test_a_build_looks_at_its_templates_once_and_what_follows_sees_an_edit(built):
    """Within a build (`checked_once`) a template found up to date is not looked at again
    before each page; after it, and in any other thread meanwhile, an edit is seen."""
    from postroom.feeds.pages import render_post_page
    from postroom.feeds.theme import checked_once

    seen_elsewhere: list[bytes] = []
    with checked_once():
        packaged = render_post_page(built.site, built.post)
        render_post_page(built.site, built.post)  # found up to date: not looked at again
        write(built.override("post.html"), OWN_POST)
        assert render_post_page(built.site, built.post) == packaged  # the build's version
        other = threading.Thread(
            target=lambda: seen_elsewhere.append(render_post_page(built.site, built.post))
        )
        other.start()
        other.join()
    assert b"own-theme" not in packaged
    assert b"own-theme" in seen_elsewhere[0]  # the web app's thread looks each time
    assert b"own-theme" in render_post_page(built.site, built.post)  # the next build


def test_an_override_outside_the_folder_is_never_read(built, tmp_path, caplog):
    secret = tmp_path / "outside.html"
    secret.write_text("SECRET FROM OUTSIDE", encoding="utf-8")
    built.override("post.html").parent.mkdir(parents=True)
    os.symlink(secret, built.override("post.html"))
    os.symlink(secret, built.override("base.html"))
    with caplog.at_level(logging.WARNING, logger="postroom.theme"):
        page = built.page()
    assert "SECRET" not in page and "What duty teams know" in page
    assert "outside" in caplog.text and "post.html" in caplog.text

    built.override("post.html").unlink()  # an include that climbs out finds nothing
    write(built.override("post.html"), '{% include "../../../outside.html" %}')
    with caplog.at_level(logging.WARNING, logger="postroom.theme"):
        page = built.page()
    assert "SECRET" not in page and "What duty teams know" in page
    assert "TemplateNotFound" in caplog.text


def test_an_override_that_does_not_parse_or_is_a_pipe_is_reported_and_not_used(built, caplog):
    write(built.override("post.html"), "{% block main %}unclosed")
    os.mkfifo(built.override("index.html"))  # would hang a reader that opened it
    with caplog.at_level(logging.WARNING, logger="postroom.theme"):
        page = built.page()
    assert "What duty teams know" in page and "unclosed" not in page
    assert "post.html: line 1" in caplog.text
    assert "not a regular file" in caplog.text
    index = (built.site.public_dir / "index.html").read_text(encoding="utf-8")
    assert "What duty teams know" in index


def test_check_says_which_overrides_would_not_be_used(built, capsys):
    """A broken override was said only in a build's or a send's log: `check`, where a
    curator looks before publishing, said nothing."""
    write(built.override("post.html"), "{% block main %}unclosed")
    os.mkfifo(built.override("index.html"))
    write(built.site.root / "templates" / "emails" / "welcome.txt", "Hello {{ title }}\n")
    capsys.readouterr()
    assert main(["--site", str(built.site.root), "check"]) == 0  # the posts are all right
    said = [line for line in capsys.readouterr().err.splitlines() if "templates/" in line]
    assert len(said) == 2, said  # the good welcome.txt is not named
    assert any("templates/pages/post.html: line 1" in line for line in said)
    assert any("templates/pages/index.html: not a regular file" in line for line in said)
    assert all(line.endswith("the packaged template is used") for line in said)


#: the packaged lists' rows as a theme copied before `listed(post)` writes them: the
#: helpers `credit`, `url` and `day` one call each, and the date's `isoformat`
ROWS_BEFORE_LISTED = {
    "topic.html": (
        "{% set row = listed(post) %}\n{% set credit_line = row.credit %}\n<li>\n"
        '<h2><a href="{{ row.url }}">{{ post.title }}</a></h2>\n'
        '<p class="meta"><time datetime="{{ row.datetime }}">{{ row.day }}</time></p>',
        "{% set credit_line = credit(post) %}\n<li>\n"
        '<h2><a href="{{ url(post) }}">{{ post.title }}</a></h2>\n'
        '<p class="meta"><time datetime="{{ post.date.isoformat(timespec="seconds") }}">'
        "{{ day(post.date) }}</time></p>",
    ),
    "posts.html": (
        '{% set row = listed(post) %}\n<li><a href="{{ row.url }}">{{ post.title }}</a> '
        '<span class="meta"><time datetime="{{ row.datetime }}">{{ row.day }}</time></span>',
        '<li><a href="{{ url(post) }}">{{ post.title }}</a> <span class="meta">'
        '<time datetime="{{ post.date.isoformat(timespec="seconds") }}">'
        "{{ day(post.date) }}</time></span>",
    ),
}


def _published(site, store, names: tuple[str, ...]) -> dict[str, str]:
    """The site published from `store`, and the text of the pages `names`."""
    publish(site, store, datetime.now(UTC))
    return {name: (site.public_dir / name).read_text("utf-8") for name in names}


def test_a_theme_listing_with_credit_url_and_day_renders_what_listed_does(
    tmp_path, monkeypatch, caplog
):
    """`listed(post)` is one call where a row made four: a site's own topic.html and
    posts.html that call the helpers one by one still work, and give the same pages."""
    import postroom.feeds.pages as pages

    monkeypatch.setattr(pages, "ON_FIRST_PAGE", 2)  # year pages too
    files = {
        f"p{n}.md": f'---\ntitle: "Post <{n}> & \\"more\\""\ndate: 201{n}-06-2{n}T10:3{n}:00\n'
        f"author: Writer {n}\nsource: Care & Co\ntags: [policy]\n---\nBody {n}.\n"
        for n in range(1, 5)
    }
    site = make_site(tmp_path / "site", files)
    store = Store(site.store_url)
    try:
        scan(site, store)
        lists = ("tags/policy/index.html", "tags/policy/2013.html", "posts/index.html")
        lists += ("posts/2014.html", "sources/care-co/index.html")

        packaged = _published(site, store, lists)
        assert (
            'class="credit">By Writer 3 · First published in Care &amp; Co on 23 June'
            in (packaged["tags/policy/2013.html"])
        )
        assert "Post &lt;4&gt; &amp; &#34;more&#34;" in packaged["posts/index.html"]
        own = Path(pages.__file__).parent / "templates"
        for name, (now, before) in ROWS_BEFORE_LISTED.items():
            text = (own / name).read_text("utf-8")
            assert now in text
            write(site.root / "templates" / "pages" / name, text.replace(now, before))
        with caplog.at_level(logging.WARNING, logger="postroom.theme"):
            assert _published(site, store, lists) == packaged
        assert not caplog.records  # the overrides rendered these, not the packaged ones
    finally:
        store.close()


def test_a_theme_base_asking_site_for_its_title_and_address_renders_the_same(tmp_path, caplog):
    """base.html shows `site_title` and `base_url`, escaped once a page; a site's own
    base.html that asks `site.config.site.title` and `site.base_url` each time still
    works and gives the same pages, markup characters in the title escaped alike."""
    import postroom.feeds.pages as pages

    config = (
        '[site]\nbase_url = "https://notes.example.org/a&b/"\n'
        'title = "Tom & \\"Jerry\\" <b>notes</b>"\n'
    )
    site = make_site(
        tmp_path / "site", {"p.md": "---\ntitle: One\ndate: 2016-06-21\n---\nBody.\n"}, config
    )
    store = Store(site.store_url)
    try:
        scan(site, store)
        names = ("index.html", "posts/index.html", "topics/index.html", "feeds/index.html")

        packaged = _published(site, store, names)
        assert (
            'title="Tom &amp; &#34;Jerry&#34; &lt;b&gt;notes&lt;/b&gt; (Atom)"'
            in (packaged["index.html"])
        )
        assert 'href="https://notes.example.org/a&amp;b/atom.xml"' in packaged["index.html"]
        text = (Path(pages.__file__).parent / "templates" / "base.html").read_text("utf-8")
        assert "{{ site_title }}" in text and "{{ base_url }}" in text
        before = text.replace("{{ site_title }}", "{{ site.config.site.title }}")
        write(
            site.root / "templates" / "pages" / "base.html",
            before.replace("{{ base_url }}", "{{ site.base_url }}") + "<!-- own -->",
        )
        with caplog.at_level(logging.WARNING, logger="postroom.theme"):
            own = _published(site, store, names)
        assert all(page.endswith("<!-- own -->") for page in own.values())  # its pages
        assert {name: page.removesuffix("\n<!-- own -->") for name, page in own.items()} == (
            packaged
        )
        assert not caplog.records
    finally:
        store.close()
