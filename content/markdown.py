"""Markdown posts with YAML front matter: the curator's own, clean format."""

from __future__ import annotations

import datetime as dt
import re
from datetime import tzinfo
from typing import Any

import frontmatter
import yaml
from markdown_it import MarkdownIt
from postroom.content.dates import parse_date
from postroom.core.model import (
    Attribution,
    DateSource,
    LeadImage,
    ParsedPost,
    ReadError,
    Republish,
    brief,
)
from postroom.core.republish import read_republish
from postroom.core.sanitize import clean_html, html_summary, one_line
from postroom.core.slug import slugify
from postroom.core.urls import image_length, lead_image

KEYS = frozenset(
    {
        "title",
        "date",
        "author",
        "author_role",
        "source",
        "source_url",
        "tags",
        "draft",
        "id",
        "summary",
        "comment",
        "republish",
        "image",
        "image_alt",
        "image_type",
        "image_length",
    }
)
#: what says something about the lead image, given only with `image` (or, in a sidecar,
#: about the image the post's own page gave)
IMAGE_DETAILS = ("image_alt", "image_type", "image_length")
FRONT_MATTER_CHARS = 65_536  # a post's metadata is a few lines; more is a mistake or an attack
_MAX_DEPTH = 16  # mappings and lists nested deeper than any post's metadata needs


class _LimitedLoader(yaml.SafeLoader):
    """YAML's safe loader with limits a front matter never reaches.

    Aliases are refused outright: nine anchors of nine aliases each are a 1 KB file that
    expands to 387 million items the moment anything walks them (the "billion laughs").
    Nesting is bounded so a file of ten thousand '[' cannot exhaust the stack."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in front matter", mark
            )
        self._depth += 1
        try:
            if self._depth > _MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {_MAX_DEPTH} levels deep", mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _LimitedYAML(frontmatter.YAMLHandler):
    def load(self, fm: str, **kwargs: object) -> Any:
        if len(fm) > FRONT_MATTER_CHARS:
            raise ReadError(
                f"front matter is {len(fm):,} characters, over the limit of {FRONT_MATTER_CHARS:,}"
            )
        loaded = _fast_load(fm)
        if loaded is _SLOW:
            return yaml.load(fm, Loader=_LimitedLoader)
        return loaded


# where the two parsers were found to part (differential fuzzing): libyaml takes a tab
# after a key or inside a plain value, a BOM or NEL mid-stream, a comment right after a
# block scalar's indicator ("|#"), a "?" in a flow collection, that PyYAML refuses
_ODD = re.compile("[\t\r\x85\ufeff\u2028\u2029]|[|>][-+0-9]*#")
_FLOW = re.compile(r"[\[{]")
_SLOW = object()  # what `_fast_load` gives when only the Python loader may answer
_OPENS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSES = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _fast_load(fm: str) -> Any:
    """The front matter as `_LimitedLoader` reads it, by libyaml (10x faster: a third of
    a cold scan's parse time was PyYAML's pure-Python scanner), or `_SLOW`.

    libyaml's composer cannot be given our limits, so its event stream is checked for
    them first (an alias, a node nested deeper than `_MAX_DEPTH`), and whatever is not
    plain sailing (those, any error at all, no libyaml) is left to `_LimitedLoader`,
    which then refuses it with its own words: the same value or the same error."""
    if not yaml.__with_libyaml__ or _ODD.search(fm) or ("?" in fm and _FLOW.search(fm)):
        return _SLOW
    try:
        depth = 0
        for event in yaml.parse(fm, Loader=yaml.CSafeLoader):
            if isinstance(event, yaml.AliasEvent):
                return _SLOW
            if isinstance(event, _CLOSES):
                depth -= 1
            elif isinstance(event, yaml.ScalarEvent) and depth >= _MAX_DEPTH:
                return _SLOW
            elif isinstance(event, _OPENS):
                depth += 1
                if depth > _MAX_DEPTH:
                    return _SLOW
        return yaml.load(fm, Loader=yaml.CSafeLoader)
    except Exception:  # any trouble: the Python loader says what it is
        return _SLOW


# a media type of the image top-level type (RFC 6838's name characters), no parameters
_IMAGE_TYPE = re.compile(r"image/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
_markdown = MarkdownIt("commonmark", {"typographer": False}).enable(["table", "strikethrough"])


def _date(value: Any, tz: tzinfo, day_first: bool) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=tz)
    parsed = parse_date(str(value), tz, day_first) if isinstance(value, str) else None
    if parsed is None:
        raise ReadError(f"front matter 'date' is not a date: {brief(value)}")
    return parsed


def _tags(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(t, str | int) for t in items):
        raise ReadError(f"front matter 'tags' must be a list of words, not {brief(value)}")
    return tuple(sorted({one_line(str(t)) for t in items if str(t).strip()}))


def _comment(meta: dict[str, Any]) -> str:
    value = meta.get("comment")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ReadError(f"front matter 'comment' must be text, not {brief(value)}")
    return comment_html(value)


def _text(meta: dict[str, Any], key: str) -> str | None:
    value = meta.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int | float):
        raise ReadError(f"front matter '{key}' must be text, not {brief(value)}")
    return one_line(str(value)) or None


def declared_image(
    value: object, details: dict[str, Any], base_url: str, where: str = "front matter"
) -> tuple[LeadImage | None, list[str]]:
    """The lead image a curator names (front matter or sidecar `image`, with `image_alt`,
    `image_type` and `image_length` from `details`), and warnings about what cannot be
    used (the post is published without it).

    An http(s) URL, or a path from the site's root ("/media/x.jpg", resolved against
    site.base_url as a link on the site would be). A relative path ("media/x.jpg") is
    refused: relative to the post's page, whose address is not known until the store
    gives the post its id, it would be a guess. A bad type or length is only left out:
    the feeds then give the image without an enclosure."""
    given = [key for key in IMAGE_DETAILS if details.get(key) is not None]
    if value is None:
        return None, [f"{where} '{key}' without 'image' ignored" for key in given]
    if not isinstance(value, str) or not value.strip():
        return None, [f"{where} 'image' must be a URL, not {brief(value)}; no lead image"]
    alt = details.get("image_alt")
    if alt is not None and not isinstance(alt, str | int | float):
        return None, [f"{where} 'image_alt' must be text, not {brief(alt)}; no lead image"]
    kind, length, warnings = image_details(details, where)
    ref = value.strip()
    base = base_url if ref.startswith("/") and not ref.startswith("//") else ""
    image = lead_image(ref, one_line(str(alt or "")), base, kind, length)
    if image is None:
        return None, [
            f"{where} 'image' {brief(value)} is not an http(s) URL or a path from the site's"
            " root such as '/media/photo.jpg'; no lead image"
        ]
    return image, warnings


def image_details(details: dict[str, Any], where: str) -> tuple[str, int | None, list[str]]:
    """`image_type` (an image's media type, "image/jpeg") and `image_length` (its size in
    bytes, a whole number above 0), "" and None when not given or not usable, and a
    warning for each that was given but is not."""
    warnings = []
    kind = details.get("image_type")
    if kind is not None:
        said = one_line(kind).lower() if isinstance(kind, str) else ""
        kind = said if _IMAGE_TYPE.fullmatch(said) else ""
        if not kind:
            warnings.append(
                f"{where} 'image_type' must be an image's media type such as 'image/jpeg',"
                f" not {brief(details['image_type'])}; ignored"
            )
    length = details.get("image_length")
    if length is not None and (length := image_length(length)) is None:
        warnings.append(
            f"{where} 'image_length' must be the image's size in bytes, a whole number above"
            f" 0, not {brief(details['image_length'])}; ignored"
        )
    return kind or "", length, warnings


def comment_html(text: str) -> str:
    """The curator's own Markdown (a post's `comment`, a digest's intro) as sanitized HTML."""
    return clean_html(_markdown.render(text))


