"""Where a build reads posts from: every post's head, and whole posts by id.

`store.Store` is one (the service's); `PostList` is one over posts in memory (tests,
benches, anything that has its posts already). A build holds every head and only
the whole posts it is rendering, so its memory does not grow with the site's text.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, runtime_checkable

from postroom.core.model import Post, PostHead
from postroom.feeds.keys import digest


@runtime_checkable
class Catalogue(Protocol):
    def heads(self, ids: Iterable[str] | None = None) -> Sequence[PostHead]:
        """Every published post (or those among `ids`) without its text, in any order."""
        ...

    def versions(self) -> dict[str, tuple]:
        """Each published post's id and a tuple that changes whenever its head does."""
        ...

    def posts_by_id(self, ids: Iterable[str]) -> list[Post]:
        """The published posts among `ids`, whole, in the order of `ids`."""
        ...


@runtime_checkable
class ChangeLog(Protocol):
    """A catalogue that numbers its changes (`store.Store`: `store.changes`), so a process
    that keeps heads asks for what changed, not for every post's version."""

    def changes_since(self, seq: int | None) -> tuple[str, int, frozenset[str] | None]:
        """(an epoch, the newest change number, the ids of posts changed after `seq`,
        published or not); `seq` None: the number alone, taken before reading heads."""
        ...

    def heads(self, ids: Iterable[str] | None = None) -> Sequence[PostHead]: ...


def head_of(post: Post) -> PostHead:
    """A post in memory as a head; its fingerprint hashes all of it."""
    return PostHead(
        id=post.id,
        title=post.title,
        date=post.date,
        date_source=post.date_source,
        picked_up=post.picked_up,
        updated=post.updated,
        attribution=post.attribution,
        tags=post.tags,
        files=post.files,
        republish=post.republish,
        fingerprint=digest(repr(post)),
    )


class PostList:
    """A catalogue of posts in memory. Two posts with one id: the last one given wins,
    as a store holds one post per id."""

    def __init__(self, posts: Iterable[Post]) -> None:
        self._posts = {post.id: post for post in posts}

    def heads(self, ids: Iterable[str] | None = None) -> list[PostHead]:
        if ids is None:
            return [head_of(post) for post in self._posts.values()]
        return [head_of(self._posts[i]) for i in ids if i in self._posts]

    def versions(self) -> dict[str, tuple]:
        return {post.id: (head_of(post).fingerprint,) for post in self._posts.values()}

    def posts_by_id(self, ids: Iterable[str]) -> list[Post]:
        return [self._posts[i] for i in ids if i in self._posts]


class Loader:
    """Whole posts for one build, read in batches and kept a while: a post is in its
    tags' and its source's windows and on the index, so it is read once, not four
    times; at most `keep` are held, the least recently asked for dropped first."""

    def __init__(
        self, catalogue: Catalogue, clean: Callable[[Post], Post], keep: int = 2000
    ) -> None:
        self._catalogue = catalogue
        self._clean = clean  # each post as read: made safe to write (feeds.safety)
        self._keep = keep
        self._held: OrderedDict[str, Post] = OrderedDict()

    @property
    def catalogue(self) -> Catalogue:
        """Where the posts are read from (worker processes read it themselves)."""
        return self._catalogue

    def get(self, ids: Sequence[str]) -> list[Post]:
        """The posts of `ids` that exist, in that order."""
        missing = [i for i in ids if i not in self._held]
        if missing:
            for post in self._catalogue.posts_by_id(missing):
                self._held[post.id] = self._clean(post)
        found = []
        for i in ids:
            if (post := self._held.get(i)) is not None:
                self._held.move_to_end(i)
                found.append(post)
        while len(self._held) > max(self._keep, len(ids)):
            self._held.popitem(last=False)
        return found
