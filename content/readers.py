"""From one file on disk to the posts in it, whatever its format.

Each format has its own reader, registered by file extension in `READERS`: the
registry decides both which files in content/ are posts and how each is read, so a
new format is one function and one `@register_reader(".ext")`. This module decodes
bytes, hands the text to the reader, applies the curator's sidecar
(`NAME.meta.toml`) and turns every failure into a `Problem` naming the file, so one
bad file never stops a scan.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from postroom.content.linkfiles import is_link_file
from postroom.content.sitename import site_name
from postroom.content.webpage import read_webpage
from postroom.core.config import Config
from postroom.core.model import DateSource, ParsedPost, Post, Problem, ReadError, Severity, brief
from postroom.core.republish import read_republish
from postroom.core.sanitize import bom_encoding, one_line, strip_illegal

SIDECAR_SUFFIX = ".meta.toml"
SIDECAR_KEYS = frozenset(
    {
        "url",
        "source",
        "author",
        "author_role",
        "date",
        "title",
        "tags",
        "comment",
        "image",
        "image_alt",
        "image_type",
        "image_length",
        "republish",
    }
)
# what only a file of one post can be given: the file's other keys apply to all its posts
# (the last three: content.markdown.IMAGE_DETAILS, tests/test_readers.py checks)
_SINGLE_KEYS = frozenset(
    {"title", "date", "url", "comment", "image", "image_alt", "image_type", "image_length"}
)

#: the parsers of the readers below are imported where a reader first needs one: a cold
#: scan's parent reads no file itself (its workers do), and importing them took ~60 ms of
#: its start, before its first file went to a worker. These the forkserver imports once
#: for the workers (content.intake's pool, scheduler.POOL_PRELOADS). The captures' parser
#: is not among them: a worker imports it at its first capture (~45 ms, once), where the
#: forkserver's import would hold up every site's first parse, Markdown only or not.
PARSERS = ("postroom.content.markdown",)


@dataclass(frozen=True)
class Reading:
    """What one file gave: its posts (in file order) and what went wrong."""

    posts: tuple[ParsedPost, ...]
    problems: tuple[Problem, ...]

    @property
    def failed(self) -> bool:
        return any(p.severity is Severity.ERROR for p in self.problems)


@dataclass(frozen=True)
class FileText:
    """What a reader is given: one content file's text, decoded and rid of the
    characters XML cannot carry."""

    name: str  # its path in the content folder
    text: str
    config: Config  # the site's timezone and date order (`tz`, `day_first`) read dates
    url: str | None = None  # the original article's address, when the sidecar gives one


@dataclass(frozen=True)
class Parsed:
    """What a reader gives back: the file's posts in file order, and warnings about
    them. No posts is a file that holds none on purpose (a Markdown draft); a file
    that cannot be read raises `ReadError`, whose message `check` shows."""

    posts: tuple[ParsedPost, ...]
    warnings: tuple[str, ...] = ()


Reader = Callable[[FileText], Parsed]

# extension (lower case, with its dot) -> the reader of such files; a file is content
# when its extension is here. A cold start reads in worker processes, which are handed
# the reader itself: a module-level function travels by name (a lambda is read here).
READERS: dict[str, Reader] = {}
_EXTENSION = re.compile(r"\.[^./\\\s]+")


def register_reader(*extensions: str) -> Callable[[Reader], Reader]:
    """Make the decorated function the reader of files with these extensions (".rst"),
    replacing any reader they had: from then on such files are posts."""
    for extension in extensions:
        if not _EXTENSION.fullmatch(extension):
            raise ValueError(f"an extension is a dot and a word, as '.rst', not {extension!r}")

    def register(reader: Reader) -> Reader:
        for extension in extensions:
            READERS[extension.lower()] = reader
        return reader

    return register


def unregister_reader(*extensions: str) -> None:
    """Files with these extensions are no longer content (their posts are withdrawn)."""
    for extension in extensions:
        READERS.pop(extension.lower(), None)


def reader_for(name: str) -> Reader | None:
    """The reader of a file in content/, or None when it is not a post file (a sidecar,
    an image, a file of a format nobody registered)."""
    if name.endswith(SIDECAR_SUFFIX) or is_link_file(os.path.basename(name)):
        return None  # links files: lists of links to fetch (content.linkfiles)
    return READERS.get(os.path.splitext(name)[1].lower())  # not Path: asked of every file


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.stem + SIDECAR_SUFFIX)


# The years a post can be dated in: datetime's own range, less a day at each end so
# that moving the date to any timezone (UTC, the site's) stays inside it.
_YEARS = range(2, 9999)


def decode(data: bytes) -> tuple[str, str | None]:
    """Text of a file, and a warning when it was not UTF-8 (with or without a BOM)."""
    if (encoding := bom_encoding(data)) and encoding != "utf-8-sig":
        try:
            return data.decode(encoding), None
        except UnicodeDecodeError as exc:
            why = f"starts with a {encoding} mark but is not {encoding}: {exc.reason}"
            raise ReadError(why) from None
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        if b"\x00" in data[:8192]:  # NULs in valid UTF-8 are damage; with invalid bytes, binary
            raise ReadError("binary file (NUL bytes and no valid text encoding)") from None
        utf8_error = f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
    try:
        return data.decode("cp1252"), f"{utf8_error}; read as Windows-1252"
    except UnicodeDecodeError:
        raise ReadError(f"undecodable bytes: {utf8_error}, nor Windows-1252") from None


def _clean_url(post: ParsedPost, warnings: list[str]) -> ParsedPost:
    """Only http(s) links reach pages and feeds; a known URL names an unknown source. A
    URL no parser can split ("http://[::1/") is dropped like any other: every later step
    that splits it (the credit's host name) would fail on it."""
    a = post.attribution
    if a.url and not _splits_as_web(a.url):
        why = "is not http(s)" if _splits(a.url) else "is no URL a parser can read"
        warnings.append(f"'{post.title}': original URL {brief(a.url)} {why}; dropped")
        a = replace(a, url=None)
    if a.url and not a.source:
        a = replace(a, source=site_name(a.url, ""))
    return post if a is post.attribution else replace(post, attribution=a)


def _splits(url: str) -> bool:
    try:
        urlsplit(url).port  # noqa: B018  (what raises on an unclosed "[" or a bad port)
    except ValueError:
        return False
    return True


def _splits_as_web(url: str) -> bool:
    """Whether `url` is an http(s) URL every step can split (its host and port read)."""
    return _splits(url) and urlsplit(url).scheme.lower() in ("http", "https")


def _load_sidecar(data: bytes) -> dict[str, Any]:
    try:
        meta = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ReadError(f"sidecar {SIDECAR_SUFFIX} is not valid TOML: {exc}") from None
    if unknown := sorted(set(meta) - SIDECAR_KEYS):
        raise ReadError(f"sidecar has unknown key '{unknown[0]}'")
    for key, value in meta.items():
        valid = isinstance(value, str)
        if key == "tags":  # words: a table or a list of lists would become a tag "a-1"
            valid = isinstance(value, list) and all(isinstance(t, str | int) for t in value)
        if key == "date" and not isinstance(value, str):
            valid = hasattr(value, "year")
        if key == "image_length":  # a number of bytes; a bad one is said and ignored later
            valid = isinstance(value, int | str) and not isinstance(value, bool)
        if not valid:
            raise ReadError(f"sidecar key '{key}' has a value of the wrong type: {brief(value)}")
    return meta


def _apply_sidecar(
    post: ParsedPost, meta: dict[str, Any], config: Config, single: bool, warnings: list[str]
) -> ParsedPost:
    """The curator's word wins; title, date, URL, comment and image only make sense for a
    single post. `image_alt`, `image_type` or `image_length` alone describe the image the
    page itself gave."""
    from postroom.content.dates import parse_date  # lazy: see PARSERS
    from postroom.content.markdown import IMAGE_DETAILS, comment_html, declared_image, image_details

    changes: dict[str, Any] = {}
    attribution = post.attribution
    for key in ("source", "author", "author_role"):
        if key in meta:
            attribution = replace(attribution, **{key: one_line(meta[key])})
    if single and "url" in meta:
        attribution = replace(attribution, url=meta["url"].strip())
    changes["attribution"] = attribution
    if single and "title" in meta:
        changes["title"] = one_line(meta["title"])
    if single and "comment" in meta:  # the curator's word on this post, over front matter's
        changes["comment"] = comment_html(meta["comment"])
    if single and "image" in meta:
        image, troubles = declared_image(meta["image"], meta, config.site.base_url, "sidecar")
        warnings += troubles
        changes["image"] = image or post.image
    elif single and (given := [key for key in IMAGE_DETAILS if key in meta]):
        if post.image is None:
            named = " and ".join(f"'{key}'" for key in given)
            warnings.append(f"sidecar {named} ignored: the post has no image")
        else:
            kind, length, troubles = image_details(meta, "sidecar")
            warnings += troubles
            said: dict[str, Any] = {"media_type": kind} if kind else {}
            said |= {"length": length} if length else {}
            if "image_alt" in meta:
                said["alt"] = one_line(meta["image_alt"])[:300]
            changes["image"] = replace(post.image, **said)
    if single and "date" in meta:
        value = meta["date"]
        date = (
            parse_date(value, config.tz, config.day_first)
            if isinstance(value, str)
            else parse_date(value.isoformat(), config.tz)
        )
        if date is None:
            raise ReadError(f"sidecar 'date' is not a date: {brief(value)}")
        changes.update(date=date, date_source=DateSource.SIDECAR)
    if "tags" in meta:
        changes["tags"] = tuple(sorted({one_line(str(t)) for t in meta["tags"]}))
    if "republish" in meta:  # every post of the file: what the curator may show of them
        changes["republish"], trouble = read_republish(meta["republish"], "sidecar")
        warnings += [trouble] if trouble else []
    return replace(post, **changes)


def _check_date(post: ParsedPost, tz: Any) -> None:
    """A date every later step can use: in a sane year, with an offset Python can hold,
    movable to UTC and to the site's timezone (a post dated 0001-01-01 in a zone east of
    UTC would otherwise fail in the store, the feeds or the digest, far from its file)."""
    if post.date is None:
        return
    if post.date.year not in _YEARS:
        raise ReadError(f"'{post.title}': date {post.date.date()} is out of range")
    try:
        post.date.astimezone(UTC)
        post.date.astimezone(tz)
    except (OverflowError, ValueError) as exc:
        why = f"'{post.title}': date {post.date.isoformat()} is unusable: {exc}"
        raise ReadError(why) from None


def _some_post(posts: list[ParsedPost]) -> tuple[ParsedPost, ...]:
    """A capture or a page is saved to be published: finding nothing in it is an error."""
    if not posts:
        raise ReadError("no post found in the file")
    return tuple(posts)


@register_reader(".md", ".markdown")
def _markdown_file(file: FileText) -> Parsed:
    from postroom.content import markdown  # lazy: see PARSERS

    config = file.config
    posts, warnings = markdown.read_markdown(
        file.text, config.tz, config.day_first, config.site.base_url
    )
    return Parsed(tuple(posts), tuple(warnings))


@register_reader(".html", ".htm")
def _webpage_file(file: FileText) -> Parsed:
    return Parsed(_some_post(read_webpage(file.text, file.config.tz, file.url)))


@register_reader(".txt")
def _capture_file(file: FileText) -> Parsed:
    from postroom.content import captures  # lazy: see PARSERS

    config = file.config
    read = captures.read_capture(file.text, config.tz, config.day_first, file.url)
    return Parsed(_some_post(read))


def attribution_problems(post: Post) -> list[Problem]:
    """Warnings for `check`: a post whose readers cannot tell where it came from.

    Not scan problems: a curator's own Markdown post may rightly have no source,
    so the service does not log these; `check` shows them with the fix.
    """
    a = post.attribution
    wanted = [w for w, value in (("source", a.source), ("original URL", a.url)) if not value]
    if not wanted or not post.files:
        return []
    keys = {"source": 'source = "…"', "original URL": 'url = "https://…"'}
    sidecar = sidecar_path(Path(post.files[0])).name
    reason = (
        f"'{post.title}': no {' and no '.join(wanted)}; add "
        f"{', '.join(keys[w] for w in wanted)} to {sidecar}"
    )
    return [Problem(post.files[0], reason)]


def read_file(
    name: str, data: bytes, sidecar: bytes | None, config: Config, reader: Reader | None = None
) -> Reading:
    """Posts in one file. `name` is its path in the content folder, used in problems.

    `reader` is looked up by `name` when not given; a worker process is given the one
    its parent found, since a reader registered at run time exists only there."""
    warnings: list[str] = []
    reader = reader if reader is not None else reader_for(name)
    try:
        if reader is None:
            raise ReadError(f"no reader for {Path(name).suffix or 'extensionless'} files")
        text, decode_warning = decode(data)
        warnings += [decode_warning] if decode_warning else []
        text, illegal = strip_illegal(text)
        if illegal:
            warnings.append(f"removed {illegal} control characters that XML cannot carry")
        meta = _load_sidecar(sidecar) if sidecar is not None else {}
        url = meta.get("url") if isinstance(meta.get("url"), str) else None
        url = url if url and _splits_as_web(url.strip()) else None  # else dropped, said below
        parsed = reader(FileText(name, text, config, url))
        posts = list(parsed.posts)
        warnings += parsed.warnings
        if sidecar is not None:
            if len(posts) > 1 and _SINGLE_KEYS & set(meta):
                warnings.append(
                    "sidecar title, date, url, comment and image ignored:"
                    " the file holds several posts"
                )
            single = len(posts) == 1
            posts = [_apply_sidecar(p, meta, config, single, warnings) for p in posts]
        posts = [_clean_url(p, warnings) for p in posts]
        for post in posts:
            _check_date(post, config.tz)
    except ReadError as exc:
        return Reading((), (Problem(name, str(exc), Severity.ERROR),))
    except Exception as exc:  # a reader's own bug: this file is reported, the scan goes on
        reason = one_line(f"could not be read ({type(exc).__name__}: {exc})")[:300]
        return Reading((), (Problem(name, reason, Severity.ERROR),))
    for post in posts:
        if post.date_source is DateSource.TEXT_GUESS:
            order = "day first" if config.day_first else "month first"
            warnings.append(f"'{post.title}': date read {order} ({config.dates.locale}), a guess")
        if post.date is None:
            warnings.append(f"'{post.title}': no date in the text; dated when first picked up")
    return Reading(tuple(posts), tuple(Problem(name, w) for w in warnings))
