"""Which topics and sources a reader is offered: on the subscribe form and on their
preferences page, one list made by one function, so the page build and the web app
can never offer different boxes.

A site grows to hundreds of tags; a form of 900 boxes is no choice. The offer is
`digest.topics` when the curator names them, else the site's OFFERED most used tags
(and, on the preferences page, sources), and always whatever the reader already
chose, so a choice never disappears from the form that would save it. Only what is
offered is accepted back: a stranger's POST cannot store a hundred junk topics.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from postroom.core.config import Site, source_key
from postroom.core.sanitize import one_line
from postroom.core.selection import MOST_CHOICES, OFFERED, Selection
from postroom.core.slug import name_slug

#: (tags, source) of one post: all the offer needs of it
Tagged = tuple[Sequence[str], str | None]


@dataclass(frozen=True)
class Offer:
    """One box on a form: the key the store keeps (a topic's slug, a source's key), which
    is also the box's value, and the name people read beside it."""

    key: str
    name: str


@dataclass(frozen=True)
class Offered:
    """The boxes of a form, topics and sources, in the order they are shown."""

    topics: tuple[Offer, ...] = ()
    sources: tuple[Offer, ...] = ()

    def accept(self, topics: Iterable[str], sources: Iterable[str]) -> Selection:
        """The selection a form's values make, keeping only what is offered: anything
        else (a box this form never had, a stranger's made-up topic) is dropped."""
        topic_keys = {o.key for o in self.topics}
        source_keys = {o.key for o in self.sources}
        # a stranger's text: worked out each time, never kept in the caches below
        return Selection.of(
            [t for t in dict.fromkeys(topics) if t.strip() and name_slug(t) in topic_keys],
            [s for s in dict.fromkeys(sources) if source_key(s) in source_keys],
        )


#: a new subscriber's choice: nothing yet
NOTHING = Selection()


@lru_cache(maxsize=8192)  # a site names a few hundred topics over thousands of posts
def _topic_key(name: str) -> str:
    return name_slug(name) if name.strip() else ""


@lru_cache(maxsize=8192)
def _source_key(name: str) -> str:
    return source_key(name)


def offered(site: Site, tagged: Iterable[Tagged], chosen: Selection = NOTHING) -> Offered:
    """The topics and sources offered to a reader who has `chosen` (nothing yet: a new
    subscriber), on a site whose published posts have the (tags, source) of `tagged`.

    Topics: `digest.topics` in the curator's order, or the OFFERED most used tags by
    name; sources: the OFFERED most used by name; then, in both, anything chosen that is
    not among them. A name is the first spelling in sorted order of those sharing a key,
    as topic pages name theirs, so the offer does not depend on the posts' order."""
    return offered_counted(site, [(post, 1) for post in tagged], chosen)


def offered_counted(
    site: Site, tagged: Iterable[tuple[Tagged, int]], chosen: Selection = NOTHING
) -> Offered:
    """`offered`, given each distinct (tags, source) once with how many posts have it (a
    build's `cache.Orders` keeps those counts, so it does not go through every post)."""
    posts = list(tagged)
    topic_names, topic_counts = _count(((tags, n) for (tags, _), n in posts), _topic_key)
    source_names, source_counts = _count(
        (([s] if s else [], n) for (_, s), n in posts), _source_key
    )
    if site.config.digest.topics:
        named: dict[str, str] = {}
        for name in site.config.digest.topics[:MOST_CHOICES]:
            if key := _topic_key(name):
                named.setdefault(key, one_line(name))
        topics = [Offer(k, n) for k, n in named.items()]
    else:
        topics = _most_used(topic_names, topic_counts)
    sources = _most_used(source_names, source_counts)
    return Offered(
        _with_chosen(topics, chosen.topics, topic_names),
        _with_chosen(sources, chosen.sources, source_names),
    )


def _count(
    named: Iterable[tuple[Iterable[str], int]], key_of: Callable[[str], str]
) -> tuple[dict[str, str], Counter[str]]:
    """(key -> name, key -> how many posts have it), given each post's names (or each
    distinct list of names) with how many posts have them: a post counts once per key,
    however many of its tags share it. Each distinct spelling is worked out once."""
    keys_of: dict[str, str] = {}  # spelling -> key ("" for none)
    counts: Counter[str] = Counter()
    for names_of_post, weight in named:
        keys = set()
        for name in names_of_post:
            key = keys_of.get(name)
            if key is None:
                key = keys_of[name] = key_of(name)
            keys.add(key)
        for key in keys:
            counts[key] += weight
    del counts[""]
    names: dict[str, str] = {}
    for name, key in keys_of.items():
        if key:
            shown = one_line(name)
            names[key] = min(shown, names.get(key, shown))
    return names, counts


def _most_used(names: dict[str, str], counts: Counter[str]) -> list[Offer]:
    """The OFFERED keys with the most posts (ties by name), shown by name."""
    ranked = sorted(counts, key=lambda k: (-counts[k], names[k].casefold(), k))[:OFFERED]
    return sorted((Offer(k, names[k]) for k in ranked), key=lambda o: (o.name.casefold(), o.key))


def _with_chosen(
    offers: list[Offer], chosen: Sequence[str], names: dict[str, str]
) -> tuple[Offer, ...]:
    """`offers`, then what the reader chose that is not among them (by the name the site
    knows it by, or its key when no post has it any more)."""
    shown = {o.key for o in offers}
    extra = [Offer(k, names.get(k, k)) for k in chosen if k not in shown]
    return (*offers, *sorted(extra, key=lambda o: (o.name.casefold(), o.key)))
