"""The cold-scan speed-ups give what the plain code gave (issue 19): front matter read
by libyaml, summaries from a body's head, new posts written in batches as files are
read. Each is checked against the slow way it replaced, on real files and a real store."""

import random
import shutil
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from postroom.content import intake
from postroom.content.intake import scan
from postroom.content.markdown import _LimitedLoader, _LimitedYAML, _markdown
from postroom.core.model import ReadError
from postroom.core.sanitize import html_summary, html_to_text, summarize
from postroom.core.signals import post_published
from postroom.store import Store
from support import ARCHIVE, NEWS_PAGE, make_site

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)

# where libyaml and PyYAML part, and what the limits refuse: each must come out as
# PyYAML's limited loader says (the same value, or the same error)
ODD_FRONT_MATTER = [
    "title:\tTabbed\ndate: 2020-01-07",
    "tags:\n\t- a\ntitle: x",
    "title: |#\n  x",
    "title: >-#\n  x",
    "title: [null? ]",
    "title: {a? : b}",
    "title: a\ufeffb",
    "title: a\x85b",
    "title: &a Alias\nauthor: *a",
    "tags: " + "[" * 15 + "x" + "]" * 15,
    "tags: " + "[" * 16 + "x" + "]" * 16,
    "tags: " + "[" * 40 + "x" + "]" * 40,
    "title: [unclosed",
    "title: A\n---\ntitle: B",
    "date: 0000-01-01",
    "<<: {title: merged}",
    "title: !!python/object:os.system x",
    "title: !!binary aGVsbG8=",
    'title: "esc \\/ \\u00e9 \\x41 \\N"',
    "title: 0x1F\nid: 1_000\ndate: 2020-01-15 10:11:12.5",
    "title: Why? Because\ntags: [a, b]",
    "~",
    "",
    "- a\n- b",
]
TOKENS = ["a", "title", "b c", ":", ": ", ":\t", "\t", " ", "\n", "\n  ", "\n- ", "[", "]"]
TOKENS += ["{", "}", ", ", "'", '"', "#", " #", "&x ", "*x", "!!str ", "|", ">", "---", "?"]
TOKENS += ["\\", "2020-01-01", "12:30", "yes", "~", ".inf", "\r\n", "\ufeff", "\x85", "é"]


def python_loader(fm):
    try:
        return "value", yaml.load(fm, Loader=_LimitedLoader)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        return "error", str(exc)


def front_matter_loader(fm):
    try:
        return "value", _LimitedYAML().load(fm)
    except ReadError as exc:
        return "error", str(exc)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        return "error", str(exc)


def test_front_matter_reads_as_the_python_loader_reads_it_values_and_errors_alike():
    rng = random.Random(19)
    fuzzed = ["".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 12))) for _ in range(3000)]
    fuzzed = [("title: " + fm if i % 2 else fm) for i, fm in enumerate(fuzzed)]
    for fm in ODD_FRONT_MATTER + fuzzed:
        assert front_matter_loader(fm) == python_loader(fm), repr(fm)


def test_an_alias_is_still_refused_with_its_own_words():
    kind, said = front_matter_loader("title: &a x\nauthor: *a")
    assert kind == "error" and "aliases (*name) are not allowed" in said


def random_markdown(rng):
    words = ["care", "&amp;", "a < b", "café", "**bold**", "*em*", "`x`", "[l](http://e.org/)"]
    blocks = []
    for _ in range(rng.randint(1, 14)):
        roll = rng.random()
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 120)))
        if roll < 0.15:
            blocks.append(f"| a | b |\n|---|---|\n| {text} | x |")
        elif roll < 0.25:
            blocks.append("- " + text + "\n- " + text[:40])
        elif roll < 0.3:
            blocks.append("```\n" + text + "\n```")
        elif roll < 0.35:
            blocks.append("&nbsp;\n\n" * rng.randint(1, 300))
        else:
            blocks.append(text)
    return "\n\n".join(blocks)


