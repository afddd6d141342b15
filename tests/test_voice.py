"""The digest's order and wording, and the curator's voice in it: the lead story, the
subject and preheader, sample values in a preview, the issues feed before any issue,
a comment per post and an intro per issue. Real site folders, a real SQLite store, the
real `postroom` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import feedparser
import lxml.html
import prestart
import pytest
from lxml import etree
from migration_support import make_older
from postroom.content.intake import scan
from postroom.core.config import ConfigError, open_site
from postroom.emails.issues import create_issue, next_intro, pending_posts
from postroom.emails.render import digest_preheader, render_digest
from postroom.feeds.syndication import ATOM
from postroom.service.jobs import publish
from postroom.store import Store
from postroom.store.digests import all_issues
from support import T0, make_site, read, write

MD = "---\ntitle: {title}\ndate: {date}\nsource: Community Care\n---\nBody of {title}.\n"
CONFIG = (
    '[site]\nbase_url = "https://notes.example.org/"\ntitle = "Practice Notes"\n'
    'id_authority = "notes.example.org,2026-11-01"\n'
)


@pytest.fixture
def site(tmp_path):
    return make_site(tmp_path, config=CONFIG)


@pytest.fixture
def store(site):
    opened = Store(site.store_url)
    yield opened
    opened.close()


def postroom(site, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "postroom.scheduler", "--site", str(site.root), *args]
    return prestart.run(command, env=dict(os.environ) if env is None else env, timeout=120)


def test_the_lead_story_is_the_newest_of_posts_picked_up_together(site, store):
    """Defect 5: posts found in one scan came out in id order, so a 2016 article led the
    issue and its subject. Newest pick-up first, then the newest original date."""
    write(site.content_dir / "a.md", MD.format(title="Archive piece", date="2016-06-23"))
    write(site.content_dir / "b.md", MD.format(title="Last week", date="2026-10-26"))
    write(site.content_dir / "c.md", MD.format(title="Middle", date="2020-01-05"))
    scan(site, store, T0)
    write(site.content_dir / "d.md", MD.format(title="Found later", date="2010-01-01"))
    scan(site, store, T0 + timedelta(hours=1))
    order = [p.title for p in pending_posts(store, T0 + timedelta(days=1))]
    assert order == ["Found later", "Last week", "Middle", "Archive piece"]
    issue = create_issue(site, store, T0 + timedelta(days=1), T0 + timedelta(days=1))
    assert "Found later" in issue.subject and "Archive piece" not in issue.subject
    ids = {p.title: p.id for p in store.posts()}
    assert issue.post_ids == tuple(ids[t] for t in order)


def test_a_preview_shows_sample_values_not_placeholders(site):
    """Defect 7: preview/digest.html and .txt showed %%ADDRESS%% and %%UNSUBSCRIBE_URL%%."""
    write(site.content_dir / "a.md", MD.format(title="Last week", date="2026-10-26"))
    done = postroom(site, "digest", "preview")
    assert done.returncode == 0, done.stderr
    html = (site.root / "preview" / "digest.html").read_text()
    text = (site.root / "preview" / "digest.txt").read_text()
    for part in (html, text):
        assert "%%" not in part
        assert "you@example.org" in part  # no curator.email in this config
        assert "https://notes.example.org/unsubscribe?token=SAMPLE-" in part
    assert "its unsubscribe link is a sample" in done.stderr
    config = (site.root / "postroom.toml").read_text()
    (site.root / "postroom.toml").write_text(config + '[curator]\nemail = "ed@example.org"\n')
    assert postroom(site, "digest", "preview").returncode == 0
    html = (site.root / "preview" / "digest.html").read_text()
    assert "ed@example.org" in html and "you@example.org" not in html


def test_a_dry_run_says_how_many_people_would_get_it(site):
    write(site.content_dir / "a.md", MD.format(title="Last week", date="2026-10-26"))
    for address in ("ann@example.org", "bob@example.org", "cy@example.org"):
        assert postroom(site, "subscribers", "add", address).returncode == 0
    done = postroom(site, "digest", "send", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "would hold 1 posts and go to 3 subscribers" in done.stdout


def test_adding_someone_already_there_says_name_updated_only_when_it_was(site):
    """Defect 7: `subscribers add ME@Example.ORG` with no --name said "(name updated)"."""
    lines = []
    for args in ((), (), ("--name", "Me"), ("--name", "Me"), ("--name", "Me Again"), ()):
        done = postroom(site, "subscribers", "add", "ME@Example.ORG", *args)
        assert done.returncode == 0, done.stderr
        lines.append(done.stdout.strip())
    assert lines == [
        "added: ME@Example.ORG",
        "already subscribed: ME@Example.ORG",
        "already subscribed (name updated): ME@Example.ORG",
        "already subscribed: ME@Example.ORG",
        "already subscribed (name updated): ME@Example.ORG",
        "already subscribed: ME@Example.ORG",
    ]


def test_feeds_with_nothing_in_them_are_dated_by_the_first_build_and_stay_put(site, store):
    """Defect 14: before the first issue, public/digests/atom.xml said
    <updated>1970-01-01T00:00:00+00:00</updated> ("implausible date"). It is the first
    build's time, the same in every rebuild after (byte-identical output)."""
    built = T0 + timedelta(minutes=5)
    publish(site, store, built)
    first_bytes = {name: read(site, name) for name in ("digests/atom.xml", "atom.xml")}
    for name in first_bytes:
        feed = etree.fromstring(first_bytes[name])
        assert feed.findtext(f"{ATOM}updated") == built.isoformat()
        assert feedparser.parse(first_bytes[name]).bozo == 0
    publish(site, store, built + timedelta(days=3))  # a rebuild days later: nothing moves
    assert {name: read(site, name) for name in first_bytes} == first_bytes


