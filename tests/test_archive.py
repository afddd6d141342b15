"""The digest archive written by feeds.build(): issues rendered for real by
emails.render.render_digest, pages parsed as HTML, the feed checked as emitted (lxml)
and as read (feedparser)."""

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from lxml import etree
from postroom.core.model import Severity
from postroom.emails.render import ADDRESS, UNSUBSCRIBE_URL, render_digest
from postroom.feeds import ArchivedIssue, build
from support import make_post, make_site, read

ATOM = "{http://www.w3.org/2005/Atom}"
BASE = "https://notes.example.org/"
# Issue 1 at 23:30 UTC in June: already the next day in London (BST), the site's timezone.
SENT = {
    1: datetime(2016, 6, 22, 23, 30, tzinfo=UTC),
    2: datetime(2016, 6, 30, 7, 0, tzinfo=UTC),
    3: datetime(2016, 7, 7, 7, 0, tzinfo=UTC),
}


@pytest.fixture
def site(tmp_path):
    return make_site(
        tmp_path,
        config=f'[site]\nbase_url = "{BASE}"\ntitle = "Practice Notes"\n[digest]\nmax_posts = 2\n',
    )


def archived(site, number, posts, created_at=None):
    """An issue as the caller hands it over: the email rendered and frozen, its html whole."""
    rendered = render_digest(site, number, posts)
    return ArchivedIssue(
        number=number,
        created_at=created_at or SENT[number],
        subject=rendered.subject,
        html=rendered.html,
        post_ids=tuple(p.id for p in posts),
    )


def three_issues(site):
    posts = [make_post(n) for n in range(1, 7)]
    return [archived(site, n, posts[2 * n - 2 : 2 * n]) for n in (1, 2, 3)]


def page(site, name):
    return etree.HTML(read(site, name))


def test_each_issue_page_is_the_email_without_the_personal_footer(site):
    issues = three_issues(site)
    build(site, [], issues)
    for issue in issues:
        raw = read(site, f"digests/{issue.number}/index.html").decode()
        assert raw.startswith("<!doctype html>")
        for gone in (ADDRESS, UNSUBSCRIBE_URL, "%%", "<!-- personal", "Unsubscribe", "receive"):
            assert gone not in raw, (issue.number, gone)
        as_sent = issue.html.partition("<!-- personal -->")[0]  # all the rest of the email stays
        assert re.sub(r'<link rel="alternate"[^>]*>\n', "", raw, count=1).startswith(as_sent)
        html = etree.HTML(raw)
        assert html.findtext("head/title") == issue.subject
        [foot] = html.xpath("//p[@class='foot']")
        assert [a.get("href") for a in foot.iter("a")] == [f"{BASE}digests/", BASE]
        assert foot.get("style")  # styled as the email's footer was
        [feed] = html.xpath("//link[@rel='alternate']")
        assert feed.get("href") == f"{BASE}digests/atom.xml"
        n = 2 * issue.number
        titles = [a.text for a in html.iter("a") if a.text and a.text.startswith("Post number")]
        assert titles == [f"Post number {n - 1}", f"Post number {n}"]


def test_the_index_lists_issues_newest_first_in_the_sites_timezone(site):
    build(site, [], list(reversed(three_issues(site))))  # the order issues come in does not matter
    html = page(site, "digests/index.html")
    assert html.get("lang") == "en-GB"
    assert "width=device-width" in html.find("head/meta[@name='viewport']").get("content")
    assert not list(html.iter("script"))
    items = html.findall(".//ol/li")
    assert [li.find("a").get("href") for li in items] == [f"{BASE}digests/{n}/" for n in (3, 2, 1)]
    assert [li.findtext("a") for li in items] == [
        f"Post number {2 * n - 1} + 1 more" for n in (3, 2, 1)
    ]
    assert [li.findtext("span") for li in items] == [f"No. {n} · " for n in (3, 2, 1)]
    assert [li.findtext("span/time") for li in items] == [
        "7 July 2016",
        "30 June 2016",
        "23 June 2016",  # 22 June in UTC
    ]
    assert BASE + "digests/" in {a.get("href") for a in page(site, "index.html").iter("a")}


