"""Saved HTML pages: trafilatura finds the article and its metadata."""

from __future__ import annotations

import datetime as dt
from datetime import tzinfo
from html import escape

from postroom.core.model import Attribution, DateSource, ParsedPost, ReadError
from postroom.core.sanitize import clean_html, html_to_text, one_line, summarize


def read_webpage(text: str, tz: tzinfo) -> list[ParsedPost]:
    import trafilatura  # slow to import; only sites with saved pages pay for it

    body = trafilatura.extract(
        text, output_format="html", include_formatting=True, include_links=True
    )
    meta = trafilatura.extract_metadata(text)
    if not body:
        raise ReadError("no article text found in the page")
    title = one_line(meta.title or "") if meta else ""
    if not title:
        raise ReadError("no title found in the page")
    html = clean_html(body)
    heading = f"<h1>{escape(title, quote=False)}</h1>"
    if html.startswith(heading):  # the page's own h1 repeats the title
        html = html[len(heading) :].lstrip()
    date = None
    if meta and meta.date:
        day = dt.date.fromisoformat(meta.date)
        date = dt.datetime(day.year, day.month, day.day, tzinfo=tz)
    return [
        ParsedPost(
            title=title,
            date=date,
            date_source=DateSource.HTML if date else None,
            body_html=html,
            summary=summarize(meta.description or html_to_text(html)),
            attribution=Attribution(
                source=meta.sitename or None,
                author=meta.author or None,
                url=meta.url or None,
            ),
            tags=tuple(sorted(set(meta.tags or ()))),
        )
    ]
