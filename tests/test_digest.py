"""Digest issues: membership on a real SQLite store, and rendering budgets."""

import logging
import re
from dataclasses import replace
from datetime import timedelta

import pytest
from postroom.content.intake import scan
from postroom.core.signals import issue_issued
from postroom.emails.issues import create_issue, pending_posts
from postroom.emails.render import ADDRESS, UNSUBSCRIBE_URL, render_digest
from postroom.store import Store
from postroom.store.digests import (
    RaceLost,
    SlotOutcome,
    all_issues,
    record_slot,
    save_issue,
    slot_outcome,
)
from postroom.store.outbox import Outbox, State
from postroom.store.subscribers import SubscriberList
from support import T0, make_post, make_site, write

MD = "---\ntitle: {title}\ndate: 2016-06-23\nsource: Community Care\n---\nBody of {title}.\n"


@pytest.fixture
def site(tmp_path):
    return make_site(
        tmp_path,
        config='[site]\nbase_url = "https://notes.example.org/"\n'
        'title = "Practice Notes"\n[digest]\nmax_posts = 20\n',
    )


def test_issues_hold_each_post_once_by_membership(site):
    store = Store(site.store_url)
    try:
        write(site.content_dir / "a.md", MD.format(title="First"))
        scan(site, store, T0)
        first = create_issue(site, store, cutoff=T0 + timedelta(days=1), now=T0)
        assert first.number == 1 and len(first.post_ids) == 1
        assert create_issue(site, store, T0 + timedelta(days=1), T0) is None  # nothing new
        write(site.content_dir / "b.md", MD.format(title="Second"))
        scan(site, store, T0 + timedelta(days=2))  # picked up after the next cut-off
        assert create_issue(site, store, T0 + timedelta(days=1, hours=12), T0) is None
        second = create_issue(site, store, T0 + timedelta(days=3), T0)
        assert second.number == 2 and len(second.post_ids) == 1
        assert second.post_ids[0].endswith("second")
        write(site.content_dir / "a.md", MD.format(title="First") + "edited\n")
        scan(site, store, T0 + timedelta(days=4))  # an edit does not make it new again
        assert pending_posts(store, T0 + timedelta(days=5)) == []
        assert [i.number for i in all_issues(store)] == [1, 2]
        assert "First" in all_issues(store)[0].html  # frozen with the issue
    finally:
        store.close()


def test_issue_issued_is_sent_once_an_issue_and_a_failing_receiver_stops_nothing(site, caplog):
    """Each issue made is announced once, after it is kept; a receiver that raises is
    logged, and neither the issue nor the other receivers are the worse for it."""
    seen = []

    def broken(sender, **fields):
        raise RuntimeError("a plugin's bug")

    def note(sender, **fields):
        seen.append((sender, fields["issue"], [p.id for p in fields["posts"]]))

    issue_issued.connect(broken)
    issue_issued.connect(note)
    store = Store(site.store_url)
    try:
        write(site.content_dir / "a.md", MD.format(title="First"))
        scan(site, store, T0)
        with caplog.at_level(logging.WARNING, logger="postroom.signals"):
            first = create_issue(site, store, T0 + timedelta(days=1), T0)
        assert create_issue(site, store, T0 + timedelta(days=1), T0) is None  # none: unsaid
        write(site.content_dir / "b.md", MD.format(title="Second"))
        write(site.content_dir / "c.md", MD.format(title="Third"))
        scan(site, store, T0 + timedelta(days=2))
        second = create_issue(site, store, T0 + timedelta(days=3), T0)
        kept = all_issues(store)
    finally:
        issue_issued.disconnect(note)
        issue_issued.disconnect(broken)
        store.close()
    assert seen == [
        (site, first, list(first.post_ids)),
        (site, second, list(second.post_ids)),
    ]
    assert len(second.post_ids) == 2 and kept == [first, second]
    assert "a plugin's bug" in caplog.text and "broken" in caplog.text


