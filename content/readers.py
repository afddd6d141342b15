"""From one file on disk to the posts in it, whatever its format.

Each format has its own reader; this module decodes bytes, picks the reader by
extension, applies the curator's sidecar (`NAME.meta.toml`) and turns every
failure into a `Problem` naming the file, so one bad file never stops a scan.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from postroom.content.captures import read_capture
from postroom.content.dates import parse_date
from postroom.content.markdown import read_markdown
from postroom.content.sitename import site_name
from postroom.content.webpage import read_webpage
from postroom.core.config import Config
from postroom.core.model import DateSource, ParsedPost, Post, Problem, ReadError, Severity, brief
from postroom.core.sanitize import bom_encoding, one_line, strip_illegal

EXTENSIONS = frozenset({".md", ".markdown", ".txt", ".html", ".htm"})
SIDECAR_SUFFIX = ".meta.toml"
SIDECAR_KEYS = frozenset({"url", "source", "author", "author_role", "date", "title", "tags"})


@dataclass(frozen=True)
class Reading:
    """What one file gave: its posts (in file order) and what went wrong."""

    posts: tuple[ParsedPost, ...]
    problems: tuple[Problem, ...]

    @property
    def failed(self) -> bool:
        return any(p.severity is Severity.ERROR for p in self.problems)


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


def _settle_url(post: ParsedPost, warnings: list[str]) -> ParsedPost:
    """Only http(s) links reach pages and feeds; a known URL names an unknown source."""
    a = post.attribution
    if a.url and urlsplit(a.url).scheme.lower() not in ("http", "https"):
        warnings.append(f"'{post.title}': original URL {brief(a.url)} is not http(s); dropped")
        a = replace(a, url=None)
    if a.url and not a.source:
        a = replace(a, source=site_name(a.url, ""))
    return replace(post, attribution=a)


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
        if not valid:
            raise ReadError(f"sidecar key '{key}' has a value of the wrong type: {brief(value)}")
    return meta


def _apply_sidecar(
    post: ParsedPost, meta: dict[str, Any], config: Config, single: bool
) -> ParsedPost:
    """The curator's word wins; title, date and URL only make sense for a single post."""
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


def _parse(
    path: Path, text: str, config: Config, url: str | None
) -> tuple[list[ParsedPost], list[str]]:
    suffix = path.suffix.lower()
    if suffix in (".md", ".markdown"):
        return read_markdown(text, config.tz, config.day_first)
    if suffix in (".html", ".htm"):
        return read_webpage(text, config.tz), []
    return read_capture(text, config.tz, config.day_first, url), []


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


def read_file(name: str, data: bytes, sidecar: bytes | None, config: Config) -> Reading:
    """Posts in one file. `name` is its path in the content folder, used in problems."""
    path = Path(name)
    warnings: list[str] = []
    try:
        text, decode_warning = decode(data)
        warnings += [decode_warning] if decode_warning else []
        text, illegal = strip_illegal(text)
        if illegal:
            warnings.append(f"removed {illegal} control characters that XML cannot carry")
        meta = _load_sidecar(sidecar) if sidecar is not None else {}
        url = meta.get("url") if isinstance(meta.get("url"), str) else None
        posts, read_warnings = _parse(path, text, config, url)
        warnings += read_warnings
        if sidecar is not None:
            if len(posts) > 1 and {"title", "date", "url"} & set(meta):
                warnings.append("sidecar title, date and url ignored: the file holds several posts")
            posts = [_apply_sidecar(p, meta, config, len(posts) == 1) for p in posts]
        posts = [_settle_url(p, warnings) for p in posts]
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
    if not posts and path.suffix.lower() not in (".md", ".markdown"):
        return Reading((), (Problem(name, "no post found in the file", Severity.ERROR),))
    return Reading(tuple(posts), tuple(Problem(name, w) for w in warnings))
