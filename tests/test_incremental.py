"""Incremental builds are correct: whatever the service skips because it believes an
output is up to date, public/ is byte for byte what a build from nothing writes.

A Hypothesis state machine plays the curator and the service on one site: posts added
(alone or several in one scan), edited (title, date, tags, source, body, comment,
republish rule, made a draft, broken), renamed, deleted; page templates overridden and
removed; postroom.toml changed (a reload: a new process, the same public/ and database);
the service restarted; a digest slot passed (an issue made, its page under digests/);
public/ damaged by hand. After every step the service's path
runs (`content.intake.scan`, then `service.jobs.publish` with the one `BuildCache` it
keeps) and `incremental_support.SiteUnderTest.check` builds the same store into a fresh
folder and compares the two trees.

The site turns everything over within a few posts: a feed window of 2 (then 1 to 5), tags
and sources that differ in case only, and archive pages of the site's feed (RFC 5005,
feeds.history) of 2 posts instead of 100, so full pages, the growing page and their
links all change in a dozen posts.

Deterministic: `derandomize` (the same sequences every run), no example database, no
deadline. POSTROOM_INCREMENTAL_EXAMPLES=200 tries that many sequences, at random.
Runs on both passes: which posts a window, list or topic holds may be chosen in SQL,
and SQLite and PostgreSQL order and compare text differently.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import postroom.feeds.pages as pages
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.internal.conjecture import engine
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)
from incremental_support import (
    BODIES,
    COMMENTS,
    DATES,
    LONG_BODY,
    REPUBLISH,
    SOURCES,
    TAGS,
    WORDS,
    PostFile,
    SiteUnderTest,
    override,
    own_database,
    small_archive_pages,
)

PAGE_SIZE = 2  # posts per archive page of the site's feed (sites have 100)
MAX_FILES = 10  # content files at once: builds stay a fraction of a second
TEMPLATES = (
    "post.html",
    "base.html",
    "index.html",
    "topic.html",
    "topics.html",
    "feeds.html",
    "posts.html",
)
#: posts a list's first page shows (feeds.pages.ON_FIRST_PAGE, 50): small, so posts/ and
#: the topic pages are cut into year pages within a few posts
FIRST_PAGE = 3
FOLDERS = ("", "news/", "archive/2016/")
EXAMPLES_ENV = "POSTROOM_INCREMENTAL_EXAMPLES"
# a failing sequence is shrunk for at most this long (Hypothesis's own limit is five
# minutes: each try replays a sequence of builds); what it has by then is printed
SHRINK_SECONDS = 60

titles = st.lists(st.sampled_from(WORDS), min_size=1, max_size=2).map(" ".join)
post_files = st.builds(
    PostFile,
    title=titles,
    date=st.sampled_from(DATES),
    tags=st.lists(st.sampled_from(TAGS), max_size=3, unique=True).map(tuple),
    source=st.sampled_from(SOURCES),
    body=st.sampled_from((*BODIES, LONG_BODY)),
    comment=st.sampled_from(COMMENTS),
    republish=st.sampled_from(REPUBLISH),
    draft=st.integers(0, 7).map(lambda n: n == 7),
)
EDITS = ("title", "date", "tags", "source", "body", "comment", "republish", "draft", "broken")
config_changes = st.one_of(
    st.tuples(st.just("window"), st.sampled_from((1, 2, 3, 5))),
    st.tuples(st.just("title"), st.sampled_from(("Practice Notes", "Notes & Queries"))),
    st.tuples(st.just("description"), st.sampled_from(("Notes on practice.", "Other notes."))),
    st.tuples(
        st.just("base_url"),
        st.sampled_from(("https://notes.example.org/", "https://example.net/notes/")),
    ),
    st.tuples(st.just("id_authority"), st.sampled_from(("", "notes.example.org,2026"))),
    st.tuples(st.just("language"), st.sampled_from(("en-GB", "en-US"))),
    st.tuples(st.just("republish"), st.sampled_from(("excerpt", "full", "link"))),
    st.tuples(st.just("websub_hub"), st.sampled_from(("", "https://hub.example.net/"))),
    st.tuples(st.just("max_content_kb"), st.sampled_from((1, 100))),
    st.tuples(st.just("curator"), st.sampled_from(("The curator", "A. Curator"))),
    st.tuples(st.just("topics"), st.sampled_from(((), ("policy",), ("Leadership", "policy")))),
    st.tuples(
        st.just("sources"),
        st.sampled_from(((), (("Community Care", "full"),), (("community care", "link"),))),
    ),
)


@pytest.fixture
def small_pages(monkeypatch):
    assert small_archive_pages(monkeypatch, PAGE_SIZE), (
        "no archive page size found to shrink: incremental_support.small_archive_pages"
        " must follow how feeds.history is told its page size"
    )
    monkeypatch.setattr(pages, "ON_FIRST_PAGE", FIRST_PAGE)


class IncrementalBuilds(RuleBasedStateMachine):
    """The curator's changes, one a step, each followed by the service's scan and build
    and the comparison with a clean build (`settle`)."""

    base: Path  # set by the test: where each sequence makes its site

    def __init__(self) -> None:
        super().__init__()
        self._database = own_database()
        self._database.__enter__()
        self.folder = Path(tempfile.mkdtemp(dir=self.base))
        self.site = SiteUnderTest(self.folder / "site")
        self.files: dict[str, PostFile] = {}
        self.made = 0  # content files ever made: each new one has a name of its own

    def teardown(self) -> None:
        self.site.close()
        self._database.__exit__(None, None, None)
        shutil.rmtree(self.folder, ignore_errors=True)

    def settle(self, minutes: int = 60, *, nothing_changed: bool = False) -> None:
        _, built = self.site.scan_and_build(minutes)
        if nothing_changed:
            assert not built.written, f"nothing changed, yet the build wrote {built.written}"
        self.site.check(built, self.folder / "clean")

    def pick(self, index: int) -> str:
        return sorted(self.files)[index % len(self.files)]

    def new_name(self, folder: str) -> str:
        self.made += 1
        return f"{folder}post-{self.made}.md"

    def add(self, post: PostFile, folder: str) -> None:
        name = self.new_name(folder)
        self.files[name] = post
        self.site.write_post(name, post)

    # --- the curator's changes ---

    @initialize(posts=st.lists(post_files, min_size=1, max_size=6))
    def start(self, posts: list[PostFile]) -> None:
        """A site with a history: each post picked up by a scan of its own, then built
        (the window of 2 full from the third post, a full archive page from the fifth)."""
        for post in posts:
            self.add(post, "")
            self.site.scan_only()
        self.settle()

    @precondition(lambda self: len(self.files) < MAX_FILES)
    @rule(post=post_files, folder=st.sampled_from(FOLDERS))
    def add_post(self, post: PostFile, folder: str) -> None:
        self.add(post, folder)
        self.settle()

    @precondition(lambda self: len(self.files) <= MAX_FILES - 2)
    @rule(posts=st.lists(post_files, min_size=2, max_size=2))
    def add_posts_in_one_scan(self, posts: list[PostFile]) -> None:
        """Picked up at one moment: the order of posts with one pick-up time."""
        for post in posts:
            self.add(post, "")
        self.settle()

    @precondition(lambda self: self.files)
    @rule(index=st.integers(0, MAX_FILES), what=st.sampled_from(EDITS), new=post_files)
    def edit_post(self, index: int, what: str, new: PostFile) -> None:
        name = self.pick(index)
        old = replace(self.files[name], broken=False)
        if what == "draft":
            edited = replace(old, draft=not old.draft)
        elif what == "broken":
            edited = replace(old, broken=True)
        else:
            edited = replace(old, **{what: getattr(new, what)})
        self.files[name] = edited
        self.site.write_post(name, edited)
        self.settle()

    @precondition(lambda self: self.files)
    @rule(index=st.integers(0, MAX_FILES), folder=st.sampled_from(FOLDERS))
    def rename_post(self, index: int, folder: str) -> None:
        name, new = self.pick(index), self.new_name(folder)
        self.site.rename(name, new)
        self.files[new] = self.files.pop(name)
        self.settle()

    @precondition(lambda self: self.files)
    @rule(index=st.integers(0, MAX_FILES))
    def delete_post(self, index: int) -> None:
        name = self.pick(index)
        self.site.content(name).unlink()
        del self.files[name]
        self.settle()

    @rule(name=st.sampled_from(TEMPLATES), variant=st.integers(0, 2))
    def override_template(self, name: str, variant: int) -> None:
        path = self.site.template(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(override(name, variant), encoding="utf-8")
        self.settle()

    @rule(name=st.sampled_from(TEMPLATES))
    def remove_template(self, name: str) -> None:
        self.site.template(name).unlink(missing_ok=True)
        self.settle()

    @rule(change=config_changes)
    def change_config(self, change: tuple[str, object]) -> None:
        key, value = change
        self.site.set_config(replace(self.site.config, **{key: value}))
        self.settle()

    @rule()
    def restart_service(self) -> None:
        self.site.restart()
        self.settle(nothing_changed=True)

    @rule(when=st.sampled_from(("at once", "a minute later", "a week later", "digest slot")))
    def time_passes(self, when: str) -> None:
        """A build with nothing new, at once or later: not one file rewritten. Or the
        week's digest slot passes: its issue made, and its page and entry built."""
        if when == "digest slot":
            self.site.digest_slot()
            self.settle(minutes=1)
            return
        minutes = {"at once": 0, "a minute later": 1, "a week later": 60 * 24 * 7}[when]
        self.settle(minutes, nothing_changed=True)

    @precondition(lambda self: self.files)
    @rule(index=st.integers(0, MAX_FILES))
    def touch_post(self, index: int) -> None:
        """Saved again unchanged: read again, nothing to publish."""
        path = self.site.content(self.pick(index))
        st_ = path.stat()
        os.utime(path, ns=(st_.st_atime_ns, st_.st_mtime_ns + 1_000_000_000))
        self.settle(nothing_changed=True)

    @rule(index=st.integers(0, 1000), remove=st.booleans())
    def damage_public(self, index: int, remove: bool) -> None:
        """An output deleted or overwritten by hand is made again by the next build, once
        the service has looked at public/ (`SiteUnderTest.damage_seen`)."""
        outputs = sorted(self.site.built_outputs())
        if not outputs:
            return
        path = self.site.site.public_dir / outputs[index % len(outputs)]
        if remove:
            path.unlink()
        else:
            path.write_bytes(b"changed by hand\n")
        self.site.damage_seen()
        self.settle()