def test_a_write_that_loses_a_race_keeps_nothing_and_says_so(site):
    """What another process made first (an issue's number, a post, a slot) is refused
    with the store's RaceLost, and none of the losing write is kept."""
    store = Store(site.store_url)
    slot = T0 - timedelta(days=7)
    try:
        SubscriberList(store).add("ann@example.org")
        write(site.content_dir / "a.md", MD.format(title="First"))
        scan(site, store, T0)
        first = create_issue(site, store, T0 + timedelta(days=1), T0)
        with pytest.raises(RaceLost):  # its post is in issue 1 already
            save_issue(store, replace(first, number=2), T0, None, None)
        with pytest.raises(RaceLost):  # the number is taken
            save_issue(store, replace(first, post_ids=("another-post",)), T0, None, None)
        record_slot(store, slot, SlotOutcome.EMPTY, T0)
        with pytest.raises(RaceLost):
            record_slot(store, slot, SlotOutcome.LATE, T0)
        with pytest.raises(RaceLost):  # the slot is decided: not even the issue is kept
            save_issue(store, replace(first, number=2, post_ids=("another-post",)), T0, slot, None)
        assert all_issues(store) == [first]
        assert slot_outcome(store, slot) is SlotOutcome.EMPTY
        assert Outbox(store, "test:1").counts() == {1: {State.PENDING: 1}}
    finally:
        store.close()


def twenty_posts():
    return [
        make_post(
            n,
            body_html="<p>" + "Long words in a body. " * 150 + "</p>",
            summary="A summary sentence that says what the post is about. " * 3,
        )
        for n in range(1, 21)
    ]


def test_html_budget_for_a_twenty_post_issue_and_media_blocks_survive(site):
    rendered = render_digest(site, 7, twenty_posts())
    assert len(rendered.html.encode()) <= 90_000
    [style] = re.findall(r"<style>(.*?)</style>", rendered.html, re.S)
    assert len(style.encode()) <= 16_000
    assert "@media (max-width: 620px)" in style
    assert "@media (prefers-color-scheme: dark)" in style
    assert "&gt;" not in style and "&#" not in style  # CSS was not autoescaped
    assert 'style="max-width:600px' in rendered.html  # inlined by premailer
    assert rendered.html.startswith("<!doctype html>")
    assert rendered.subject == "Post number 1 + 19 more"


def test_every_post_carries_its_attribution_in_both_parts(site):
    posts = twenty_posts()
    rendered = render_digest(site, 1, posts)
    for post in posts:
        assert f'href="https://notes.example.org/posts/{post.id}/"' in rendered.html
        assert f'href="{post.attribution.url}"' in rendered.html
        assert f"https://notes.example.org/posts/{post.id}/" in rendered.text
        assert f"Original: {post.attribution.url}" in rendered.text
    assert rendered.text.count("By Mark Rogers, chief executive, Solihull MBC") == 20
    assert rendered.text.count("First published in Community Care on") == 20
    assert all(len(line) <= 100 for line in rendered.text.splitlines())
    for part in (rendered.html, rendered.text):
        assert ADDRESS in part and UNSUBSCRIBE_URL in part


def test_posts_beyond_max_posts_are_linked_titles(tmp_path):
    site = make_site(tmp_path, config="[digest]\nmax_posts = 2\n")
    posts = [make_post(n) for n in range(1, 5)]
    rendered = render_digest(site, 1, posts)
    assert "More this week" in rendered.html and "More this week:" in rendered.text
    assert rendered.html.count("Summary ") == 2  # excerpts only for the first two
    assert "Post number 4" in rendered.html
    # a listed post keeps a compact credit: who, where (linked to the original) and when
    listed = rendered.html[rendered.html.index("More this week") :]
    by = "By Mark Rogers, chief executive, Solihull MBC"
    assert f'{by} · <a href="https://www.communitycare.co.uk/4"' in listed
    assert "Community Care</a> · 5 June 2016" in listed
    more = rendered.text[rendered.text.index("More this week:") :]
    assert f"{by} · Community Care · 5 June 2016" in more
    assert "Original: https://www.communitycare.co.uk/4" in more


def test_titles_are_escaped_and_cannot_break_the_subject(site):
    post = make_post(1, title="<script>alert(1)</script>\r\nBcc: victim@example.org")
    rendered = render_digest(site, 1, [post])
    assert "<script>alert" not in rendered.html
    assert "\r" not in rendered.subject and "\n" not in rendered.subject
