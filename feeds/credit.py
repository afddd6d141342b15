"""The attribution line every reader sees: who wrote it, where, and when first published.

Feeds, pages and the email digest all print the same line, so a post reads the
same wherever it is met, and a reader that ignores `<author>` or `via` links
still shows where the article came from.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from markupsafe import Markup, escape
from postroom.core.model import DateSource, Post


def day(moment: datetime) -> str:
    """'23 June 2016': the British form, without a zero-padded day."""
    return f"{moment.day} {moment:%B %Y}"


def byline(post: Post) -> str:
    """'Mark Rogers, chief executive, Solihull MBC', or '' when the author is unknown."""
    a = post.attribution
    if not a.author:
        return ""
    return f"{a.author}, {a.author_role}" if a.author_role else a.author


def credit_html(post: Post) -> Markup:
    """'By Mark Rogers, chief executive, Solihull MBC · First published in <a>Community Care</a>
    on 23 June 2016', with only the parts we know; empty when we know none.

    A date that only stands in for a missing one (the pick-up time) is not shown
    as the original's.
    """
    a = post.attribution
    parts = []
    if who := byline(post):
        parts.append(f"By {escape(who)}")
    name = a.source or (a.url and (urlsplit(a.url).hostname or a.url))
    where = f'<a href="{escape(a.url)}">{escape(name)}</a>' if a.url else escape(name or "")
    when = f" on {day(post.date)}" if post.date_source != DateSource.PICKED_UP else ""
    if where or when:
        parts.append(f"First published{' in ' if where else ''}{where}{when}")
    # every part is escaped above; f-strings, not Markup.format, which is slow on 10,000 pages
    return Markup(" · ".join(parts))