def three_pending(site, store):
    for name, title, date in (
        ("a.md", "Archive piece", "2016-06-23"),
        ("b.md", "Last week", "2026-10-26"),
        ("c.md", "Middle", "2020-01-05"),
    ):
        write(site.content_dir / name, MD.format(title=title, date=date))
    scan(site, store, T0)
    return pending_posts(store, T0 + timedelta(days=1))


def test_the_subject_names_the_lead_and_counts_the_rest_and_the_preheader_goes_on(site, store):
    posts = three_pending(site, store)
    rendered = render_digest(site, 1, posts)
    assert rendered.subject == "Last week + 2 more"  # the brand is in From
    preheader = digest_preheader(site, posts)
    assert preheader == "Middle · Archive piece"  # not the lead again
    assert preheader in rendered.html
    alone = render_digest(site, 1, posts[:1])
    assert alone.subject == "Last week"  # not "+ 0 more"
    assert digest_preheader(site, posts[:1]) == "Body of Last week."  # its summary, not its title
    config = (site.root / "postroom.toml").read_text()
    (site.root / "postroom.toml").write_text(
        config + '[digest]\nsubject = "Notes {{weekly}}: {lead}, and {more} others"\n'
    )
    custom = open_site(site.root)
    assert render_digest(custom, 1, posts).subject == "Notes {weekly}: Last week, and 2 others"
    assert render_digest(custom, 1, posts[:1]).subject == "Last week"
    many = [replace(posts[0], id=f"p{n}", title=f"Title {n}") for n in range(9)]
    assert digest_preheader(site, many) == "Title 1 · Title 2 · Title 3 · and 5 more"


def test_a_subject_title_with_a_line_break_or_braces_stays_one_literal_line(site, store):
    [lead, *rest] = three_pending(site, store)
    hostile = replace(lead, title="{more} {lead.__class__}\r\nBcc: evil@example.org")
    subject = render_digest(site, 1, [hostile, *rest]).subject
    assert subject == "{more} {lead.__class__} Bcc: evil@example.org + 2 more"


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("{title} + {more} more", "unknown placeholder {title}"),
        ("{} new", "unknown placeholder {}"),
        ("{lead.__class__}", "unknown placeholder {lead.__class__}"),
        ("{lead!r}", "{lead} with a format"),
        ("{more:>5} posts", "{more} with a format"),
        ("{lead} {", "unmatched brace"),
        ("{lead}\\nBcc: x", "one line"),
    ],
)
def test_a_subject_template_is_checked_when_the_config_is_read(site, template, why):
    config = (site.root / "postroom.toml").read_text()
    (site.root / "postroom.toml").write_text(config + f'[digest]\nsubject = "{template}"\n')
    with pytest.raises(ConfigError) as refused:
        open_site(site.root)
    assert "'digest.subject'" in str(refused.value) and why in str(refused.value)


