"""From published posts to public/: feeds (site, per tag, per source), pages and the
archive of past digest issues.

    report = feeds.build(site, store, issues)

One bad post never breaks the build: it is left out with a `Problem` and the
rest is written. The same posts and config always give the same bytes.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from operator import attrgetter

from postroom.core.config import Site
from postroom.core.model import Post, PostHead, Problem, newest_first
from postroom.feeds import keys, parallel, showing, syndication, theme
from postroom.feeds.archive import ArchivedIssue, render_archive
from postroom.feeds.cache import BuildCache
from postroom.feeds.catalogue import Catalogue, Loader, PostList
from postroom.feeds.history import ARCHIVE_PAGE_SIZE, History, plan_history, write_history
from postroom.feeds.keys import digest, page_keys, post_key, site_key
from postroom.feeds.offered import Tagged
from postroom.feeds.pages import (
    by_date,
    post_page_name,
    render_feeds_index,
    render_post_page,
    write_lists,
    write_topics,
)
from postroom.feeds.safety import admit, xml_safe
from postroom.feeds.selection import Topic, Vetting, feed_sets, topics
from postroom.feeds.syndication import EPOCH, FORMATS, XSL_NAME, FeedSet, stylesheet
from postroom.feeds.writer import OutputWriter

__all__ = ["ArchivedIssue", "BuildCache", "BuildReport", "Catalogue", "PostList", "build"]


@dataclass(frozen=True)
class BuildReport:
    written: tuple[str, ...]  # paths relative to public/, rewritten this build
    unchanged: int  # files whose bytes were already identical (not rewritten)
    removed: tuple[str, ...]  # stale outputs deleted (e.g. pages of withdrawn posts)
    problems: tuple[Problem, ...]  # posts refused, left out of feeds, or cut short in them
    outputs: tuple[str, ...] = ()  # every file this build made, sorted (as in the manifest)


def _forget() -> None:
    """What the stages keep for one build's posts: dropped, so a long-running service
    holds no post's text between builds, nor the keys of its heads (a build with a cache
    works out the keys only of what changed: at 100,000 posts, kept, they would be ~45 MB)."""
    showing.forget()
    syndication.forget()
    keys.forget()


def give_back() -> None:
    """Return the memory a build of the whole site freed to the system (glibc's
    `malloc_trim`): without it, a service keeps its first build's peak for its whole
    life (463 MB at 100,000 posts against ~300 MB in use). Asked by the service after
    such a build (`service.jobs`), not by `build`: a command that ends after its build
    (`run --once`) gives everything back as it exits, so a trim first would be time on
    its serial tail for nothing. Nothing where there is no glibc."""
    if _malloc_trim is not None:
        _malloc_trim(0)


def _find_malloc_trim():
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return None


_malloc_trim = _find_malloc_trim()

#: whole posts read for post pages at a time: a batch's text is all a build holds of them
_PAGE_BATCH = 500
#: the most post pages whose writing by workers the rest of the build overlaps. Past it
#: the pages are all taken first: overlapping keeps every stale page's key and head (~25
#: MB at 100,000) beside the feed windows and the held lists, which took a cold build of
#: 100,000 posts from 296 to 358 MB, for a gain that at that size is a few percent
_OVERLAP_MOST = 30_000


@theme.checked_once_per_call  # templates looked at once a build, not once a page
def build(
    site: Site,
    posts: Catalogue | Sequence[Post],
    issues: Sequence[ArchivedIssue] | Callable[[], Sequence[ArchivedIssue]] = (),
    progress: Callable[[int, int], None] | None = None,
    since: datetime = EPOCH,
    page_size: int = ARCHIVE_PAGE_SIZE,
    cache: BuildCache | None = None,
) -> BuildReport:
    """Write every feed and page of the published posts of `posts` (a `Catalogue` such as
    the store, or posts in memory, any order) and the archive of `issues` (every digest
    issue sent) into site.public_dir, and remove outputs of earlier builds that this one
    no longer makes. `issues` may come as a function, called once the post pages are
    sent: what it reads and imports then overlaps the workers writing them.

    Incremental: each output has a key (`feeds.keys`: the code, the site's config and
    templates, the posts it shows); one whose file was written from the same key and
    is untouched since is kept without rendering, so a new post renders its page and
    the few lists and feeds that show it, and a build with nothing new renders nothing.
    The bytes are those a clean build writes. Every post's head is read; whole posts
    only for what is rendered, a batch at a time.

    `progress(done, total)` is told of the post pages as they are written (those
    workers write, a task's at a time). `since` is the site's first build: the
    `updated` of a feed with nothing in it yet (a feed reader and the W3C validator
    call 1970 "implausible"), kept by the caller so that rebuilds stay byte-identical.
    `page_size` (posts per archive page of the site's feeds, see `feeds.history`) is
    for tests. `cache`: what this process kept of its last build of
    this site (a service keeps one): only heads that changed are read again.

    Order matters to a reader arriving mid-build: post pages first, then the pages and
    feeds that link to them, so no link ever points at a page not yet written."""
    catalogue = posts if isinstance(posts, Catalogue) else PostList(posts)
    base = site_key(site)
    if cache is None:
        _forget()  # the last build's, should it have ended early
        heads, problems = admit(catalogue.heads())
        steady = False
    else:
        steady = cache.begin(base)  # before the heads: a build failing anywhere after is seen
        heads, problems = cache.heads(catalogue)
        _forget()
    out = OutputWriter(site.public_dir, cache.manifest if cache else None)
    # `changed` None: the heads were all read (a first build, another database)
    trusted = cache is not None and steady and out.trusted and cache.changed is not None
    carry = _Carrying(cache, trusted)
    loader = Loader(catalogue, xml_safe)
    vetting = Vetting(site, loader, base, out.remembered.get("verdicts"))
    workers = _write_post_pages(site, heads, base, out, catalogue, progress, carry)
    try:
        history: History | None = None
        try:
            if workers is not None:  # a big build: what it writes goes to the disk on the way
                out.write_back_early()
            # sorted while the workers write the post pages, which need none of it (sorting a
            # cold build's 10,000 heads first held their start up by ~0.07 CPU-s)
            ordered, dated, found, counted = _orders(heads, cache)
            if workers is not None:  # they write post pages while this process renders more
                out.hold(workers.finish)
            sets = [replace(feed, since=since) for feed in feed_sets(site, ordered, vetting, found)]
            # the site feed's archive pages (RFC 5005) planned now, and those to render queued
            # on the workers right behind the post pages: they render them while this process
            # writes the pages below, and neither waits for the other between the two
            behind = workers.sent if workers is not None else None
            history = plan_history(
                site, sets[0], ordered, out, base, loader, page_size, carry.pages, behind
            )
            out.put(XSL_NAME, stylesheet())  # before the feeds that name it
            archive, refused = render_archive(site, issues() if callable(issues) else issues, since)
            for name, data in archive:
                out.put(name, data)
            write_topics(site, found, base, out, carry.pages)
            write_lists(
                site, ordered, dated, sets[0].posts, found, base, out, loader, counted, carry.pages
            )
            # the feeds rendered while the workers still write: a tag's or a source's (no
            # archive pages) held with the pages above, the site's (linking to its archive
            # pages, which come next) and the feeds index (linking to it) kept for after
            for feed in sets[1:]:
                _write_feeds(site, feed, base, out, loader)
            last = _render_feeds(site, history.feed, base, out, loader)
            last.append((*render_feeds_index(site, found), None))
            out.release()  # the post pages all written, then what links to them
        except BaseException:
            if workers is not None:
                workers.close()  # stopped at once: an error, Ctrl-C, SIGTERM
            if history is not None and history.made is not None:
                history.made.close()  # the archive pages queued behind
            raise
        # the archive pages (after the post pages they link to) before the site feed linking
        # to them, and the feeds index last; only writing is left: all was rendered above
        sets[0] = write_history(site, history, vetting, out, loader)
        for name, data, key in last:
            if data is None:
                out.keep(name)
            else:
                out.put(name, data, key)
        out.remember("verdicts", vetting.verdicts())
        _forget()  # before the manifest is made: every post's key (~20 MB at 100,000) is spent
        removed = out.finish()
    finally:
        out.stop_writing_back()  # already, but for an error on the way
    if cache is not None:
        cache.manifest = out.manifest
        cache.built(base, carry.trusted)
    report = BuildReport(
        written=tuple(out.written),
        unchanged=out.unchanged,
        removed=tuple(removed),
        problems=(*problems, *vetting.problems, *refused),
        outputs=out.produced,
    )
    return report


def _orders(
    heads: Sequence[PostHead], cache: BuildCache | None
) -> tuple[list[PostHead], list[PostHead], list[Topic], list[tuple[Tagged, int]] | None]:
    """The orders the lists and feeds show `heads` in: newest pick-up first, by their own
    date, each topic's; and each (tags, source) counted (None: `write_lists` counts). A
    cache keeps them up to date (`cache.Orders`); without one, made now."""
    if cache is None:
        ordered = sorted(heads, key=newest_first, reverse=True)
        dated = by_date(ordered)
        return ordered, dated, topics(ordered, dated), None
    orders = cache.ordered()
    found = orders.topics()
    counted = list(orders.tagged.items())
    return orders.newest.descending(), orders.dated.descending(), found, counted


class _Carrying:
    """A build's use of its cache: whether it may carry outputs over (`trusted`), and
    what it made, for the next build to carry."""

    def __init__(self, cache: BuildCache | None, trusted: bool) -> None:
        self.cache, self.trusted = cache, trusted
        self.pages = self if cache is not None else None
        self.memo = cache.memo if cache is not None else {}

    def carried(self, what: str, made_of: object) -> tuple[str, ...] | None:
        if not self.trusted or self.cache is None:
            return None
        return self.cache.carried(what, made_of)

    def made(self, what: str, made_of: object, names: Sequence[str]) -> None:
        if self.cache is not None:
            self.cache.made(what, made_of, names)


def _write_post_pages(
    site: Site,
    heads: Sequence[PostHead],
    base: str,
    out: OutputWriter,
    catalogue: Catalogue,
    progress: Callable[[int, int], None] | None,
    carry: _Carrying,
) -> _Working | None:
    """Each post's page, rendered only when the post or the site changed; the posts
    rendered are read `_PAGE_BATCH` at a time. With a cache that `trusts` this build,
    the pages of posts that did not change are carried over without a look. When
    workers render and write them (`parallel.write_post_pages`), returns at once with
    their work going on: the caller `finish`es it before writing what links to them."""
    cache = carry.cache
    page_key = page_keys(base)
    # id -> (head, key, its page's name): each name made once, for the journal, the pages
    # taken back from the workers and the cache alike (three times before: ~3 ms each at
    # 10,000 posts, one of them in the cold build's serial tail)
    stale: dict[str, tuple[PostHead, str, str]] = {}
    if carry.trusted and cache is not None and cache.changed is not None:
        pages = cache.pages
        for post_id in cache.changed:
            pages.pop(f"posts/{post_id}/index.html", None)
        out.keep_entries(pages)
        for post_id in cache.changed:
            head = cache.admitted(post_id)
            if head is not None:
                key, name = page_key(head), post_page_name(head)
                if out.fresh(name, key):
                    out.keep(name)
                    pages[name] = out.entry(name)
                else:
                    stale[head.id] = (head, key, name)
    else:
        kept: list[str] = []  # names made once: the manifest's and the cache's are one string
        for head in heads:
            name = post_page_name(head)
            if not out.listed(name):  # stale whatever its key: that is made once it is sent
                stale[head.id] = (head, "", name)
                continue
            key = page_key(head)
            if out.fresh(name, key):
                out.keep(name)
                kept.append(name)
            else:
                stale[head.id] = (head, key, name)
        if cache is not None:
            cache.pages = {}
            for name in kept:
                if (entry := out.entry(name)) is not None:
                    cache.pages[name] = entry
        del kept
    done = len(heads) - len(stale)
    if progress is not None and done:
        progress(done, len(heads))
    ids = list(stale)

    def written(post_id: str, name: str, data: bytes, same: bool) -> None:
        """`same`: its post is as its head said; if not (changed since its head was read:
        a scan ran between), it is written under no key, so the next build makes it again
        from what its head says then."""
        out.put(name, data, stale[post_id][1] if same else None)
        if same:
            counted([name], [])
        else:
            counted([], [post_id])

    def counted(names: list[str], redo: list[str]) -> None:
        """Pages put (`written`) or taken from a worker: in the cache those written under
        their key (`names`), to be made again next build the others (`redo`, ids); the
        progress told."""
        nonlocal done
        if cache is not None:
            cache.pages.update(zip(names, map(out.entry, names), strict=True))
            cache.redo.update(redo)
        done += len(names) + len(redo)
        if progress is not None:
            progress(done, len(heads))

    def names(ids: Sequence[str]) -> list[str]:
        return [stale[post_id][2] for post_id in ids]

    def gone(taken: int) -> None:
        """`taken` of the stale pages were written: the others' posts went between heads
        and posts, to be looked at again next build."""
        if cache is not None and taken < len(stale):
            cache.redo.update(i for i, (_, _, name) in stale.items() if out.entry(name) is None)
        showing.forget()

    # on every core, each worker writing the pages it renders; the parent keeps the record
    overlap = len(ids) <= _OVERLAP_MOST  # the rest of the build goes on while they write
    sent = parallel.write_post_pages(site, catalogue, ids, out, names, shared=overlap)
    # the keys of pages no manifest listed, made while the workers start on them (a
    # cold build's 10,000: before, the first page waited for them)
    for post_id, (head, key, name) in stale.items():
        if not key:
            stale[post_id] = (head, page_key(head), name)
    if sent is not None:

        def taken() -> None:
            """Each page a worker wrote, on record as written. At 10,000 pages the last
            are taken once the workers are done, with one core idle: little per page,
            the cache and the progress told per task, not per page."""
            took, stamps = out.took, attrgetter("updated", "picked_up")
            count = 0
            for pages in sent:
                names: list[str] = []
                redo: list[str] = []
                for page in pages:
                    head, key, name = stale[page.post_id]
                    if page.stamps == stamps(head):
                        names.append(name)
                    else:  # changed since its head was read: under no key (`written`)
                        key = None
                        redo.append(head.id)
                    took(name, page.wrote, page.size, page.mtime_ns, key)
                counted(names, redo)
                count += len(pages)
            gone(count)

        if not overlap:  # their records freed before the rest is rendered
            taken()
            return None
        return _Working(taken, sent.close, sent)
    count = 0
    for start in range(0, len(ids), _PAGE_BATCH):
        showing.forget()  # the last batch's views hold their posts: a batch is all we hold
        for post in catalogue.posts_by_id(ids[start : start + _PAGE_BATCH]):
            head, _, name = stale[post.id]
            same = (post.updated, post.picked_up) == (head.updated, head.picked_up)
            written(post.id, name, render_post_page(site, xml_safe(post)), same)
            count += 1
    gone(count)
    return None


@dataclass(frozen=True)
class _Working:
    """Post pages that workers are writing: `finish` waits for them and records them
    (`OutputWriter.took`), `close` stops the workers (and what is queued behind)."""

    finish: Callable[[], None]
    close: Callable[[], None]
    #: the workers, for the archive pages to be queued behind the post pages
    sent: parallel.Sent | None = None


def _write_feeds(site: Site, feed: FeedSet, base: str, out: OutputWriter, loader: Loader) -> None:
    """A feed set in every format (`FORMATS`), rendered only when its window, its
    archive count or the site changed."""
    for name, data, key in _render_feeds(site, feed, base, out, loader):
        if data is None:
            out.keep(name)
        else:
            out.put(name, data, key)


def _render_feeds(
    site: Site, feed: FeedSet, base: str, out: OutputWriter, loader: Loader
) -> list[tuple[str, bytes | None, str | None]]:
    """(name, bytes, key) of a feed set in every format (`FORMATS`), the bytes None for
    each when none need rendering (all fresh: kept), for the caller to put or keep when
    the pages they link to are written (`write_history`)."""
    key = digest(base, "feed", feed.folder, feed.title, feed.since.isoformat(), feed.archives)
    key = digest(key, *map(post_key, feed.posts))
    names = [feed.folder + name for name in FORMATS]
    if all(out.fresh(name, key) for name in names):
        return [(name, None, key) for name in names]
    whole = replace(feed, posts=loader.get([post.id for post in feed.posts]))
    return [(feed.folder + name, render(site, whole), key) for name, render in FORMATS.items()]
