"""A sent issue's public page follows the republishing rules as they are now: a post
narrowed after the issue went out (a publication asked for `link`) or withdrawn (its
file deleted) is taken off public/digests/<n>/ at the next build, while the email sent,
the outbox and the issue frozen in the store stay as they were; an issue nobody
narrowed keeps its page byte for byte. Real site folders, a real SQLite store, the
files transport, the real `postroom` command in-process (`digest send`, `run --once`)."""

from __future__ import annotations

import re
from pathlib import Path

import feedparser
import pytest
from lxml import html as lxml_html
from migration_support import make_older
from postroom.core.model import Republish
from postroom.scheduler import main
from postroom.store import Store
from postroom.store.digests import all_issues
from postroom.store.schema import SCHEMA_VERSION
from sqlalchemy import text
from support import make_site, write

SECRET = "test-secret-that-is-long-enough"
SITE = (
    '[site]\nbase_url = "https://notes.example.org/"\ntitle = "Practice Notes"\n'
    "[digest]\nfull_text = true\n"
    '[sources."Social Times"]\nrepublish = "full"\n'
    '[sources."Community Care"]\nrepublish = "full"\n'
)
CARE = '[sources."Community Care"]\nrepublish = "full"\n'
LINKED = SITE.replace(CARE, CARE.replace("full", "link"))
POST = """---
title: {title}
date: 2016-06-2{n}
source: {source}
source_url: https://www.example.org/{slug}
---
{words}
"""
# each post's own words, far past an excerpt: none of them may stay on a page that shows
# the post as a link
POSTS = {  # file -> (title, source, the body's marker word)
    "care.md": ("Thresholds are not a wall", "Community Care", "carebody"),
    "times.md": ("What duty teams know", "Social Times", "timesbody"),
}


def words(marker: str) -> str:
    return " ".join(f"{marker}{n:03d}" for n in range(150))


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("POSTROOM_SECRET", SECRET)


def postroom(site, *args: str) -> None:
    assert main(["--site", str(site.root), *args]) == 0


def sent_site(tmp_path: Path):
    """A site with two posts from two sources, both shown whole, and one issue of them
    made, published and mailed through the files transport (outbox/1/*.eml)."""
    site = make_site(tmp_path / "site", config=SITE)
    for n, (name, (title, source, marker)) in enumerate(POSTS.items()):
        slug = name.removesuffix(".md")
        body = POST.format(title=title, n=n, source=source, slug=slug, words=words(marker))
        write(site.content_dir / name, body)
    postroom(site, "subscribers", "add", "ann@example.org")
    postroom(site, "digest", "send")
    assert len(list((site.root / "outbox" / "1").glob("*.eml"))) == 1
    return site


def snapshot(site) -> tuple[dict[str, bytes], list[tuple[str, str, str]]]:
    """What was sent, as it is: the outbox's files and each issue's frozen parts."""
    outbox = {str(p): p.read_bytes() for p in sorted((site.root / "outbox").rglob("*.eml"))}
    store = Store(site.store_url)
    try:
        frozen = [(i.subject, i.html, i.text) for i in all_issues(store)]
    finally:
        store.close()
    return outbox, frozen


def page_path(site) -> Path:
    return site.public_dir / "digests" / "1" / "index.html"


def visible(site) -> str:
    """The issue page's text, as a reader sees it."""
    return lxml_html.fromstring(page_path(site).read_bytes()).text_content()


def links(site) -> set[str]:
    return set(lxml_html.fromstring(page_path(site).read_bytes()).xpath("//a/@href"))


def set_config(site, config: str) -> None:
    (site.root / "postroom.toml").write_text(config, encoding="utf-8")


def test_the_rule_each_post_was_shown_by_is_frozen_with_the_issue(tmp_path):
    site = sent_site(tmp_path)
    store = Store(site.store_url)
    try:
        [issue] = all_issues(store)
        titles = {p.id: p.title for p in store.posts()}
    finally:
        store.close()
    assert len(issue.post_ids) == 2
    assert issue.rules == (Republish.FULL, Republish.FULL), [titles[i] for i in issue.post_ids]
    text_now = visible(site)
    for _title, _source, marker in POSTS.values():
        assert f"{marker}149" in text_now  # both whole on the page as in the email


def test_a_source_narrowed_to_link_after_sending_leaves_the_page_not_the_email(tmp_path):
    """(a) The publication asks for `link`: the next `run --once` takes its words off the
    issue's page, which still names the post and links to the original; the other
    post's page text is unchanged, and what was sent stays as it was."""
    site = sent_site(tmp_path)
    before, before_text, sent = page_path(site).read_bytes(), visible(site), snapshot(site)
    set_config(site, LINKED)
    postroom(site, "run", "--once")
    after = visible(site)
    assert "carebody" not in after  # not a word of it, not even an excerpt
    assert "Thresholds are not a wall" in after
    assert "https://www.example.org/care" in links(site)
    assert "timesbody149" in after and "What duty teams know" in after
    times_before = re.search(r"What duty teams know.*timesbody149", before_text, re.S)
    times_after = re.search(r"What duty teams know.*timesbody149", after, re.S)
    assert times_before and times_after and times_before.group() == times_after.group()
    assert "%%" not in page_path(site).read_text()  # the personal placeholders stay out
    assert snapshot(site) == sent  # the outbox and the frozen issue: as sent
    eml = next((site.root / "outbox" / "1").glob("*.eml")).read_bytes()
    assert b"carebody149" in eml.replace(b"=\r\n", b"")  # the email still has it all

    # the curator widens it again: the page is the frozen one once more, byte for byte
    set_config(site, SITE)
    postroom(site, "run", "--once")
    assert page_path(site).read_bytes() == before


