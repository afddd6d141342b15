"""A site built the way the service builds it, beside a clean build of the same store.

The service keeps one Store and one BuildCache for as long as it runs and builds public/
after every scan (`service.jobs.Jobs.refresh`); a config change is a reload, which is a
new process (a new cache, the same public/ and database). Whatever it skips because it
believes an output is up to date must give the very bytes a build from nothing gives.
So after every change, `SiteUnderTest.check` builds the same store into a fresh folder
with a fresh cache and compares the two trees file by file.

What may differ, and only that: the build manifest's bookkeeping (`.postroom-manifest.json`
keeps each file's size and mtime, which cannot match between two folders), so of the
manifest only its list of names is compared. Everything else is compared whole: the
names of files and folders (an empty folder left behind is a difference a web server
shows), every file's bytes, and the build's problems (recorded for `postroom status`).

Both builds use the same `now` and the same store, so `first_build` (the `updated` of an
empty feed) is the same moment, as it is for a service and a rebuild of its site.
"""

from __future__ import annotations

import difflib
import inspect
import os
import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FunctionType

from postroom.content.intake import ScanReport, scan
from postroom.core.config import CONFIG_NAME, DATABASE_URL_ENV, open_site
from postroom.core.model import newest_first
from postroom.emails.issues import SlotDecision, decide_slot
from postroom.feeds import BuildCache, BuildReport
from postroom.feeds.pages import by_date
from postroom.feeds.safety import admit
from postroom.feeds.selection import topics
from postroom.feeds.theme import THEMES
from postroom.feeds.writer import MANIFEST, read_manifest
from postroom.service.jobs import publish
from postroom.store import Store

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
PACKAGED_TEMPLATES = Path(sys.modules["postroom.feeds"].__file__).parent / "templates"

# --- what goes into the site ----------------------------------------------------------

# small alphabets on purpose: titles that slug alike, one day, tags that differ in case
# only (one topic folder, named by the first spelling), sources likewise
WORDS = ("Duty", "duty", "teams", "Review", "Snow")
DATES = ("2016-06-23", "2016-06-24", "2018-03-05", None)  # None: dated by its pick-up
TAGS = ("Child Protection", "child protection", "policy", "Policy", "duty teams", "leadership")
SOURCES = (None, "Community Care", "community care", "Example Council Blog")
BODIES = (
    "The phones stayed open through the snow.",
    "It says little about the front line.\n\nIt says a great deal about governance.",
    "Nobody wrote a framework for that.",
)
# over 1 KB, to be cut short in feeds (and reported) when feed.max_content_kb is 1
LONG_BODY = "\n\n".join(f"Paragraph {n} of a long piece about duty teams. " * 6 for n in range(6))
COMMENTS = (None, "My view of it.", "Worth reading for the numbers.")
REPUBLISH = (None, "full", "excerpt", "link")


@dataclass(frozen=True)
class PostFile:
    """One Markdown post as the curator writes it."""

    title: str
    date: str | None = None
    tags: tuple[str, ...] = ()
    source: str | None = None
    body: str = BODIES[0]
    comment: str | None = None
    republish: str | None = None
    draft: bool = False
    broken: bool = False  # front matter that does not parse: the last good version stays

    def text(self) -> str:
        if self.broken:
            return f"---\ntitle: [{self.title}\ndate: : :\n---\n{self.body}\n"
        lines = [f"title: {self.title}"]
        if self.date:
            lines.append(f"date: {self.date}")
        if self.tags:
            lines.append("tags: [" + ", ".join(self.tags) + "]")
        if self.source:
            slug = self.source.lower().replace(" ", "-")
            lines += [f"source: {self.source}", f"source_url: https://{slug}.example/{slug}"]
        if self.comment:
            lines.append(f"comment: {self.comment}")
        if self.republish:
            lines.append(f"republish: {self.republish}")
        if self.draft:
            lines.append("draft: true")
        return "---\n" + "\n".join(lines) + "\n---\n" + self.body + "\n"


