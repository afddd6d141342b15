"""The attribution line every reader sees: who wrote it, where, and when first published.

Feeds, pages and the email digest all print the same line, so a post reads the
same wherever it is met, and a reader that ignores `<author>` or `via` links
still shows where the article came from.

One set of parts (`_parts`) is worded three ways: in full as HTML (pages, feeds, the
email) and as plain text (the email's text part), and compactly for the posts an email
only lists. Every combination of known parts reads as a sentence: "First published"
is only said with a place ("in Community Care", "at example.org"); a date alone is
just the date, never "First published on 7 December 2016" with nowhere.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

from markupsafe import Markup, escape
from postroom.core.model import DateSource, Post


def day(moment: datetime) -> str:
    """'23 June 2016': the British form, without a zero-padded day.

    The month and year are formatted once per month (`_MONTHS`): strftime's `%B` was a
    tenth of a cold build's list pages, each post's day being asked on every list that
    shows it and again by its credit. No build changes the process's locale."""
    month = _MONTHS.get((moment.year, moment.month))
    if month is None:
        month = _MONTHS[moment.year, moment.month] = f"{moment:%B %Y}"
    return f"{moment.day} {month}"


#: 'June 2016' by (year, month): a few hundred at most on any real site
_MONTHS: dict[tuple[int, int], str] = {}


def byline(post: Post) -> str:
    """'Mark Rogers, chief executive, Solihull MBC', or '' when the author is unknown."""
    a = post.attribution
    if not a.author:
        return ""
    return f"{a.author}, {a.author_role}" if a.author_role else a.author


class _Parts(NamedTuple):
    """Immutable as a frozen dataclass, and made at a fraction of its cost: a cold build
    makes two for every row of every list a post is on."""

    who: str  # the byline, or ''
    name: str  # the publication, else the original's host name, or ''
    named: bool  # `name` is a publication ("in X"), not a host name ("at x.org")
    url: str  # the original article, or ''
    when: str  # '23 June 2016', or '' when the date only stands in for a missing one


def _parts(post: Post) -> _Parts:
    a = post.attribution
    when = day(post.date) if post.date_source != DateSource.PICKED_UP else ""
    # the host only names a post with no source: not parsed for every list row that
    # has one (a cold build asks each post's credit on each list that shows it)
    return _Parts(byline(post), a.source or _host(a.url), bool(a.source), a.url or "", when)


def _host(url: str | None) -> str:
    """The original's host name, without 'www.', or '' when no URL is known."""
    try:
        host = urlsplit(url).hostname or url if url else ""
    except ValueError:  # "http://[::1/" (intake drops such a URL; a stored post may hold one)
        host = url or ""
    return host.removeprefix("www.")


def _worded(p: _Parts, where: str, compact: bool) -> list[str]:
    """The credit's pieces, `where` being the place already escaped or linked."""
    if compact:  # 'By Mark Rogers · Community Care · 23 June 2016'
        return [x for x in (p.who and f"By {p.who}", where, p.when) if x]
    pieces = [f"By {p.who}"] if p.who else []
    if where:
        on = f" on {p.when}" if p.when else ""
        pieces.append(f"First published {'in' if p.named else 'at'} {where}{on}")
    elif p.when:
        pieces.append(p.when)
    return pieces


@lru_cache(maxsize=4096, typed=True)  # typed: a str subclass may be Markup
def _escaped(text: str) -> str:
    """`text` escaped for HTML, remembered: a site has a few hundred bylines and
    publications, and a cold build of 10,000 posts asks for ~45,000 credits (a list's
    row, a post's page, a feed's entry), two escapes each, each a `Markup` made."""
    return str(escape(text))


def _html(post: Post, compact: bool) -> Markup:
    p = _parts(post)
    safe = _Parts(_escaped(p.who), _escaped(p.name), p.named, p.url, p.when)
    where = f'<a href="{escape(p.url)}">{safe.name}</a>' if p.url and p.name else safe.name
    # every part is escaped above; f-strings, not Markup.format, which is slow on 10,000 pages
    return Markup(" · ".join(_worded(safe, where, compact)))


def credit_html(post: Post) -> Markup:
    """'By Mark Rogers, chief executive, Solihull MBC · First published in <a>Community Care</a>
    on 23 June 2016', with only the parts we know; empty when we know none.

    A date that only stands in for a missing one (the pick-up time) is not shown
    as the original's.
    """
    return _html(post, compact=False)


def credit_compact_html(post: Post) -> Markup:
    """'By Mark Rogers · <a>Community Care</a> · 23 June 2016': the credit of a post an
    email lists by title only, still naming who, where (linked to the original) and when."""
    return _html(post, compact=True)


def credit_text(post: Post, compact: bool = False) -> str:
    """The credit as plain text, its pieces one a line ('By …', 'First published in …'),
    or on one line joined by ' · ' when `compact`; the original's URL is not in it (the
    text part gives it a line of its own)."""
    p = _parts(post)
    return (" · " if compact else "\n").join(_worded(p, p.name, compact))
