"""The attribution line every reader sees: who wrote it, where, and when first published."""

from __future__ import annotations

from markupsafe import Markup, escape

from content.model import Post


def byline(post: Post) -> str:
    a = post.attribution
    if not a.author:
        return ""
    return f"{a.author}, {a.author_role}" if a.author_role else a.author


def original_date(post: Post) -> str:
    return f"{post.date.day} {post.date:%B %Y}"


def credit_html(post: Post) -> Markup:
    """'By Mark Rogers, chief executive, Solihull MBC · First published in <a>Community Care</a>
    on 23 June 2016' with only the parts we know."""
    a = post.attribution
    parts = []
    if who := byline(post):
        parts.append(Markup("By {}").format(who))
    if a.source and a.url:
        where = Markup('<a href="{}">{}</a>').format(a.url, a.source)
    elif a.url:
        where = Markup('<a href="{}">the original</a>').format(a.url)
    else:
        where = escape(a.source) if a.source else None
    if post.date_source.value == "picked_up":
        when = Markup("")
    else:
        when = Markup(" on {}").format(original_date(post))
    if where:
        parts.append(Markup("First published in {}{}").format(where, when))
    elif when:
        parts.append(Markup("First published{}").format(when))
    return Markup(" · ").join(parts)
