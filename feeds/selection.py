"""Which posts go in which feed: the site's window, and one per tag and per source."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from postroom.core.config import Site
from postroom.core.model import Post, Problem, Severity
from postroom.core.sanitize import one_line
from postroom.core.slug import name_slug
from postroom.feeds.safety import first_file
from postroom.feeds.syndication import FeedSet, check_entry, too_long, window


class Vetting:
    """Tries each post once as a feed entry on its own, as the window reaches it.

    A post whose data makes feedgen raise (a title of nothing but control
    characters, say) is left out of the feeds with a Problem and the window
    takes the next one; the build goes on. Only posts some window reaches are
    tried, so a site of thousands of posts pays for a few hundred.
    """

    def __init__(self, site: Site) -> None:
        self.site = site
        self.problems: list[Problem] = []
        self._verdicts: dict[str, bool] = {}

    def __call__(self, post: Post) -> bool:
        if post.id not in self._verdicts:
            self._verdicts[post.id] = self._try(post)
        return self._verdicts[post.id]

    def _try(self, post: Post) -> bool:
        try:
            check_entry(self.site, post)
        except (ValueError, TypeError) as exc:
            self._report(post, f"left out of the feeds: {exc}")
            return False
        if too_long(self.site, post):
            kb = self.site.config.feed.max_content_kb
            self._report(post, f"body over {kb} KB, cut short in feeds (the page has it all)")
        return True

    def _report(self, post: Post, reason: str) -> None:
        reason = f"'{one_line(post.title)}': {reason}"
        self.problems.append(Problem(first_file(post), reason, Severity.WARNING))


class TopicKind(Enum):
    """What gathers a topic's posts; the value is its folder under public/."""

    TAG = "tags"
    SOURCE = "sources"


@dataclass(frozen=True)
class Topic:
    """A tag or a source and every post it has: its feeds hold a window of them, its
    pages all of them, and both live in `folder`, so the two can never drift apart."""

    kind: TopicKind
    folder: str  # "tags/<slug>/" or "sources/<slug>/"
    name: str  # the first spelling in sorted order of the names sharing the folder
    posts: tuple[Post, ...]  # every post, each once, in the order given

    def feed_title(self, site_title: str) -> str:
        if self.kind is TopicKind.TAG:
            return f"{site_title}: {self.name}"
        return f"{site_title}: from {self.name}"


@lru_cache(maxsize=8192)  # thousands of posts name a few hundred topics; post pages ask too
def topic_folder(kind: TopicKind, name: str) -> str | None:
    """'tags/<slug>/' for a tag (or 'sources/...' for a source) named `name`; None for a
    name that is nothing once on one line (no folder, no page, no feed)."""
    name_ = one_line(name)
    return f"{kind.value}/{name_slug(name_)}/" if name_ else None


def topics(posts: Sequence[Post]) -> list[Topic]:
    """Every tag and source of `posts`, sorted by folder.

    Names that differ only in case or punctuation share a slug and so a folder;
    a post is in it once, and the folder is named by the first spelling in
    sorted order, so the name does not depend on the order posts come in.
    """
    names: dict[str, str] = {}
    kinds: dict[str, TopicKind] = {}
    members: dict[str, list[Post]] = defaultdict(list)
    for post in posts:
        named = [(TopicKind.TAG, tag) for tag in post.tags]
        named.append((TopicKind.SOURCE, post.attribution.source or ""))
        found: dict[str, str] = {}
        for kind, name in named:
            if folder := topic_folder(kind, name):
                found[folder] = min(one_line(name), found.get(folder, one_line(name)))
                kinds[folder] = kind
        for folder, name in found.items():
            members[folder].append(post)
            names[folder] = min(name, names.get(folder, name))
    return [
        Topic(kinds[folder], folder, names[folder], tuple(members[folder]))
        for folder in sorted(members)
    ]


def feed_sets(
    site: Site, posts: Sequence[Post], vetting: Vetting, found: Sequence[Topic] | None = None
) -> list[FeedSet]:
    """The site's feeds, then one set per tag and per source (`topics(posts)`, unless
    the caller has them already as `found`), sorted by folder."""
    size = site.config.feed.window
    title = one_line(site.config.site.title) or site.base_url
    found = topics(posts) if found is None else found
    return [FeedSet("", title, window(posts, size, vetting))] + [
        FeedSet(topic.folder, topic.feed_title(title), window(topic.posts, size, vetting))
        for topic in found
    ]
