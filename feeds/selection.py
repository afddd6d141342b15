"""Which posts go in which feed: the site's window, and one per tag and per source."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from itertools import islice

from postroom.core.config import Site
from postroom.core.model import Post, PostHead, Problem, Severity
from postroom.core.sanitize import one_line
from postroom.core.slug import name_slug
from postroom.feeds.catalogue import Loader
from postroom.feeds.keys import digest, post_key
from postroom.feeds.safety import first_file
from postroom.feeds.syndication import FeedSet, check_entry, too_long

#: how a post fared as a feed entry
_OK, _LONG, _REFUSED = "ok", "long", "refused"


class Vetting:
    """Tries each post once as a feed entry on its own, as the window reaches it.

    A post whose data makes feedgen raise (a title of nothing but control
    characters, say) is left out of the feeds with a Problem and the window
    takes the next one; the build goes on. Only posts some window reaches are
    tried, so a site of thousands of posts pays for a few hundred; and a
    verdict is remembered with the build (`verdicts`, keyed by the site and
    the post as a feed shows it), so the next build reads and tries only posts
    that are new to a window or changed.
    """

    def __init__(self, site: Site, loader: Loader, base: str, remembered: object = None) -> None:
        self.site = site
        self.problems: list[Problem] = []
        self._loader = loader
        self._base = base
        self._remembered = remembered if isinstance(remembered, dict) else {}
        self._verdicts: dict[str, list[str]] = {}  # id -> [key, outcome, reason]

    def __call__(self, post: Post | PostHead) -> bool:
        if post.id not in self._verdicts:
            verdict = self._known(post)
            if verdict is None:
                whole = [post] if isinstance(post, Post) else self._loader.get([post.id])
                key = digest(self._base, post_key(post))
                # a post gone between reading heads and posts (a scan ran): left out
                # silently, as the next build leaves it out for good
                verdict = [key, *self._try(whole[0])] if whole else [key, _REFUSED, ""]
            self._take(post, verdict)
        return self._verdicts[post.id][1] != _REFUSED

    def _known(self, post: Post | PostHead) -> list[str] | None:
        """The last build's verdict on `post` as it is now, or None (none, another post
        then, or not a verdict: a manifest edited by hand is a reason to try again)."""
        verdict = self._remembered.get(post.id)
        valid = isinstance(verdict, list) and len(verdict) == 3
        valid = valid and all(isinstance(part, str) for part in verdict)
        if valid and verdict[0] == digest(self._base, post_key(post)):
            return verdict
        return None

    def _take(self, post: Post | PostHead, verdict: list[str]) -> None:
        self._verdicts[post.id] = verdict
        if verdict[2]:
            self._report(post, verdict[2])

    def read_ahead(self, heads: Sequence[PostHead]) -> None:
        """Read in one go the posts among `heads` that will need trying."""
        unknown = [h.id for h in heads if h.id not in self._verdicts and self._known(h) is None]
        if unknown:
            self._loader.get(unknown)

    def recall(self, posts: Sequence[Post | PostHead]) -> None:
        """Say again the problems the last build found in `posts` (those it tried) and
        remember them: their archive page, where they were tried, is not made again."""
        for post in posts:
            if post.id not in self._verdicts and (verdict := self._known(post)) is not None:
                self._take(post, verdict)

    def carry(self, posts: Sequence[Post | PostHead]) -> None:
        """`recall` of posts whose archive page the last build made of these very heads
        (`cache.BuildCache.carried`): what it remembered of them is theirs, unchecked."""
        remembered, verdicts = self._remembered, self._verdicts
        for post in posts:
            verdict = remembered.get(post.id) if post.id not in verdicts else None
            if isinstance(verdict, list) and len(verdict) == 3:
                self._take(post, verdict)

    def verdicts(self) -> dict[str, list[str]]:
        """This build's verdicts, to remember with it."""
        return dict(sorted(self._verdicts.items()))

    def _try(self, post: Post) -> tuple[str, str]:
        try:
            check_entry(self.site, post)
        except (ValueError, TypeError) as exc:
            return _REFUSED, f"left out of the feeds: {exc}"
        if too_long(self.site, post):
            kb = self.site.config.feed.max_content_kb
            return _LONG, f"body over {kb} KB, cut short in feeds (the page has it all)"
        return _OK, ""

    def _report(self, post: Post | PostHead, reason: str) -> None:
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
    posts: tuple[PostHead, ...]  # every post, each once, newest pick-up first
    dated: tuple[PostHead, ...] = ()  # the same, newest by their own date first (pages)

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