def front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(front matter, Markdown body) of a file, within the limits above; ReadError if the
    front matter is bad or not a mapping."""
    found = frontmatter.detect_format(text, frontmatter.handlers)
    limited = _LimitedYAML() if isinstance(found, frontmatter.YAMLHandler) else found
    try:
        meta, body = frontmatter.parse(text, handler=limited)
    except (yaml.YAMLError, ValueError, OverflowError, RecursionError) as exc:  # "year 0 …"
        if isinstance(exc, ReadError):
            raise
        raise ReadError(f"bad front matter: {' '.join(str(exc).split())}") from None
    if not isinstance(meta, dict):
        raise ReadError("front matter must be a mapping of keys to values")
    return meta, body


def read_markdown(
    text: str, tz: tzinfo, day_first: bool = True, base_url: str = ""
) -> tuple[list[ParsedPost], list[str]]:
    """The post in a Markdown file (none if it is a draft), and warnings about it.
    `base_url` (the site's) resolves an `image` given as a path from the site's root."""
    meta, body = front_matter(text)
    warnings = [f"unknown front matter key '{key}' ignored" for key in sorted(set(meta) - KEYS)]
    if meta.get("draft") is True:
        return [], warnings
    html = clean_html(_markdown.render(body))
    title = _text(meta, "title")
    if title is None:
        tokens = _markdown.parse(body)
        heading = next((i for i, t in enumerate(tokens) if t.type == "heading_open"), None)
        if heading is None:
            raise ReadError("no title: add 'title:' to the front matter")
        title = one_line(tokens[heading + 1].content)
    republish = None
    if meta.get("republish") is not None:
        republish, trouble = read_republish(meta["republish"], "front matter")
        warnings += [trouble] if trouble else []
    if not html and not (republish is Republish.LINK and meta.get("comment")):
        # a link post is the curator's comment on another's article: it needs no text
        raise ReadError("the post has no text")
    has_date = meta.get("date") is not None
    id_hint = _text(meta, "id")
    image, troubles = declared_image(meta.get("image"), meta, base_url)
    warnings += troubles
    post = ParsedPost(
        title=title,
        date=_date(meta["date"], tz, day_first) if has_date else None,
        date_source=DateSource.FRONT_MATTER if has_date else None,
        body_html=html,
        summary=_text(meta, "summary") or html_summary(html),
        attribution=Attribution(
            source=_text(meta, "source"),
            author=_text(meta, "author"),
            author_role=_text(meta, "author_role"),
            url=_text(meta, "source_url"),
        ),
        tags=_tags(meta.get("tags")),
        id_hint=slugify(id_hint) if id_hint else None,
        comment=_comment(meta),
        republish=republish,
        image=image,
    )
    return [post], warnings