@dataclass(frozen=True)
class SiteConfig:
    """The keys of postroom.toml that change what a build writes."""

    title: str = "Practice Notes"
    description: str = "Notes on practice."
    base_url: str = "https://notes.example.org/"
    id_authority: str = ""
    language: str = "en-GB"
    republish: str = "excerpt"
    websub_hub: str = ""
    window: int = 2
    max_content_kb: int = 1  # the long body is cut in feeds, and reported
    curator: str = "The curator"
    topics: tuple[str, ...] = ()  # digest.topics: the index's subscribe form offers them
    sources: tuple[tuple[str, str], ...] = ()  # [sources."Name"] republish = ...

    def text(self) -> str:
        def q(value: str) -> str:
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

        lines = [
            "[site]",
            f"title = {q(self.title)}",
            f"description = {q(self.description)}",
            f"base_url = {q(self.base_url)}",
            f"language = {q(self.language)}",
            f"republish = {q(self.republish)}",
        ]
        if self.id_authority:
            lines.append(f"id_authority = {q(self.id_authority)}")
        if self.websub_hub:
            lines.append(f"websub_hub = {q(self.websub_hub)}")
        lines += ["[curator]", f"name = {q(self.curator)}"]
        lines += ["[feed]", f"window = {self.window}", f"max_content_kb = {self.max_content_kb}"]
        if self.topics:
            lines += ["[digest]", "topics = [" + ", ".join(map(q, self.topics)) + "]"]
        for name, rule in self.sources:
            lines += [f"[sources.{q(name)}]", f"republish = {q(rule)}"]
        return "\n".join(lines) + "\n"


def override(name: str, variant: int) -> str:
    """A page template override: the packaged template with a mark of its own (0 and 1
    are the same length, so only the content tells them apart), or one that does not
    parse (2: logged, and the packaged template is used)."""
    if variant == 2:
        return "{% extends 'base.html' %}{% block main %}{{ unclosed {% endblock %}\n"
    packaged = (PACKAGED_TEMPLATES / name).read_text(encoding="utf-8")
    mark = f"<!-- theme {'AB'[variant]} of {name} -->"
    if "{% extends" not in packaged:
        return packaged + mark + "\n"
    block = "{% block main %}"  # in a child template only what is in a block is shown
    assert block in packaged, f"{name}: no {block} to mark"
    return packaged.replace(block, block + mark, 1)


# --- the site and its two builds --------------------------------------------------------