def test_the_digest_feed_meets_rfc_4287_and_reads_back(site):
    build(site, [make_post(1)], three_issues(site))
    feed = etree.fromstring(read(site, "digests/atom.xml"))
    for element in ("id", "title", "updated", f"author/{ATOM}name"):
        assert feed.findtext(ATOM + element), element
    assert feed.findtext(f"{ATOM}updated") == "2016-07-07T07:00:00+00:00"  # the newest issue
    [self_link] = feed.findall(f"{ATOM}link[@rel='self']")
    assert self_link.get("href") == f"{BASE}digests/atom.xml"
    assert feed.find(f"{ATOM}link[@rel='alternate']").get("href") == f"{BASE}digests/"
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}id") for e in entries] == [
        "tag:notes.example.org,2016-07-07:digest-3",
        "tag:notes.example.org,2016-06-30:digest-2",
        "tag:notes.example.org,2016-06-22:digest-1",  # the UTC day, as post entry ids
    ]
    for entry, n in zip(entries, (3, 2, 1), strict=True):
        for element in ("id", "title", "updated", "published", "summary", "content"):
            assert entry.findtext(ATOM + element), (n, element)
        assert entry.findtext(f"{ATOM}published") == SENT[n].isoformat()
        [link] = entry.findall(f"{ATOM}link")  # python-feedgen#135: rel and type put back
        assert (link.get("rel"), link.get("type")) == ("alternate", "text/html")
        assert link.get("href") == f"{BASE}digests/{n}/"
        assert entry.find(f"{ATOM}content").get("type") == "html"
    parsed = feedparser.parse(read(site, "digests/atom.xml"))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.feed.title == "Practice Notes: email digest"
    assert [e.link for e in parsed.entries] == [f"{BASE}digests/{n}/" for n in (3, 2, 1)]
    assert parsed.entries[2].title == "Post number 1 + 1 more"


def test_an_empty_archive_still_has_its_index_and_a_valid_feed(site):
    report = build(site, [])
    assert {"digests/index.html", "digests/atom.xml"} <= set(report.written)
    assert "No issues yet." in [p.text for p in page(site, "digests/index.html").iter("p")]
    feed = etree.fromstring(read(site, "digests/atom.xml"))
    assert feed.findtext(f"{ATOM}updated") == "1970-01-01T00:00:00+00:00"
    assert feed.find(f"{ATOM}entry") is None
    parsed = feedparser.parse(read(site, "digests/atom.xml"))
    assert parsed.bozo == 0 and parsed.entries == []


def test_a_rebuild_writes_nothing_and_a_new_issue_only_what_shows_it(site):
    issues = three_issues(site)
    build(site, [], issues[:2])
    again = build(site, [], issues[:2])
    assert again.written == () and again.removed == ()
    report = build(site, [], issues)
    assert set(report.written) == {"digests/3/index.html", "digests/index.html", "digests/atom.xml"}
    report = build(site, [], issues[1:])  # an issue gone from the store: its page goes too
    assert report.removed == ("digests/1/index.html",)
    assert not (site.public_dir / "digests/1").exists()


def test_a_script_in_a_subject_is_text_in_the_index_and_the_feed(site):
    issue = archived(site, 1, [make_post(1, title="<script>alert(1)</script> & co")])
    assert issue.subject == "<script>alert(1)</script> & co"
    build(site, [], [issue])
    for name in ("digests/index.html", "digests/1/index.html"):
        raw = read(site, name).decode()
        assert "<script>" not in raw, name
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in raw, name
    raw = read(site, "digests/atom.xml")
    assert b"<script" not in raw
    entry = etree.fromstring(raw).find(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == issue.subject  # text, escaped once by the XML
    content = entry.findtext(f"{ATOM}content")
    assert "<script" not in content and "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    parsed = feedparser.parse(raw)
    assert parsed.bozo == 0 and parsed.entries[0].title == issue.subject


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda html: html.replace("<!-- personal -->", ""), "0 personal footer blocks"),
        (lambda html: html + "<!-- personal --><!-- /personal -->", "2 personal footer blocks"),
        (lambda html: html.replace("<h1", f"<p>{ADDRESS}</p><h1"), "outside the personal footer"),
    ],
)
def test_an_issue_whose_page_would_leak_a_placeholder_is_not_archived(site, change, reason):
    good, bad = three_issues(site)[:2]
    bad = replace(bad, html=change(bad.html))
    report = build(site, [], [good, bad])
    [problem] = report.problems
    assert problem.file == "digest issue 2" and problem.severity == Severity.ERROR
    assert reason in problem.reason
    assert not (site.public_dir / "digests/2").exists()
    assert [li.find("a").get("href") for li in page(site, "digests/index.html").iter("li")] == [
        f"{BASE}digests/1/"
    ]
    assert len(feedparser.parse(read(site, "digests/atom.xml")).entries) == 1


def test_an_issue_without_a_timezone_is_not_archived(site):
    naive = archived(site, 1, [make_post(1)], created_at=datetime(2016, 6, 23, 8, 0))
    later = archived(site, 2, [make_post(2)], created_at=SENT[1] + timedelta(days=7))
    report = build(site, [], [naive, later])
    [problem] = report.problems
    assert problem.file == "digest issue 1" and "no timezone" in problem.reason
    assert sorted(p.name for p in (site.public_dir / "digests").iterdir()) == [
        "2",
        "atom.xml",
        "index.html",
    ]
