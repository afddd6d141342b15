"""From published posts to public/: feeds (site, per tag, per source), pages and the
archive of past digest issues.

    report = feeds.build(site, store.posts(), issues)

One bad post never breaks the build: it is left out with a `Problem` and the
rest is written. The same posts and config always give the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from postroom.core.config import Site
from postroom.core.model import Post, Problem
from postroom.feeds import showing, syndication
from postroom.feeds.archive import ArchivedIssue, render_archive
from postroom.feeds.history import ARCHIVE_PAGE_SIZE, memo_for, write_history
from postroom.feeds.pages import (
    PageMemo,
    post_page_name,
    render_feeds_index,
    render_lists,
    render_post_page,
    render_topics,
)
from postroom.feeds.safety import admit
from postroom.feeds.selection import Vetting, feed_sets, topics
from postroom.feeds.syndication import EPOCH, FORMATS, XSL_NAME, stylesheet
from postroom.feeds.writer import OutputWriter

__all__ = ["ArchivedIssue", "BuildReport", "PageMemo", "build"]


@dataclass(frozen=True)
class BuildReport:
    written: tuple[str, ...]  # paths relative to public/, rewritten this build
    unchanged: int  # files whose bytes were already identical (not rewritten)
    removed: tuple[str, ...]  # stale outputs deleted (e.g. pages of withdrawn posts)
    problems: tuple[Problem, ...]  # posts refused, left out of feeds, or cut short in them
    outputs: tuple[str, ...] = ()  # every file this build made, sorted (as in the manifest)


def _forget() -> None:
    """What the stages keep for one build's posts: dropped, so a long-running service
    holds no post's text between builds."""
    showing.forget()
    syndication.forget()


def build(
    site: Site,
    posts: Sequence[Post],
    issues: Sequence[ArchivedIssue] = (),
    memo: PageMemo | None = None,
    progress: Callable[[int, int], None] | None = None,
    since: datetime = EPOCH,
    page_size: int = ARCHIVE_PAGE_SIZE,
) -> BuildReport:
    """Write every feed and page for `posts` (every published post, any order) and the
    archive of `issues` (every digest issue sent) into site.public_dir, rewriting only
    files whose bytes change and removing outputs of earlier builds that this one no
    longer makes. With `memo`, post pages this process already wrote from the same post
    are not rendered again. `progress(done, total)` is told of each post page. `since` is
    the site's first build: the `updated` of a feed with nothing in it yet (a feed reader
    and the W3C validator call 1970 "implausible"), kept by the caller so that rebuilds
    stay byte-identical. `page_size` (posts per archive page of the site's feeds, see
    `feeds.history`) is for tests.

    Order matters to a reader arriving mid-build: post pages first, then the pages and
    feeds that link to them, so no link ever points at a page not yet written."""
    _forget()  # the last build's, should it have ended early
    admitted, problems = admit(posts)
    vetting = Vetting(site)
    found = topics(admitted)
    sets = [replace(feed, since=since) for feed in feed_sets(site, admitted, vetting, found)]
    out = OutputWriter(site.public_dir)
    if memo:
        memo.theme(site)
    for done, post in enumerate(admitted, 1):
        if progress is not None:
            progress(done, len(admitted))
        name = post_page_name(post)
        if memo and memo.fresh(out.root / name, site, post):
            out.keep(name)
            continue
        out.put(name, render_post_page(site, post))
        if memo:
            memo.made(out.root / name, site, post)
    out.put(XSL_NAME, stylesheet())  # before the feeds that name it
    archive, refused = render_archive(site, issues, since)
    for name, data in archive:
        out.put(name, data)
    for name, data in render_topics(site, found):
        out.put(name, data)
    for name, data in render_lists(site, admitted, newest=sets[0].posts, found=found):
        out.put(name, data)
    # the site feed's archive pages (RFC 5005) before the feeds that link to them
    sets[0] = write_history(site, sets[0], admitted, vetting, out, memo_for(memo), page_size)
    for feed in sets:
        for name, render in FORMATS.items():
            out.put(feed.folder + name, render(site, feed))
    out.put(*render_feeds_index(site, found))
    removed = out.finish()
    _forget()
    return BuildReport(
        written=tuple(out.written),
        unchanged=out.unchanged,
        removed=tuple(removed),
        problems=(*problems, *vetting.problems, *refused),
        outputs=out.produced,
    )