def test_the_command_line_names_a_bad_subject_template(site):
    config = (site.root / "postroom.toml").read_text()
    (site.root / "postroom.toml").write_text(config + '[digest]\nsubject = "{title}"\n')
    done = postroom(site, "check")
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("postroom:") and "'digest.subject'" in line and "{title}" in line


COMMENTED = (
    "---\ntitle: The duty desk\ndate: 2026-10-20\nsource: Community Care\n"
    "source_url: https://www.communitycare.co.uk/duty\n"
    "comment: 'Worth it for the *second* half. <script>alert(1)</script>'\n---\n"
    "Duty teams kept the phones open.\n"
)


def test_a_curators_comment_is_kept_apart_from_the_sources_words(site, store):
    """Front matter `comment` (or a sidecar's, which wins) reaches the post's page and
    every feed entry before the source's text, which is marked as a quotation."""
    write(site.content_dir / "duty.md", COMMENTED)
    write(site.content_dir / "plain.md", MD.format(title="Plain", date="2026-10-21"))
    write(site.content_dir / "cap.txt", "Snow days\n\nMonday, 5 March 2018\n\nDuty teams coped.\n")
    write(site.content_dir / "cap.meta.toml", 'comment = "Still true."\nsource = "Example"\n')
    scan(site, store, T0)
    posts = {p.title: p for p in store.posts()}
    duty = posts["The duty desk"]
    assert duty.comment == "<p>Worth it for the <em>second</em> half. </p>"  # sanitized
    assert posts["Snow days"].comment == "<p>Still true.</p>"
    assert posts["Plain"].comment == ""
    publish(site, store, T0)

    page = lxml.html.fromstring(read(site, f"posts/{duty.id}/index.html"))
    [comment] = page.find_class("comment")
    [quote] = page.findall(".//blockquote")
    assert comment.text_content().strip() == "Worth it for the second half."
    assert quote.get("cite") == "https://www.communitycare.co.uk/duty"
    assert "Duty teams kept the phones open." in quote.text_content()
    assert "Worth it" not in quote.text_content()
    article = page.find(".//article")
    assert list(article).index(comment) < list(article).index(quote)
    plain = read(site, f"posts/{posts['Plain'].id}/index.html")
    assert b"<blockquote" not in plain and b'class="comment"' not in plain

    atom = read(site, "atom.xml")
    parsed = feedparser.parse(atom)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    entries = {e.title: e for e in parsed.entries}
    content = entries["The duty desk"].content[0].value
    assert (
        content.index("Worth it") < content.index("First published") < content.index("<blockquote")
    )
    assert "Duty teams kept the phones open." in content.split("<blockquote", 1)[1]
    assert "blockquote" not in entries["Plain"].content[0].value
    for entry in etree.fromstring(atom).iterfind(f"{ATOM}entry"):  # escaped HTML, parseable
        lxml.html.fragment_fromstring(entry.findtext(f"{ATOM}content"), create_parent="div")
    items = {i["title"]: i for i in json.loads(read(site, "feed.json"))["items"]}
    json_content = items["The duty desk"]["content_html"]
    assert json_content.index("Worth it") < json_content.index("<blockquote")
    rss = feedparser.parse(read(site, "rss.xml"))
    rss_entries = {e.title: e for e in rss.entries}
    assert rss.bozo == 0 and "Worth it" in rss_entries["The duty desk"].content[0].value