def examples() -> settings:
    """The same few sequences every run (CI), or more, at random, when asked."""
    wanted = os.environ.get(EXAMPLES_ENV, "").strip()
    return settings(
        max_examples=int(wanted) if wanted else 12,
        stateful_step_count=12,
        derandomize=not wanted,
        database=None,
        deadline=None,
        print_blob=False,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),  # no "explain": more replays
        suppress_health_check=[HealthCheck.too_slow],
    )


def test_random_sequences_build_what_a_clean_build_does(small_pages, tmp_path, monkeypatch):
    IncrementalBuilds.base = tmp_path
    monkeypatch.setattr(engine, "MAX_SHRINKING_SECONDS", SHRINK_SECONDS)
    # Hypothesis keeps a cache of the constants in the source it has seen: in the test's
    # folder, not in a .hypothesis/ in the repository
    set_hypothesis_home_dir(tmp_path / "hypothesis")
    try:
        run_state_machine_as_test(IncrementalBuilds, settings=examples())
    finally:
        set_hypothesis_home_dir(None)


# --- sequences worth keeping by name ---


@pytest.fixture
def service(tmp_path, small_pages):
    site = SiteUnderTest(tmp_path / "site")
    try:
        yield site
    finally:
        site.close()


def settle(service: SiteUnderTest, tmp_path: Path, **kwargs):
    """The service's scan and build, then the comparison with a clean build."""
    found, built = service.scan_and_build(**kwargs)
    service.check(built, tmp_path / "clean")
    return found, built