def test_a_post_narrowed_in_its_own_front_matter_leaves_the_page_too(tmp_path):
    site = sent_site(tmp_path)
    care = site.content_dir / "care.md"
    care.write_text(care.read_text().replace("source:", "republish: excerpt\nsource:", 1))
    postroom(site, "run", "--once")
    after = visible(site)
    assert "carebody000" in after and "carebody149" not in after  # an excerpt, no more
    assert "timesbody149" in after


def test_a_withdrawn_post_leaves_the_page_the_index_and_the_issues_feed(tmp_path):
    """(b) The post's file is deleted: its title and words leave the issue's page (and
    the subject, which the lead's title made), the archive index and the issues feed."""
    site = sent_site(tmp_path)
    sent = snapshot(site)
    store = Store(site.store_url)
    try:
        [issue] = all_issues(store)
        lead = next(p for p in store.posts() if p.id == issue.post_ids[0])
    finally:
        store.close()
    gone = next(name for name, post in POSTS.items() if post[0] == lead.title)
    stays = next(post for name, post in POSTS.items() if name != gone)
    (site.content_dir / gone).unlink()
    postroom(site, "run", "--once")
    page = page_path(site).read_text()
    assert lead.title not in page and POSTS[gone][2] not in page
    assert stays[0] in page and f"{stays[2]}149" in page
    assert "1 post" in visible(site)
    index = (site.public_dir / "digests" / "index.html").read_text()
    feed_bytes = (site.public_dir / "digests" / "atom.xml").read_bytes()
    assert lead.title not in index and lead.title.encode() not in feed_bytes
    [entry] = feedparser.parse(feed_bytes).entries
    assert entry.title == stays[0] and "1 post." in entry.content[0].value
    assert snapshot(site) == sent


def test_a_page_nobody_narrowed_stays_byte_identical_and_is_not_rewritten(tmp_path):
    """(c) Nothing changed, or a post of the issue widened or edited within its rule: the
    frozen page, untouched."""
    site = sent_site(tmp_path)
    page = page_path(site)
    before, stamp = page.read_bytes(), page.stat().st_mtime_ns
    postroom(site, "run", "--once")
    set_config(site, SITE.replace('[sources."Community Care"]', '[sources."Unused Paper"]'))
    postroom(site, "run", "--once")  # Community Care falls to the site's excerpt: narrower
    assert page.read_bytes() != before
    set_config(site, SITE + '[sources."Unused Paper"]\nrepublish = "link"\n')
    postroom(site, "run", "--once")  # as it was, one more table that changes nothing
    assert page.read_bytes() == before
    stamp = page.stat().st_mtime_ns
    postroom(site, "run", "--once")
    assert page.read_bytes() == before and page.stat().st_mtime_ns == stamp
    # a post edited within its rule: the page is the issue as sent, not the post as now
    times = site.content_dir / "times.md"
    times.write_text(times.read_text().replace("timesbody149", "timesedited"))
    postroom(site, "run", "--once")
    assert page.read_bytes() == before and page.stat().st_mtime_ns == stamp


def test_issues_of_a_version_9_database_count_as_shown_whole(tmp_path):
    """(d) Issues made before version 10 have no rule recorded (NULL): taken as `full`,
    so their page is kept while every post is still whole and made again once one is
    narrower."""
    site = sent_site(tmp_path)
    before = page_path(site).read_bytes()
    store = Store(site.store_url)
    with store.engine.begin() as conn:
        make_older(conn, 9)
    store.close()
    migrated = Store(site.store_url)  # opening it migrates it
    try:
        with migrated.engine.connect() as conn:
            found = conn.execute(text("SELECT version FROM schema_version")).scalar()
            assert found == SCHEMA_VERSION
        [issue] = all_issues(migrated)
        assert issue.rules == (None, None)
    finally:
        migrated.close()
    postroom(site, "run", "--once")
    assert page_path(site).read_bytes() == before
    set_config(site, SITE.replace(CARE, CARE.replace("full", "excerpt")))
    postroom(site, "run", "--once")
    assert "carebody000" in visible(site) and "carebody149" not in visible(site)
    assert "timesbody149" in visible(site)


def test_a_page_made_again_follows_the_sites_email_templates_as_they_are_now(tmp_path):
    """A page made again is made as the email would be now: an override of the email
    template added since (a long-running process remembers what it rendered) shows."""
    site = sent_site(tmp_path)
    set_config(site, LINKED)
    postroom(site, "run", "--once")
    assert "carebody" not in visible(site) and "Revised edition" not in visible(site)
    packaged = Path(__file__).resolve().parent.parent / "emails" / "templates" / "digest.html"
    override = packaged.read_text().replace("<body>", "<body>\n<p>Revised edition</p>", 1)
    write(site.root / "templates" / "emails" / "digest.html", override)
    postroom(site, "run", "--once")
    assert "Revised edition" in visible(site) and "carebody" not in visible(site)