def test_adding_a_comment_updates_the_post_and_an_upgrade_does_not(site, store):
    write(site.content_dir / "cap.txt", "Snow days\n\nMonday, 5 March 2018\n\nDuty teams coped.\n")
    first = scan(site, store, T0)
    assert len(first.new) == 1
    assert scan(site, store, T0 + timedelta(minutes=1)).updated == ()  # nothing changed
    write(site.content_dir / "cap.meta.toml", 'comment = "Still true."\n')
    later = scan(site, store, T0 + timedelta(minutes=2))
    assert later.updated == first.new
    assert store.posts()[0].comment == "<p>Still true.</p>"


def test_a_version_6_database_gains_comments_and_intros_keeping_its_rows(site):
    """Migration step 7 on its own: posts and issues made before it keep every row, with
    no comment and no intro, and are not taken for changed by the next scan."""
    write(site.content_dir / "a.md", MD.format(title="Last week", date="2026-10-26"))
    store = Store(site.store_url)
    scan(site, store, T0)
    create_issue(site, store, T0 + timedelta(days=1), T0 + timedelta(days=1))
    with store.engine.begin() as conn:
        make_older(conn, 6)
    store.close()
    migrated = Store(site.store_url)
    try:
        [post] = migrated.posts()
        assert post.comment == ""
        [issue] = all_issues(migrated)
        assert issue.post_ids == (post.id,) and issue.intro_html == ""
        assert scan(site, migrated, T0 + timedelta(days=2)).updated == ()
    finally:
        migrated.close()


INTRO = "---\nsubject: The snow issue\n---\nA short one this week: **snow** and duty desks.\n"


def test_the_intro_is_frozen_with_its_issue_shown_in_the_archive_and_used_once(site, store):
    write(site.content_dir / "_digest" / "next.md", INTRO)
    write(site.content_dir / "a.md", MD.format(title="Last week", date="2026-10-26"))
    report = scan(site, store, T0)
    assert [p.title for p in store.posts()] == ["Last week"]  # the intro is no post
    assert not any("_digest" in p.file for p in report.problems)
    first = create_issue(site, store, T0 + timedelta(hours=1), T0 + timedelta(hours=1))
    assert first.subject == "The snow issue"  # the front matter's subject wins
    assert first.intro_html == "<p>A short one this week: <strong>snow</strong> and duty desks.</p>"
    [kept] = all_issues(store)
    assert kept.intro_html == first.intro_html and len(kept.intro_sha256) == 64
    publish(site, store, T0 + timedelta(hours=1))
    index = lxml.html.fromstring(read(site, "digests/index.html"))
    [intro] = index.find_class("intro")
    assert intro.text_content() == "A short one this week: snow and duty desks."
    feed = feedparser.parse(read(site, "digests/atom.xml"))
    assert feed.bozo == 0 and "<strong>snow</strong>" in feed.entries[0].content[0].value

    # the next issue: the same file, unedited, is not used again (and the log says why)
    write(site.content_dir / "b.md", MD.format(title="Next week", date="2026-11-02"))
    scan(site, store, T0 + timedelta(days=1))
    second = create_issue(site, store, T0 + timedelta(days=2), T0 + timedelta(days=2))
    assert second.subject == "Next week" and second.intro_html == ""
    assert "snow" not in second.html
    # edited, it introduces the next one
    write(site.content_dir / "_digest" / "next.md", "Back to normal.\n")
    write(site.content_dir / "c.md", MD.format(title="Third", date="2026-11-09"))
    scan(site, store, T0 + timedelta(days=3))
    third = create_issue(site, store, T0 + timedelta(days=4), T0 + timedelta(days=4))
    assert third.intro_html == "<p>Back to normal.</p>" and third.subject == "Third"