def test_five_posts_a_template_change_the_newest_deleted_one_renamed(service, tmp_path):
    for n in range(5):
        post = PostFile(f"Duty {n}", DATES[n % 3], tags=(TAGS[n % 4],), source=SOURCES[n % 4])
        service.write_post(f"p{n}.md", post)
        settle(service, tmp_path)
    service.template("post.html").parent.mkdir(parents=True)
    service.template("post.html").write_text(override("post.html", 0), encoding="utf-8")
    _, built = settle(service, tmp_path)
    assert len([n for n in built.written if n.startswith("posts/")]) >= 5  # every page again
    service.content("p4.md").unlink()
    settle(service, tmp_path)
    service.rename("p1.md", "news/p1.md")
    settle(service, tmp_path)
    assert service.checks == 8


def test_archive_pages_turn_over_and_shift_when_an_archived_post_goes(service, tmp_path):
    archive = service.site.public_dir / "archive"
    for n in range(8):  # window 2: six archived, in pages of two, and the empty newest
        service.write_post(f"p{n}.md", PostFile(f"Snow {n}", DATES[0]))
        settle(service, tmp_path)
    assert sorted(p.name for p in archive.glob("atom-*.xml")) == [
        f"atom-{n}.xml" for n in range(1, 5)
    ], "the small archive pages did not reach the build: see small_archive_pages"
    service.content("p0.md").unlink()  # the oldest: every full page shifts by one post
    settle(service, tmp_path)
    assert not (archive / "atom-4.xml").exists()
    service.set_config(replace(service.config, window=1))  # one more post archived: a page more
    settle(service, tmp_path)
    assert (archive / "atom-4.xml").exists()


