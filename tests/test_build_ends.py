"""The serial start and end of a build made cheaper without changing what it writes:
the feeds rendered while the workers write post pages and written after the pages
they link to; manifest and journal lines made without `json.dumps` where they need
no escape (the same bytes); heads looked at for XML-illegal text field by field."""

from __future__ import annotations

import json
import socket
import subprocess
from dataclasses import fields, replace
from pathlib import Path

import pytest
from incremental_support import small_archive_pages
from postroom.content.intake import scan
from postroom.core.model import Attribution, PostHead, Republish
from postroom.feeds import build, parallel, safety
from postroom.feeds.syndication import FORMATS
from postroom.feeds.writer import JOURNAL, OutputWriter, _line, _quoted, _read_journal
from postroom.store import Store
from support import make_post, make_site

CONFIG = '[site]\nbase_url = "https://notes.example.org/"\ntitle = "Notes"\n[feed]\nwindow = 5\n'
POST = """---
title: Post number {n}
date: 2016-{month:02d}-{day:02d}
tags: [{tags}]
---
Body of post {n}, with a [link](https://example.org/{n}).
"""


def scanned_site(root: Path, count: int):
    files = {
        f"p{n:03d}.md": POST.format(
            n=n, month=n % 12 + 1, day=n % 28 + 1, tags="policy" if n % 2 else "practice, law"
        )
        for n in range(count)
    }
    site = make_site(root, files, config=CONFIG)
    store = Store(site.store_url)
    scan(site, store)
    return site, store


def written_in_order(written: tuple[str, ...]) -> None:
    """No file written before a page it links to: every post page before any list or
    feed, every archive page before the site's feeds, every feed before the index
    of feeds (which names them all)."""
    at = {name: i for i, name in enumerate(written)}
    posts = [i for name, i in at.items() if name.startswith("posts/") and name.count("/") == 2]
    archive = [i for name, i in at.items() if name.startswith("archive/")]
    feeds = [
        i
        for name, i in at.items()
        if name.rpartition("/")[2] in FORMATS and not name.startswith("digests/")
    ]
    site_feeds = [at[name] for name in FORMATS]
    lists = [i for name, i in at.items() if name.endswith("index.html") and i not in posts]
    assert posts and archive and len(feeds) > len(site_feeds) and lists
    assert max(posts) < min(feeds + lists + archive)
    assert max(archive) < min(site_feeds)
    assert max(feeds) < at["feeds/index.html"]


@pytest.mark.parametrize("workers", [True, False])
def test_feeds_are_written_after_every_page_they_link_to(tmp_path, monkeypatch, workers):
    """With workers (the feeds rendered while they write post pages, held) and without
    (rendered and written as the build goes): the same order guarantee, the same files."""
    assert small_archive_pages(monkeypatch, 4)
    site, store = scanned_site(tmp_path / "site", 40)
    most = 1 if workers else 10**9
    monkeypatch.setattr(parallel, "POST_PAGES_FROM", most)
    monkeypatch.setattr(parallel, "ARCHIVE_PAGES_FROM", most)
    report = build(site, store)
    written_in_order(report.written)
    assert set(report.written) == set(report.outputs)
    again = build(site, store)  # nothing changed: the feeds rendered early are kept too
    assert again.written == () and again.outputs == report.outputs


def test_a_new_post_is_written_before_what_shows_it(tmp_path, monkeypatch):
    """A new post: its page first, then the lists and feeds that show it, the site's
    feeds after the archive page the window pushed a post onto."""
    assert small_archive_pages(monkeypatch, 4)
    site, store = scanned_site(tmp_path / "site", 21)
    build(site, store)
    (site.content_dir / "p999.md").write_text(
        POST.format(n=999, month=1, day=2, tags="policy"), encoding="utf-8"
    )
    scan(site, store)
    names = list(build(site, store).written)
    [page] = [i for i, n in enumerate(names) if n.startswith("posts/") and n.count("/") == 2]
    archive = [i for i, name in enumerate(names) if name.startswith("archive/")]
    assert page == 0 and archive
    assert max(archive) < names.index("atom.xml") and max(archive) < names.index("rss.xml")
    assert page < names.index("tags/policy/atom.xml") < names.index("atom.xml")


ODD = [
    "",
    "plain/name.html",
    'a "quoted" name',
    "back\\slash",
    "new\nline",
    "tab\there",
    "\x00\x01\x1f\x7f",
    "é\u2028\u2029\U0001f600",
    "\ud800 lone",
    "posts/2021-02-24-x/index.html",
]


