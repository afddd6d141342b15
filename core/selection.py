"""What a reader asked to be sent: topics (tags) and sources, and how often.

A `Selection` names topics by their slug (the `tags/<slug>/` of the site's pages)
and sources by `source_key`, so "Child Protection" and "child protection" are one
choice, and the same words on the subscribe form, the preferences page, the CLI
and a CSV file mean the same posts. An empty selection is the whole site: what
every subscriber had before readers could choose, and what they still get unless
they narrow it. `key` is canonical, so subscribers who chose alike share one
issue rendering, however they typed their choice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from postroom.core.config import DigestSection, source_key
from postroom.core.model import Cadence, Post
from postroom.core.slug import name_slug

#: the most topics or sources one person may choose: a form or a CSV cell is a stranger's
#: text, and a selection is a key the store groups readers by
MOST_CHOICES = 100
#: how many of the site's tags the subscribe form and the preferences page offer when
#: `digest.topics` names none: the most used, so a site with 900 tags shows a short list
OFFERED = 24


@dataclass(frozen=True)
class Selection:
    """Topic slugs and source keys, sorted and unique; both empty: the whole site."""

    topics: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @classmethod
    def of(cls, topics: Iterable[str] = (), sources: Iterable[str] = ()) -> Selection:
        """From names as people type them (tags, publications), in any case and spacing;
        blanks dropped; ValueError past MOST_CHOICES."""
        slugs = sorted({name_slug(t) for t in topics if t.strip()})
        keys = sorted({k for s in sources if (k := source_key(s))})
        if len(slugs) > MOST_CHOICES or len(keys) > MOST_CHOICES:
            raise ValueError(f"at most {MOST_CHOICES} topics and {MOST_CHOICES} sources")
        return cls(tuple(slugs), tuple(keys))

    @property
    def everything(self) -> bool:
        return not (self.topics or self.sources)

    def matches(self, post: Post) -> bool:
        """The post is for this reader: the whole site, or one of its tags or its source
        chosen."""
        if self.everything:
            return True
        source = post.attribution.source
        if self.sources and source and source_key(source) in self.sources:
            return True
        return bool(self.topics) and any(name_slug(t) in self.topics for t in post.tags)

    def stored(self) -> tuple[str, str]:
        """(topics, sources) as the store keeps them: canonical JSON, equal text for equal
        choices, so the store can group readers by them."""
        return json.dumps(list(self.topics)), json.dumps(list(self.sources))

    @classmethod
    def from_stored(cls, topics: str, sources: str) -> Selection:
        return cls(tuple(json.loads(topics or "[]")), tuple(json.loads(sources or "[]")))

    def describe(self) -> str:
        """One line for people: "everything", or the topics and sources chosen."""
        if self.everything:
            return "everything"
        parts = [*(f"topic {t}" for t in self.topics), *(f"source {s}" for s in self.sources)]
        return ", ".join(parts)


def cadence_of(digest: DigestSection, chosen: Cadence | None) -> Cadence:
    """The cadence a reader gets: theirs, else the site's `digest.cadence`; monthly is the
    weekly on a site with no `digest.monthly` (as emails.editions.due_at sends it), so the
    preferences page, the welcome and `subscribers show` say what really comes."""
    cadence = chosen or digest.cadence
    return Cadence.WEEKLY if cadence is Cadence.MONTHLY and not digest.monthly else cadence
