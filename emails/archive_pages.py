"""Which HTML each sent issue's public page (public/digests/<n>/) is made from: the issue
as frozen, or, once the curator has narrowed or withdrawn one of its posts, the issue
rendered again from its posts as they are now.

The email went out as it went out; the page stays up for anyone to read, so it must
follow the republishing rules as they are now: a publication that asks for `link`
after the issue was sent gets its text off the page at the next build, and a post
whose file was deleted leaves it altogether. An issue nobody narrowed keeps its
frozen HTML, so its page stays byte-identical. Nothing here writes to the store:
the frozen parts and the outbox keep what was sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache

from postroom.content.intro import Intro
from postroom.core.config import Site
from postroom.core.model import Post, Republish
from postroom.core.republish import republish_of
from postroom.emails.render import RenderedDigest, digest_subject, render_digest
from postroom.feeds.archive import ArchivedIssue
from postroom.feeds.theme import fingerprint, theme_folder
from postroom.store.digests import Issue

#: how much of a post each rule shows; a rule with a lower rank shows less
_RANK = {Republish.LINK: 0, Republish.EXCERPT: 1, Republish.FULL: 2}


def redone(site: Site, issue: Issue, current: Mapping[str, Post]) -> bool:
    """Whether the issue's page must be made again: one of its posts is withdrawn (no
    longer published) or shown by a narrower rule now than when the issue was frozen. A
    rule not recorded (an issue made before schema version 10) counts as `full`, the
    widest, so such a page is made again as soon as any of its posts shows less."""
    for i, post_id in enumerate(issue.post_ids):
        post = current.get(post_id)
        if post is None:
            return True
        was = issue.rules[i] if i < len(issue.rules) else None
        if _RANK[republish_of(site.config, post)] < _RANK[was or Republish.FULL]:
            return True
    return False


def _frozen(issue: Issue) -> ArchivedIssue:
    return ArchivedIssue(
        issue.number,
        datetime.fromisoformat(issue.created_at),
        issue.subject,
        issue.html,
        issue.post_ids,
        issue.intro_html,
    )


def _subject(site: Site, issue: Issue, kept: Sequence[Post]) -> str | None:
    """The subject the page made again carries, as a template for `render_digest` (None:
    `digest.subject`'s). The frozen one while every post is still there (a narrowed post
    keeps its title); made again from what is left when the lead is withdrawn (the
    subject may name it) or when the frozen one was `digest.subject`'s (its count of
    "more" is wrong now). An intro's own subject is not kept apart from the issue's, so
    one naming a withdrawn lead gives way to `digest.subject` too."""
    if len(kept) == len(issue.post_ids):
        return issue.subject.replace("{", "{{").replace("}", "}}")
    if not kept or kept[0].id != issue.post_ids[0]:
        return None
    if issue.subject == digest_subject(site, [kept[0]] * len(issue.post_ids)):
        return None
    return issue.subject.replace("{", "{{").replace("}", "}}")


def _again(site: Site, issue: Issue, current: Mapping[str, Post]) -> ArchivedIssue:
    """The issue rendered again from its posts still published, in the issue's order,
    with the intro frozen with it; the same personal placeholders, so the archive makes
    its page from it as from the frozen HTML."""
    kept = tuple(current[i] for i in issue.post_ids if i in current)
    intro = Intro(html=issue.intro_html, subject=_subject(site, issue, kept), sha256="")
    theme = fingerprint(theme_folder(site, "emails"))
    rendered = _rendered(site, issue.number, kept, intro, theme)
    return ArchivedIssue(
        issue.number,
        datetime.fromisoformat(issue.created_at),
        rendered.subject,
        rendered.html,
        tuple(p.id for p in kept),
        issue.intro_html,
    )


@lru_cache(maxsize=256)
def _rendered(
    site: Site, number: int, posts: tuple[Post, ...], intro: Intro, _theme: object
) -> RenderedDigest:
    """`render_digest`, once per process for the same inputs (the site's email templates'
    `_theme` among them): a narrowed source may be in every issue, and each build would
    otherwise render them all again (25-100 ms an issue)."""
    return render_digest(site, number, posts, intro)


def archived_issues(
    site: Site, issues: Iterable[Issue], posts: Iterable[Post]
) -> list[ArchivedIssue]:
    """Every issue as the archive gets it (`feeds.archive`): frozen, or made again from
    `posts` (every published post now) when `redone` says so."""
    current = {p.id: p for p in posts}
    return [
        _again(site, issue, current) if redone(site, issue, current) else _frozen(issue)
        for issue in issues
    ]