def test_manifest_and_journal_lines_are_the_bytes_json_dumps_makes():
    for code in [*range(0x3000), *range(0xD7F0, 0xE010), 0xFFFE, 0xFFFF, 0x10FFFF]:
        text = f"a{chr(code)}b"
        assert _quoted(text) == json.dumps(text, ensure_ascii=False), hex(code)
        entry = (f"k{chr(code)}", 1, 2)
        want = f"{json.dumps('n', ensure_ascii=False)}: {json.dumps(list(entry))}"
        assert _line("n", entry) == want, hex(code)
    for name in ODD:
        assert _line(name, None) == f"{json.dumps(name, ensure_ascii=False)}: null"
        for entry in [("3f2a", 10, 17), (name, 0, -1), ("k", True, 2), ("k", 1.5, 2)]:
            want = f"{json.dumps(name, ensure_ascii=False)}: {json.dumps(list(entry))}"
            assert _line(name, entry) == want


def test_journal_names_needing_escapes_are_read_back(tmp_path):
    """What a killed build journaled is read by the next (`_read_journal`), whatever
    the name: those written as they are and those escaped by `json.dumps`."""
    out = OutputWriter(tmp_path / "public")
    names = [
        "plain/name.html",
        'a "quoted" name',
        "back\\slash",
        "new\nline/x",
        "tab\there",
        "c\x01\x1f\x7f",
        "é\u2028\u2029\U0001f600",
    ]
    out.record(names)
    assert _read_journal(out.scratch / JOURNAL) == set(names)
    text = (out.scratch / JOURNAL).read_text(encoding="utf-8")
    assert text.split("\n")[:-1] == [json.dumps(n, ensure_ascii=False) for n in sorted(names)]


def test_a_build_after_a_killed_one_removes_what_it_journaled(tmp_path):
    """A page on a dead build's journal (a name needing escapes among them) and no
    longer made is removed by the next build; the journal made without json.dumps."""
    site, store = scanned_site(tmp_path / "site", 3)
    build(site, store)
    public = site.public_dir
    scratches = public.parent / f".{public.name}.scratch"
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = scratches / f"{socket.gethostname()}:{gone.pid}"  # a build killed mid-write
    out = OutputWriter(public)
    out.record(["stale/plain.html", 'stale/"q".html', "stale/é\\x.html"])
    dead.mkdir(parents=True)
    (out.scratch / JOURNAL).rename(dead / JOURNAL)
    for name in ["stale/plain.html", 'stale/"q".html', "stale/é\\x.html"]:
        (public / name).parent.mkdir(parents=True, exist_ok=True)
        (public / name).write_text("old", encoding="utf-8")
    report = build(site, store)
    assert set(report.removed) == {"stale/plain.html", 'stale/"q".html', "stale/é\\x.html"}
    assert not (public / "stale").exists()


def head_of(n: int) -> PostHead:
    post = make_post(n, republish=Republish.FULL)
    values = {f.name: getattr(post, f.name) for f in fields(PostHead) if f.name != "fingerprint"}
    return PostHead(**values, fingerprint=f"f{n}")


def test_every_text_of_a_head_is_made_xml_safe():
    """The field-by-field look (`safety._head_text`) sees every string a head holds: an
    illegal character anywhere is found and taken out; a clean head comes back as is."""
    assert safety._HEADS_KNOWN  # else the slow way is what runs and this proves nothing
    head = head_of(1)
    assert safety.xml_safe(head) is head
    changes = {
        "id": "x\x01",
        "title": "t\x02",
        "tags": ("ok", "t\x03"),
        "files": ("f\x04",),
        "fingerprint": "p\x05",
    }
    credit = {f.name: f"{f.name}\x06" for f in fields(Attribution)}
    cases = [{k: v} for k, v in changes.items()]
    cases += [{"attribution": replace(head.attribution, **{k: v})} for k, v in credit.items()]
    for change in cases:
        dirty = replace(head, **change)
        clean = safety.xml_safe(dirty)
        assert clean is not dirty, change
        texts: list[str] = []
        safety._texts(clean, texts)
        assert not any(ch in t for t in texts for ch in "\x01\x02\x03\x04\x05\x06"), change
    odd = replace(head, title=None)  # not text where text belongs: looked at the slow way
    assert safety.xml_safe(odd) is odd
