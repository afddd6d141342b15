"""From published posts to public/: feeds (site, per tag, per source) and pages.

    report = feeds.build(site, store.posts())

One bad post never breaks the build: it is skipped with a `Problem` and the
rest is written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from content.model import Post, Problem, Severity
from content.site import Site
from content.slug import slugify
from feeds.pages import render_pages
from feeds.syndication import FORMATS, FeedSet, too_long, window
from feeds.writer import OutputWriter


@dataclass(frozen=True)
class BuildReport:
    written: tuple[str, ...]  # paths under public/ rewritten this build
    unchanged: int  # files whose bytes were already identical
    removed: tuple[str, ...]  # stale outputs deleted (pages of withdrawn posts)
    problems: tuple[Problem, ...]


def feed_sets(site: Site, posts: Sequence[Post]) -> list[FeedSet]:
    """The site's feeds, then one set per tag and per source."""
    size = site.config.feed.window
    title = site.config.site.title
    names: dict[str, str] = {}
    groups: dict[str, list[Post]] = defaultdict(list)
    for post in posts:
        for tag in post.tags:
            folder = f"tags/{slugify(tag)}/"
            names.setdefault(folder, f"{title}: {tag}")
            groups[folder].append(post)
        if source := post.attribution.source:
            folder = f"sources/{slugify(source)}/"
            names.setdefault(folder, f"{title}: from {source}")
            groups[folder].append(post)
    sets = [FeedSet("", title, window(posts, size))]
    sets += [
        FeedSet(folder, names[folder], window(groups[folder], size)) for folder in sorted(groups)
    ]
    return sets


def build(site: Site, posts: Sequence[Post]) -> BuildReport:
    out = OutputWriter(site.public_dir)
    problems: list[Problem] = []
    for feed in feed_sets(site, posts):
        for name, render in FORMATS.items():
            out.put(feed.folder + name, render(site, feed))
    newest = window(posts, site.config.feed.window)
    for name, data in render_pages(site, posts, newest):
        out.put(name, data)
    limit = site.config.feed.max_content_kb
    problems += [
        Problem(
            p.files[0] if p.files else p.id,
            f"'{p.title}': body over {limit} KB, cut short in feeds (the page has it all)",
            Severity.WARNING,
        )
        for p in posts
        if too_long(site, p)
    ]
    removed = out.finish()
    return BuildReport(tuple(out.written), out.unchanged, tuple(removed), tuple(problems))