@lru_cache(maxsize=8192)
def _named(kind: TopicKind, name: str) -> tuple[str, str] | None:
    """(folder, the name on one line) of a tag or source, or None (`topic_folder`)."""
    folder = topic_folder(kind, name)
    return (folder, one_line(name)) if folder else None


def topic_names(post: PostHead) -> tuple[tuple[str, str, TopicKind], ...]:
    """(folder, name, kind) of each topic `post` is in, once per folder: its tags' and its
    source's, named by the first of its spellings in sorted order."""
    found: dict[str, tuple[str, TopicKind]] = {}
    tag, source = TopicKind.TAG, TopicKind.SOURCE  # an enum member is slow to look up
    named = [(tag, name) for name in post.tags]
    named.append((source, post.attribution.source or ""))
    for kind, raw in named:
        if pair := _named(kind, raw):
            folder, name = pair
            known = found.get(folder)
            found[folder] = (min(name, known[0]) if known else name, kind)
    return tuple((folder, name, kind) for folder, (name, kind) in found.items())


def topics(ordered: Sequence[PostHead], dated: Sequence[PostHead] = ()) -> list[Topic]:
    """Every tag and source of `ordered` (newest pick-up first), sorted by folder, each
    with its posts in that order and, as `dated`, in the order of `dated` (the same
    posts newest by their own date first: `pages.by_date`), if given.

    Names that differ only in case or punctuation share a slug and so a folder;
    a post is in it once, and the folder is named by the first spelling in
    sorted order, so the name does not depend on the order posts come in.
    (`cache.Orders` keeps the same, changed a post at a time.)
    """
    names: dict[str, str] = {}
    kinds: dict[str, TopicKind] = {}
    members: dict[str, list[PostHead]] = defaultdict(list)
    folders_of: dict[str, tuple[str, ...]] = {}
    for post in ordered:
        found = topic_names(post)
        for folder, name, kind in found:
            kinds[folder] = kind
            members[folder].append(post)
            names[folder] = min(name, names.get(folder, name))
        folders_of[post.id] = tuple(folder for folder, _, _ in found)
    by_date: dict[str, list[PostHead]] = defaultdict(list)
    for post in dated:
        for folder in folders_of.get(post.id, ()):
            by_date[folder].append(post)
    return [
        Topic(kinds[folder], folder, names[folder], tuple(members[folder]), tuple(by_date[folder]))
        for folder in sorted(members)
    ]


def feed_sets(
    site: Site, ordered: Sequence[PostHead], vetting: Vetting, found: Sequence[Topic]
) -> list[FeedSet]:
    """The site's feeds, then one set per tag and per source (the topics `found` among
    `ordered`, whose posts come in its order), sorted by folder. `ordered` is newest
    pick-up first (`core.model.newest_first`); each window holds heads, read whole
    only when its feeds are rendered."""
    size = site.config.feed.window
    title = one_line(site.config.site.title) or site.base_url

    def window(posts: Sequence[PostHead]) -> list[PostHead]:
        vetting.read_ahead(posts[:size])
        return list(islice(filter(vetting, posts), size))

    return [FeedSet("", title, window(ordered))] + [
        FeedSet(topic.folder, topic.feed_title(title), window(topic.posts)) for topic in found
    ]