@dataclass
class SiteUnderTest:
    """One site, its store and its build cache, held as the service holds them across
    builds, and a clean build of the same store beside it at every check."""

    root: Path
    config: SiteConfig = field(default_factory=SiteConfig)
    now: datetime = T0
    checks: int = 0
    last: BuildReport | None = None  # the service's last build

    def __post_init__(self) -> None:
        (self.root / "content").mkdir(parents=True, exist_ok=True)
        (self.root / CONFIG_NAME).write_text(self.config.text(), encoding="utf-8")
        self.site = open_site(self.root)
        self.store = Store(self.site.store_url)
        self.cache = BuildCache()

    # the curator's side

    def content(self, path: str) -> Path:
        return self.root / "content" / path

    def write_post(self, path: str, post: PostFile) -> None:
        target = self.content(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(post.text(), encoding="utf-8")

    def rename(self, old: str, new: str) -> None:
        """The same file under another name (its size and mtime kept)."""
        target = self.content(new)
        target.parent.mkdir(parents=True, exist_ok=True)
        self.content(old).rename(target)

    def template(self, name: str) -> Path:
        return self.root / THEMES / "pages" / name

    def set_config(self, config: SiteConfig) -> None:
        """A new postroom.toml, taken up as the service takes it: a reload is a new
        process with the same public/ and database (a new cache, a new Site)."""
        self.config = config
        (self.root / CONFIG_NAME).write_text(config.text(), encoding="utf-8")
        self.restart()

    def restart(self) -> None:
        """The service stopped and started again: nothing kept in memory."""
        self.store.close()
        self.site = open_site(self.root)
        self.store = Store(self.site.store_url)
        self.cache = BuildCache()

    # the service's side

    def damage_seen(self) -> None:
        """The service's look at public/ found files changed or removed by hand: its next
        build looks at every output (a build with a cache otherwise carries the outputs
        of unchanged posts over without looking at their files)."""
        self.cache.recheck()

    def scan_and_build(self, minutes: int = 60) -> tuple[ScanReport, BuildReport]:
        """What the service does once a change is seen: scan, then publish."""
        self.now += timedelta(minutes=minutes)
        found = scan(self.site, self.store, self.now)
        self.last = publish(self.site, self.store, self.now, self.cache)
        return found, self.last

    def scan_only(self, minutes: int = 60) -> ScanReport:
        """A scan whose changes are built later (with the next build's)."""
        self.now += timedelta(minutes=minutes)
        return scan(self.site, self.store, self.now)

    def digest_slot(self) -> SlotDecision:
        """The next digest slot (Monday 07:00, the default) passes and the service's
        digest job decides it: the first one a site sees is only recorded; after that,
        an issue of the posts picked up since, whose page and feed entry the next
        build writes under digests/ (and makes again when a post's rule narrows)."""
        days = (7 - self.now.weekday()) % 7 or 7
        self.now = (self.now + timedelta(days=days)).replace(hour=8, minute=0, second=0)
        return decide_slot(self.site, self.store, self.now)

    def built_outputs(self) -> tuple[str, ...]:
        return self.last.outputs if self.last else ()

    def clean_build(self, folder: Path) -> tuple[Path, BuildReport]:
        """The same store built from nothing in `folder`: a copy of the site's config,
        templates and content, a fresh cache, no public/ yet. (The store is the same
        object: on SQLite the URL names the site's file, on PostgreSQL the test's
        database, and `publish` only writes the build's own activity rows to it.)"""
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        shutil.copy2(self.root / CONFIG_NAME, folder / CONFIG_NAME)
        for part in ("content", THEMES):
            if (self.root / part).is_dir():
                shutil.copytree(self.root / part, folder / part, symlinks=True)
        clean = open_site(folder)
        return clean.public_dir, publish(clean, self.store, self.now, BuildCache())

    def check(self, built: BuildReport, scratch: Path) -> None:
        """The incremental public/ is the clean build's, byte for byte; the build's own
        report agrees with what it left in public/."""
        self.checks += 1
        public = self.site.public_dir
        there = set(tree(public)[0]) - {MANIFEST}
        assert set(built.outputs) == there, (
            "the build's outputs are not what is in public/: "
            f"only reported {sorted(set(built.outputs) - there)[:5]},"
            f" only in public/ {sorted(there - set(built.outputs))[:5]}"
        )
        assert read_manifest(public) == there, (
            "the manifest does not list what is in public/: "
            f"{sorted(read_manifest(public) ^ there)[:5]}"
        )
        self.check_cache()
        clean_public, clean = self.clean_build(scratch)
        difference = compare_trees(public, clean_public)
        assert difference is None, difference
        assert problems(built) == problems(clean), (
            "the build's problems differ from a clean build's:\n"
            f"  incremental: {problems(built)}\n  clean:       {problems(clean)}"
        )

    def check_cache(self) -> None:
        """The cache read its heads as changes counted from the store's numbers, and what
        it keeps (orders, topics) is what the store's heads give when worked out whole."""
        assert self.cache.seq == self.store.changes_since(None)[1], "not at the store's number"
        heads, _ = admit(self.store.heads())
        ordered = sorted(heads, key=newest_first, reverse=True)
        orders = self.cache.orders
        assert orders is not None
        assert [h.id for h in orders.newest.descending()] == [h.id for h in ordered]
        assert [h.id for h in orders.dated.descending()] == [h.id for h in by_date(ordered)]

        def shown(found):
            return [
                (t.kind, t.folder, t.name, [p.id for p in t.posts], [p.id for p in t.dated])
                for t in found
            ]

        assert shown(orders.topics()) == shown(topics(ordered, by_date(ordered)))
        tagged = Counter((h.tags, h.attribution.source) for h in heads)
        assert orders.tagged == tagged

    def close(self) -> None:
        self.store.close()


def problems(report: BuildReport) -> list[tuple[str, str, str]]:
    """A build's problems in a stable order (the order they are met in is the build's)."""
    return sorted((p.file, p.reason, p.severity.value) for p in report.problems)


# --- comparing two trees ----------------------------------------------------------------


def tree(root: Path) -> tuple[list[str], list[str]]:
    """(files, folders) under `root`, relative with '/', sorted; links as files."""
    files: list[str] = []
    folders: list[str] = []
    for here, dirs, names in os.walk(root):
        rel = Path(here).relative_to(root).as_posix()
        prefix = "" if rel == "." else rel + "/"
        folders += [prefix + d for d in dirs]
        files += [prefix + n for n in names]
    return sorted(files), sorted(folders)


def compare_trees(incremental: Path, clean: Path) -> str | None:
    """None when the two trees are the same; else what differs first, with a short
    unified diff of the file."""
    inc_files, inc_dirs = tree(incremental)
    clean_files, clean_dirs = tree(clean)
    if inc_files != clean_files:
        extra = sorted(set(inc_files) - set(clean_files))
        missing = sorted(set(clean_files) - set(inc_files))
        return (
            "the incremental public/ has other files than a clean build:\n"
            f"  only incremental: {extra[:10]}\n  only clean:       {missing[:10]}"
        )
    if inc_dirs != clean_dirs:
        return (
            "the incremental public/ has other folders than a clean build:\n"
            f"  only incremental: {sorted(set(inc_dirs) - set(clean_dirs))[:10]}\n"
            f"  only clean:       {sorted(set(clean_dirs) - set(inc_dirs))[:10]}"
        )
    if read_manifest(incremental) != read_manifest(clean):
        return "the manifests list other names"
    for name in inc_files:
        if name == MANIFEST:
            continue  # its bookkeeping (sizes, mtimes) cannot match: its names are compared
        a, b = (incremental / name).read_bytes(), (clean / name).read_bytes()
        if a != b:
            return f"{name} differs from a clean build's:\n{short_diff(a, b)}"
    return None


def short_diff(incremental: bytes, clean: bytes, lines: int = 40) -> str:
    diff = difflib.unified_diff(
        clean.decode("utf-8", "replace").splitlines(),
        incremental.decode("utf-8", "replace").splitlines(),
        "clean build",
        "incremental build",
        n=2,
        lineterm="",
    )
    shown = [line[:300] for _, line in zip(range(lines), diff, strict=False)]
    return "\n".join(shown)


# --- small archive pages ------------------------------------------------------------------


def _with_page_size(function: FunctionType, size: int) -> dict[str, object]:
    """The attributes to set on `function` so that its `page_size` defaults to `size`."""
    code = function.__code__
    positional = code.co_varnames[: code.co_argcount]
    defaults = function.__defaults__ or ()
    named = positional[len(positional) - len(defaults) :]
    changes: dict[str, object] = {}
    if "page_size" in named:
        changes["__defaults__"] = tuple(
            size if name == "page_size" else value
            for name, value in zip(named, defaults, strict=True)
        )
    if function.__kwdefaults__ and "page_size" in function.__kwdefaults__:
        changes["__kwdefaults__"] = {**function.__kwdefaults__, "page_size": size}
    return changes


def small_archive_pages(monkeypatch, size: int) -> int:
    """Archive pages of `size` posts for every build in the test, through the entry
    points the service uses (which take no page size): the constant and every
    `page_size` default in postroom's modules. How many places were changed (none would
    mean the build no longer reads either, and the test must follow it)."""
    changed = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("postroom.") or module is None:
            continue
        if isinstance(getattr(module, "ARCHIVE_PAGE_SIZE", None), int):
            monkeypatch.setattr(module, "ARCHIVE_PAGE_SIZE", size)
            changed += 1
        for value in list(vars(module).values()):
            owners = [value] if inspect.isclass(value) else []
            functions = [value] + [v for o in owners for v in vars(o).values()]
            for function in functions:
                function = getattr(function, "__func__", function)  # classmethods
                function = getattr(function, "__wrapped__", function)  # decorated: `build`
                if not isinstance(function, FunctionType) or function.__module__ != name:
                    continue
                for attribute, new in _with_page_size(function, size).items():
                    monkeypatch.setattr(function, attribute, new)
                    changed += 1
    return changed


@contextmanager
def own_database() -> Iterator[None]:
    """On the PostgreSQL pass, a fresh database for one example (the test's own,
    from conftest's fixture, is shared by all its examples); on SQLite, the site's file."""
    from pg_support import fresh_database, on_postgresql

    if not on_postgresql():
        yield
        return
    before = os.environ.get(DATABASE_URL_ENV)
    with fresh_database() as url:
        os.environ[DATABASE_URL_ENV] = url
        try:
            yield
        finally:
            if before is None:
                os.environ.pop(DATABASE_URL_ENV, None)
            else:
                os.environ[DATABASE_URL_ENV] = before
