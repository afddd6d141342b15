"""The site's feed history (RFC 5005 section 4, archived feeds): every post that has left
the window, in archive documents a feed reader can walk back from the subscription feed.

    archive/atom-1.xml  archive/atom-2.xml ... archive/atom-<n>.xml   (and rss-<k>.xml)
    oldest posts ...........................  newest archive page  <- atom.xml's prev-archive

Paging is stateless, a function of the posts alone: the posts are put in pick-up order
(`core.model.newest_first`, oldest first) and cut into pages of `ARCHIVE_PAGE_SIZE` from the
oldest, so page 1 holds the first posts ever picked up. A new post is picked up after
every other, so it pushes the window's oldest post onto the end of the newest page: a
full page is never touched again (immutable, cacheable), only the newest page grows.

Each page holds the posts of `ARCHIVE_PAGE_SIZE` places in that order; a post the feeds refuse
(`selection.Vetting`) keeps its place and is left out of its page, so it shifts no later
page. A page is rendered like the feed (same id, title, entries), with
`<fh:archive/>`, `rel="current"` to the subscription feed and `prev-archive` /
`next-archive` to its neighbours.

What changes a page that is full:
- an edited post changes the page it is on (its entry is re-rendered; its place is its
  pick-up time, which an edit keeps); no other page changes;
- a withdrawn post gives up its place: its page and every later page shift by one post
  (each changes once; an entry seen on two pages is one entry to a reader, by its id).
  Nothing records withdrawn posts' places, and RFC 5005 lets a publisher change an
  archive document; a reader that fetched a page before keeps the entry it had;
- a post picked up with an earlier time than posts already archived (a database rebuilt
  from older captures) takes its place in time and shifts the pages after it.

Only the site's Atom and RSS feeds have a history: a tag's or a source's feed is a view
of the same posts, and JSON Feed has no archive convention.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, replace

from postroom.core.config import Site
from postroom.core.model import Post, PostHead, newest_first
from postroom.feeds import parallel, showing, syndication
from postroom.feeds.catalogue import Loader
from postroom.feeds.keys import digest, post_key
from postroom.feeds.pages import Carry
from postroom.feeds.selection import Vetting
from postroom.feeds.syndication import (
    MEDIA_TYPES,
    FeedSet,
    archive_name,
    document_tree,
    finished,
)
from postroom.feeds.writer import OutputWriter

#: what a build remembers (`writer.OutputWriter.remember`): the archive pages it vetted
_VETTED = "vetted_archive_pages"
#: posts (places) per archive page: a reader's walk back through 10,000 posts is 100
#: fetches, each page a few hundred KB at most (feed.max_content_kb caps each entry)
ARCHIVE_PAGE_SIZE = 100


def archived(
    ordered: Sequence[PostHead], window: Sequence[PostHead], size: int
) -> Sequence[PostHead]:
    """The posts of `ordered` (oldest pick-up first) older than the window (`size` posts,
    newest first), oldest first; none while the window is not full (every post the
    feeds take is in it)."""
    if len(window) < size or not window:
        return []
    return ordered[: bisect_left(ordered, newest_first(window[-1]), key=newest_first)]


def paged(places: Sequence[PostHead], page_size: int) -> list[Sequence[PostHead]]:
    """`places` (oldest first) in pages of `page_size` from the oldest, and one page more
    (empty when the last is full). No page at all when nothing is archived.

    Why the page more: RFC 5005 makes `next-archive` a MAY. Linking page n to page n+1
    only once n+1 exists would change page n again after it filled (the link added a
    build later), and linking to a page not yet written would send readers to a 404.
    With the newest page always the one still growing (empty the moment the one before
    fills), each full page gets its `next-archive` link in the build that fills it, to
    a page that exists, and never changes after."""
    if not places:
        return []
    count = len(places) // page_size + 1
    return [places[i * page_size : (i + 1) * page_size] for i in range(count)]


def _render(
    site: Site, feed: FeedSet, page: Sequence[Post], number: int, last: bool, vetting: Vetting
) -> tuple[dict[str, bytes], bool]:
    """Archive page `number` of `feed` in each format, by path under public/. Rendering a
    page costs less than vetting each of its posts, so its posts are vetted only when
    the page will not render (a post feedgen refuses)."""
    since = max((post.updated for post in page), default=feed.since)
    entries = list(reversed(page))  # newest first, as in the feed
    try:
        return _documents(site, replace(feed, posts=entries, since=since), number, last), False
    except (ValueError, TypeError):
        entries = [post for post in entries if vetting(post)]
        return _documents(site, replace(feed, posts=entries, since=since), number, last), True


def _documents(site: Site, page: FeedSet, number: int, last: bool) -> dict[str, bytes]:
    files = {}
    for stem in MEDIA_TYPES:
        name = page_name(page, stem, number)
        links = [("current", f"{site.base_url}{page.folder}{stem}.xml")]
        if number > 1:
            links.append(("prev-archive", site.base_url + page_name(page, stem, number - 1)))
        if not last:
            links.append(("next-archive", site.base_url + page_name(page, stem, number + 1)))
        root = document_tree(site, page, stem, archive_name(stem, number))
        files[name] = finished(root, name, links, archive=True)
    return files


def page_name(feed: FeedSet, stem: str, number: int) -> str:
    """Archive page `number` of `feed` in format `stem` ("atom", "rss"), under public/."""
    return f"{feed.folder}{archive_name(stem, number)}"


@dataclass(frozen=True)
class History:
    """The archive pages of a feed, planned (`plan_history`): which to keep, which to
    render, and those sent to workers already (`made`), for `write_history` to write."""

    feed: FeedSet  # the feed with its archive count, for its `prev-archive` link
    shell: FeedSet  # the feed with no posts, as each page is rendered from
    #: (number, posts, last, key, names, kept) of each page, in order
    plan: tuple[tuple, ...]
    vetted_before: frozenset[str]
    #: the stale pages' files staged by workers, in order (None: rendered here), or None
    made: parallel.Pages | None


def plan_history(
    site: Site,
    feed: FeedSet,
    ordered: Sequence[PostHead],
    out: OutputWriter,
    base: str,
    loader: Loader,
    page_size: int = ARCHIVE_PAGE_SIZE,
    carry: Carry | None = None,
    behind: parallel.Sent | None = None,
) -> History:
    """The archive pages of `feed` (the window over `ordered`, every post the build
    admitted, newest pick-up first): each page's key, whether it is kept, and the stale
    ones sent to workers. A page whose posts, place and neighbours are as when it was
    written is kept (`writer.OutputWriter.fresh`): a new post changes the newest page
    only. `page_size` is for tests (small pages); sites always have `ARCHIVE_PAGE_SIZE`.
    `carry` (a service's cache): a page whose posts, place and neighbours are those the
    last build made it of is carried over without its key worked out or its file looked
    at. `behind`: the workers writing this build's post pages; the stale archive pages
    go to them too, each with the post pages of its posts not yet begun
    (`parallel.archive_pages`), so no worker waits between the two, no post is read
    twice, and the pages are mostly done when the parent, its other pages written,
    comes to write them. Nothing is written here."""
    places = archived(ordered[::-1], feed.posts, site.config.feed.window)
    pages = paged(places, page_size)
    # the `updated` of an empty newest page: the newest change among archived posts
    since = max((post.updated for post in places), default=feed.since)
    shell = replace(feed, posts=(), since=since, archives=0)
    # pages whose posts were tried one by one (a post feedgen refused): their problems
    # are said again while they are kept; on any other page no post was tried, as in a
    # clean build, whatever a feed's window found of it before
    listed = out.remembered.get(_VETTED)
    vetted_before = {n for n in listed if isinstance(n, str)} if isinstance(listed, list) else set()
    plan: list[tuple] = []  # (number, page, last, key, names, kept): each page's, in order
    for number, page in enumerate(pages, 1):
        last = number == len(pages)
        empty = "" if page else since.isoformat()  # the `updated` of an empty page
        what = f"{feed.folder}archive:{number}"
        made_of = (last, empty, page)
        if carry is not None and (carried := carry.carried(what, made_of)) is not None:
            plan.append((number, page, last, None, carried, True))  # no key worked out
            continue
        key = digest(base, "archive", feed.folder, feed.title, number, last, empty)
        key = digest(key, *map(post_key, page))
        names = [page_name(feed, stem, number) for stem in MEDIA_TYPES]
        if carry is not None:
            carry.made(what, made_of, names)
        plan.append((number, page, last, key, names, all(out.fresh(n, key) for n in names)))
    stale = [(shell, n, last, tuple(p.id for p in page)) for n, page, last, *_, k in plan if not k]
    # None: too few for workers
    made = parallel.archive_pages(site, loader.catalogue, stale, out, behind)
    return History(
        replace(feed, archives=len(pages)), shell, tuple(plan), frozenset(vetted_before), made
    )


def write_history(
    site: Site, history: History, vetting: Vetting, out: OutputWriter, loader: Loader
) -> FeedSet:
    """Write the archive pages `plan_history` planned, in order (those workers rendered
    are staged already: renamed into place), and return the feed with their count, for
    its `prev-archive` link."""
    shell, made = history.shell, history.made
    vetted: list[str] = []
    # the pages to write, on record in one write before any is there (a cold build's 200)
    out.record(name for *_, names, kept in history.plan if not kept for name in names)
    try:
        taken = iter(made) if made is not None else None
        for number, page, last, key, names, kept in history.plan:
            if kept:  # carried over (names only), or fresh
                if names[0] in history.vetted_before:
                    (vetting.carry if key is None else vetting.recall)(page)
                    vetted.append(names[0])
                if key is None:
                    out.keep_many(names)
                else:
                    for name in names:
                        out.keep(name)
                continue
            staged = next(taken) if taken is not None else None  # None: rendered here
            if staged is not None:  # a worker wrote them: only renamed into place
                for name, file in staged.items():
                    out.place(name, file, key)
                continue
            posts = loader.get([post.id for post in page])
            files, tried = _render(site, shell, posts, number, last, vetting)
            # each post is on one page: what its entry cost to make is dropped with
            # the page (kept, a cold build of 100,000 posts held every one's text to
            # the end); the entries of the windows' posts, vetted before, are kept
            # for their feeds (written next). A page a worker rendered left nothing.
            showing.forget()
            syndication.forget(post.id for post in page)
            for name, data in files.items():
                out.put(name, data, key)
            if tried:
                vetted.append(names[0])
    finally:  # an error, Ctrl-C: the workers stop at once; every page taken: a no-op
        if made is not None:
            made.close()
    out.remember(_VETTED, vetted)
    return history.feed