def test_a_renamed_post_with_a_problem_is_reported_under_its_new_name(service, tmp_path):
    service.set_config(replace(service.config, max_content_kb=1))
    service.write_post("long.md", PostFile("Review", DATES[0], body=LONG_BODY))
    _, built = settle(service, tmp_path)
    assert [p.file for p in built.problems] == ["long.md"]
    service.rename("long.md", "news/long.md")
    _, built = settle(service, tmp_path)
    assert [p.file for p in built.problems] == ["news/long.md"]


def test_one_post_in_two_files_shows_the_other_once_one_goes(service, tmp_path):
    """The same title and day in two files is one post, the file changed last its text:
    deleting that file shows the other's text, with no change of the post's id."""
    service.write_post("a.md", PostFile("Duty teams", DATES[0], body=BODIES[0]))
    settle(service, tmp_path)
    service.write_post("b.md", PostFile("duty Teams", DATES[0], body=BODIES[1], tags=("policy",)))
    settle(service, tmp_path)
    page = service.site.public_dir / "posts" / "2016-06-23-duty-teams" / "index.html"
    assert "governance" in page.read_text(encoding="utf-8")
    service.content("b.md").unlink()
    settle(service, tmp_path)
    assert "phones stayed open" in page.read_text(encoding="utf-8")
    assert not (service.site.public_dir / "tags" / "policy").exists()


def test_an_issue_page_follows_a_narrowed_rule_and_a_quiet_week_writes_nothing(service, tmp_path):
    """An issue's page under digests/ is made from the posts as they are now: a source's
    rule narrowed to `link` after the issue was sent changes the page (not the email)."""
    service.write_post("cc.md", PostFile("Review", DATES[0], source="Community Care"))
    settle(service, tmp_path)
    service.digest_slot()  # the first slot a site sees: recorded, no issue
    service.write_post("own.md", PostFile("Snow", DATES[1], source="Community Care"))
    settle(service, tmp_path, minutes=1)
    assert service.digest_slot().issue is not None
    settle(service, tmp_path, minutes=1)
    issue = service.site.public_dir / "digests" / "1" / "index.html"
    before = issue.read_bytes()
    rule = (("community care", "link"),)
    service.set_config(replace(service.config, sources=rule))
    settle(service, tmp_path)
    assert issue.read_bytes() != before
    _, built = settle(service, tmp_path, minutes=60 * 24 * 7)
    assert built.written == ()


def test_outputs_deleted_or_changed_by_hand_are_made_again(service, tmp_path):
    """The cache and the manifest say what this process wrote; a file someone else
    removed or changed since is not what they say, and is written again once the
    service has seen it (`damage_seen`: until then the cache carries the pages of
    unchanged posts over without a look)."""
    for n in range(3):
        service.write_post(f"p{n}.md", PostFile(f"Review {n}", DATES[n], tags=("policy",)))
    _, built = settle(service, tmp_path)
    gone, changed = [n for n in built.outputs if n.startswith("posts/201")][:2]
    (service.site.public_dir / gone).unlink()
    (service.site.public_dir / changed).write_bytes(b"by hand\n")
    (service.site.public_dir / "tags" / "policy" / "atom.xml").write_bytes(b"by hand\n")
    (service.site.public_dir / "archive" / "atom-1.xml").write_bytes(b"by hand\n")
    service.damage_seen()
    _, built = settle(service, tmp_path)
    hand = [gone, changed, "tags/policy/atom.xml", "archive/atom-1.xml"]
    assert sorted(built.written) == sorted(hand)
