"""The plain objects that flow from intake to the store and on to feeds and email.

Readers produce `ParsedPost`s (what one file says); the store turns them into
`Post`s (what we publish: a stable id, pick-up time, the files it came from).
"""

from __future__ import annotations

import reprlib
from dataclasses import InitVar, dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property

from postroom.core import excerpts
from postroom.core.sanitize import html_to_text, one_line

BODY_START_CHARS = 200
REASON_CHARS = 400  # a problem's reason is a line on a terminal, never a dump of the file

# Bounded: the repr of a value from a hostile file (a YAML alias bomb, a 5 MB string)
# is itself the attack, so messages show a few items and characters of it, never all.
_BRIEF = reprlib.Repr()
_BRIEF.maxlevel, _BRIEF.maxstring, _BRIEF.maxother = 2, 80, 60
_BRIEF.maxtuple = _BRIEF.maxlist = _BRIEF.maxdict = _BRIEF.maxset = 4


def brief(value: object) -> str:
    """A value as a problem's reason may quote it: its repr, cut short at every level."""
    return _BRIEF.repr(value)


class DateSource(StrEnum):
    """Where a post's date came from, so readers of `check` know how far to trust it."""

    FRONT_MATTER = "front_matter"
    SIDECAR = "sidecar"
    HTML = "html"
    TEXT = "text"
    #: a numeric date such as 03/04/2016, read by the site's locale
    TEXT_GUESS = "text_guess"
    #: no date anywhere: the time we first saw the post stands in
    PICKED_UP = "picked_up"


class Republish(StrEnum):
    """How much of a post's text postroom shows (feeds, pages, digest): the curator's
    right to republish another publication's words is theirs to judge, per site, per
    source and per post (`core.republish`)."""

    FULL = "full"  # the whole text
    EXCERPT = "excerpt"  # the first ~80 words, the credit and a link to the original
    LINK = "link"  # the title, the credit, the curator's comment and the link only


class Cadence(StrEnum):
    """How often a reader gets the digest (`subscribers.cadence`, `digest.cadence`)."""

    WEEKLY = "weekly"  # at every slot of `digest.schedule`
    MONTHLY = "monthly"  # at the slots of `digest.monthly`: everything since their last
    OFF = "off"  # no digests, still subscribed (their preferences page turns them on)


@dataclass(frozen=True)
class LeadImage:
    """A post's picture, shown beside it in feed readers and the digest, never needed
    to read it. `url` is absolute (http or https); `media_type` and `length` (bytes)
    are known for some images only, and feeds say them only then."""

    url: str
    alt: str = ""
    media_type: str = ""
    length: int | None = None


class Severity(StrEnum):
    ERROR = "error"  # the file could not be read: nothing from it is published
    WARNING = "warning"  # published, but something was guessed, dropped or cut


class ReadError(ValueError):
    """A file that cannot be published; the message says why, for `check`."""


@dataclass(frozen=True, slots=True)  # one per post: 100,000 of them in a build
class Attribution:
    """Who wrote a post and where it first appeared."""

    source: str | None = None  # publication, e.g. "Community Care"
    author: str | None = None
    author_role: str | None = None  # e.g. "chief executive, Solihull MBC"
    url: str | None = None  # the original article
    credit: str | None = None  # the credit line as written, e.g. "Source: Community Care"


@dataclass(frozen=True)
class Problem:
    file: str  # path relative to the content folder
    reason: str
    severity: Severity = Severity.WARNING

    def __post_init__(self) -> None:
        if len(self.reason) > REASON_CHARS:
            object.__setattr__(self, "reason", self.reason[: REASON_CHARS - 1] + "…")

    def as_json(self) -> dict:
        """As `check --json`, `status --json` and JSON logs give it; a contract."""
        return {"file": self.file, "reason": self.reason, "severity": self.severity.value}


@dataclass(frozen=True)
class ParsedPost:
    """One post as a reader found it in one file, before the store gives it an identity."""

    title: str
    date: datetime | None  # timezone-aware; None when the text has no date
    date_source: DateSource | None
    body_html: str  # sanitized
    summary: str  # plain text
    attribution: Attribution = field(default_factory=Attribution)
    tags: tuple[str, ...] = ()
    id_hint: str | None = None  # an explicit id from front matter
    comment: str = ""  # the curator's words on it (sanitized HTML): front matter or sidecar
    image: LeadImage | None = None
    republish: Republish | None = None  # the post's own choice (front matter or sidecar)
    # `core.excerpts.excerpt(body_html)`, worked out by the scan's worker (content.examine)
    # and kept with the version; None: not worked out (a reader's post, an older version)
    excerpt: str | None = None


@dataclass(frozen=True)
class Post:
    """A published post: what feeds, pages and digests are made from."""

    id: str  # stable for life, also the page slug
    title: str
    date: datetime  # timezone-aware
    date_source: DateSource
    picked_up: datetime  # first seen, UTC
    updated: datetime  # last real change, UTC
    body_html: str
    summary: str
    attribution: Attribution
    tags: tuple[str, ...]
    files: tuple[str, ...]  # every file the post was found in
    # the curator's comment (sanitized HTML; "" for none): their words, shown apart from the
    # source's (pages, feeds and the digest set the body off as quoted text beside it)
    comment: str = ""
    image: LeadImage | None = None
    republish: Republish | None = None  # None: the source's or the site's (core.republish)
    # the excerpt the scan worked out and the store kept, when there is one (`excerpt`).
    # Not a field: a post's equality, repr and the store's fingerprint of it (made of its
    # fields) are what they were before excerpts were kept, so no post reads as changed
    known_excerpt: InitVar[str | None] = None

    def __post_init__(self, known_excerpt: str | None) -> None:
        if known_excerpt is not None:
            self.__dict__["excerpt"] = known_excerpt  # what `excerpt` would work out

    @cached_property
    def excerpt(self) -> str:
        """`core.excerpts.excerpt(body_html)`: the kept one, else worked out on first use
        and kept on this object (a post read from an older store, or made by
        `dataclasses.replace`, which may have changed the body)."""
        return excerpts.excerpt(self.body_html)

    @property
    def body_start(self) -> str:
        """The body's first 200 characters as plain text (title, byline and standfirst
        are not in the body), so a curator can see where postroom thinks the text begins."""
        return one_line(html_to_text(self.body_html))[:BODY_START_CHARS]


@dataclass(frozen=True, slots=True)  # every post's, in a build: no __dict__ each
class PostHead:
    """A published post without its text: what lists, feed windows and a build's change
    keys need. A site of 100,000 posts fits in memory as heads; its bodies do not, so
    `feeds.build` loads whole `Post`s only for the outputs it renders."""

    id: str
    title: str
    date: datetime
    date_source: DateSource
    picked_up: datetime
    updated: datetime
    attribution: Attribution
    tags: tuple[str, ...]
    files: tuple[str, ...]
    republish: Republish | None
    # changes whenever anything a page or feed shows of the post changes (the store's
    # content fingerprint, with `updated` alongside: see `feeds.keys`)
    fingerprint: str


def newest_first(post: Post | PostHead) -> tuple[datetime, datetime, str]:
    """The order readers meet posts in (sort with `reverse=True`): the latest picked up
    first, and among posts picked up together (one scan, one timestamp) the latest
    written first, so an article from 2016 found beside one from last week never leads
    an issue or a feed; the id only breaks exact ties, so the order is stable."""
    return (post.picked_up, post.date, post.id)