def test_a_summary_from_the_body_head_is_the_summary_of_the_whole_body():
    rng = random.Random(7)
    for _ in range(120):
        html = _markdown.render(random_markdown(rng))
        for limit in (80, 300):
            assert html_summary(html, limit) == summarize(html_to_text(html), limit), html


def post(title, day, body="Family hubs text. " * 40):
    return f"---\ntitle: {title}\ndate: 2021-07-{day:02d}\nauthor: Sam\n---\n{body}\n"


FILES = {
    "a/first.md": post("Twice", 1),
    "archive.txt": ARCHIVE,
    "b/draft.md": "---\ntitle: Draft\ndraft: true\n---\nNot yet.\n",
    "b/bad.md": "---\ntitle: [broken\n---\n",
    "news/page.txt": NEWS_PAGE,
    **{f"n/{i:02d}.md": post(f"Post {i}", i % 28 + 1) for i in range(12)},
    "z/again.md": post("Twice", 1, "The same post, a second copy, found last."),
}


def scanned(tmp_path, name, batch, monkeypatch, steps=()):
    """Store contents after a cold scan (and `steps`, each an edit then a rescan); files
    without their stat signatures (two folders' mtimes differ)."""
    monkeypatch.setattr(intake, "_BATCH", batch)
    site = make_site(tmp_path / name, FILES)
    store = Store(site.store_url)
    try:
        reports = [scan(site, store, T0)]
        for n, step in enumerate(steps, 1):
            step(site.content_dir)
            reports.append(scan(site, store, T0 + timedelta(hours=n)))
        return (
            [(r.new, r.updated, r.withdrawn, r.problems) for r in reports],
            store.posts(),
            {path: (f.sha256, f.first_seen, f.changed_at) for path, f in store.files().items()},
            store.places(),
        )
    finally:
        store.close()


# two sites in one test: on the PostgreSQL pass they would share the test's one database
@pytest.mark.once
def test_new_posts_written_in_small_batches_are_what_one_batch_gave(tmp_path, monkeypatch):
    one = scanned(tmp_path, "one", 10**9, monkeypatch)
    small = scanned(tmp_path, "small", 2, monkeypatch)
    assert small == one
    posts = {p.title: p for p in small[1]}
    assert posts["Twice"].files == ("a/first.md", "z/again.md")  # the first copy wins
    assert "Family hubs text." in posts["Twice"].body_html
    assert "Draft" not in posts and len(small[0][0][0]) == len(posts)


@pytest.mark.once  # two sites, as above
def test_rescans_after_batched_cold_start_match_too(tmp_path, monkeypatch):
    def edit(content):
        (content / "n/03.md").write_text(post("Post 3 renamed", 4))
        (content / "a/first.md").unlink()
        (content / "c/new.md").parent.mkdir()
        (content / "c/new.md").write_text(post("Post 5", 6))  # a second copy of Post 5

    def move(content):
        shutil.move(content / "n", content / "m")

    one = scanned(tmp_path, "one", 10**9, monkeypatch, (edit, move))
    small = scanned(tmp_path, "small", 2, monkeypatch, (edit, move))
    assert small == one
    assert one[0][1][1] and one[0][2][:3] == ((), (), ())  # the edit updated; the move is quiet


@pytest.fixture
def received():
    seen = []

    def record(sender, *, post):
        seen.append(post)

    post_published.connect(record, weak=False)
    yield seen
    post_published.disconnect(record)


def test_a_receiver_of_post_published_gets_each_new_post_whole_with_all_its_files(
    tmp_path, monkeypatch, received
):
    _, stored, _, _ = scanned(tmp_path, "small", 2, monkeypatch)
    assert [p.id for p in received] == sorted(p.id for p in stored)
    twice = next(p for p in received if p.title == "Twice")
    assert twice.files == ("a/first.md", "z/again.md")
    assert twice == next(p for p in stored if p.title == "Twice")