def test_a_preview_says_when_the_intro_is_not_used_and_why(site, store):
    write(site.content_dir / "_digest" / "next.md", INTRO)
    write(site.content_dir / "a.md", MD.format(title="Last week", date="2026-10-26"))
    done = postroom(site, "digest", "preview")
    assert done.returncode == 0, done.stderr
    assert "The snow issue" in done.stderr and "with the intro in _digest/next.md" in done.stderr
    soon = datetime.now(UTC) + timedelta(minutes=1)  # after the command's own pick-up
    assert create_issue(site, store, soon, soon).subject == "The snow issue"
    write(site.content_dir / "b.md", MD.format(title="Next week", date="2026-11-02"))
    done = postroom(site, "digest", "preview")
    assert "_digest/next.md not used: issue 1 had it; edit it for the next issue" in done.stderr
    write(site.content_dir / "_digest" / "next.md", "---\nsubjet: typo\n---\nHello.\n")
    done = postroom(site, "digest", "preview")
    assert done.returncode == 0
    assert "_digest/next.md not used: unknown front matter key 'subjet'" in done.stderr


def test_an_intro_that_links_out_of_the_content_folder_is_never_read(site, store, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the password is hunter2\n")
    (site.content_dir / "_digest").mkdir()
    (site.content_dir / "_digest" / "next.md").symlink_to(secret)
    write(site.content_dir / "a.md", MD.format(title="Last week", date="2026-10-26"))
    scan(site, store, T0)
    issue = create_issue(site, store, T0 + timedelta(hours=1), T0 + timedelta(hours=1))
    assert "hunter2" not in issue.html and issue.intro_html == ""


def test_check_says_why_the_next_issue_would_carry_no_intro(site, store):
    """A broken intro, or one an issue had already, was said only by `digest preview` and
    the service's log: `check`, where a curator looks for problems, said nothing."""
    write(site.content_dir / "a.md", MD.format(title="Last week", date="2026-10-26"))
    write(site.content_dir / "_digest" / "next.md", "---\nsubjct: Snow\n---\nA short one.\n")
    found = postroom(site, "check", "--json")
    assert found.returncode == 0, found.stderr  # a warning: the posts are all right
    [problem] = [p for p in json.loads(found.stdout)["problems"] if p["file"].startswith("_")]
    assert problem["file"] == "_digest/next.md" and problem["severity"] == "warning"
    assert problem["reason"].startswith("not used: ") and "subjct" in problem["reason"]

    write(site.content_dir / "_digest" / "next.md", "---\nsubject: Snow\n---\nA short one.\n")
    assert "_digest/next.md" not in postroom(site, "check").stdout  # usable: nothing to say
    now = datetime.now(UTC)  # after the real-time scans of `check`
    assert create_issue(site, store, now, now).intro_html  # the intro went in issue 1
    again = postroom(site, "check")
    assert "_digest/next.md: not used: issue 1 had it" in again.stdout


def test_the_intros_subject_follows_the_rules_of_digest_subject(site, store):
    """A literal `{lead}` from the intro's front matter reached the subject line, and a
    stray brace went through unchecked."""
    write(site.content_dir / "a.md", MD.format(title="Last week", date="2026-10-26"))
    write(site.content_dir / "b.md", MD.format(title="Earlier", date="2026-10-20"))
    scan(site, store, T0)
    write(site.content_dir / "_digest" / "next.md", "---\nsubject: Winter {lead}\n---\nHi.\n")
    posts = pending_posts(store, T0 + timedelta(days=1))
    intro, why = next_intro(site, store)
    assert why is None and render_digest(site, 1, posts, intro).subject == "Winter Last week"
    write(site.content_dir / "_digest" / "next.md", "---\nsubject: Winter {lead\n---\nHi.\n")
    intro, why = next_intro(site, store)
    assert intro is None and "front matter 'subject'" in why and "brace" in why


def test_an_intro_too_big_for_the_email_is_left_out_with_the_reason(site, store):
    """A 2.5 MB intro went into every message whole, past digest.max_html_kb, while the
    cut note claimed the HTML was kept under it."""
    write(site.content_dir / "a.md", MD.format(title="Last week", date="2026-10-26"))
    scan(site, store, T0)
    write(site.content_dir / "_digest" / "next.md", "Snow. " * 6000 + "\n")  # ~36 KB of HTML
    intro, why = next_intro(site, store)
    assert intro is None and "digest.max_html_kb" in why and "shorten it" in why
    write(site.content_dir / "_digest" / "next.md", "Snow. " * 100 + "\n")
    assert next_intro(site, store)[0] is not None  # a few paragraphs are welcome
