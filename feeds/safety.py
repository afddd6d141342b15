"""The last check before posts become files: nothing in a post may break the build.

Intake already cleans what it reads, but `build` takes any `Post`s, and one
control character in an author's name makes lxml refuse a whole feed, so every
text field is made XML-safe here, once, for feeds and pages alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import fields, is_dataclass, replace
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from postroom.core.model import Attribution, Post, PostHead, Problem, Severity
from postroom.core.sanitize import has_illegal, strip_illegal

# A post's id is its page's folder name: one path segment, nothing that climbs out.
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


def first_file(post: Post | PostHead) -> str:
    """What a Problem names: the post's first file, else its id."""
    return post.files[0] if post.files else post.id


def _texts(value: Any, into: list[str]) -> None:
    """Every string in a dataclass: its fields, the items of its tuples, and the same of
    the dataclasses it holds (a post's attribution and image)."""
    for name in value.__dataclass_fields__:  # not vars(): heads have __slots__
        item = getattr(value, name)
        if isinstance(item, str):
            into.append(item)
        elif isinstance(item, tuple):
            into.extend(i for i in item if isinstance(i, str))
            for i in item:
                if not isinstance(i, str):
                    _texts_of(i, into)
        elif item is not None:
            _texts_of(item, into)


def _texts_of(value: Any, into: list[str]) -> None:
    if isinstance(value, str):
        into.append(value)
    elif hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
        _texts(value, into)


#: the fields `_head_text` reads: should a head or an attribution gain one, every head
#: is looked at field by field again (`_texts`) until it is added there
_HEAD_FIELDS = (
    "id",
    "title",
    "date",
    "date_source",
    "picked_up",
    "updated",
    "attribution",
    "tags",
    "files",
    "republish",
    "fingerprint",
)
_ATTRIBUTION_FIELDS = ("source", "author", "author_role", "url", "credit")
_HEADS_KNOWN = (
    tuple(PostHead.__dataclass_fields__) == _HEAD_FIELDS
    and tuple(Attribution.__dataclass_fields__) == _ATTRIBUTION_FIELDS
)


def _head_text(head: PostHead) -> str | None:
    """Every string of a head joined, read field by field by name: `admit` asks it of
    every head before a build's first page is rendered, and `_texts`, going through
    the fields as data, took three times as long. None for what is not a plain head
    (a field that is not text where text belongs: `_texts` says what it holds)."""
    credit = head.attribution
    if type(credit) is not Attribution:
        return None
    texts = [head.id, head.title, head.fingerprint, *head.tags, *head.files]
    for text in (
        head.date_source,
        head.republish,
        credit.source,
        credit.author,
        credit.author_role,
        credit.url,
        credit.credit,
    ):
        if text is not None:
            texts.append(text)
    try:
        return "\n".join(texts)
    except TypeError:  # not a str among them
        return None


def xml_safe(value: Post | PostHead) -> Any:
    """`value` with every string in it XML-safe; a clean one (nearly all: intake cleans
    too) is found so with one scan of its joined text and comes back as itself."""
    text = _head_text(value) if _HEADS_KNOWN and type(value) is PostHead else None
    if text is None:
        texts: list[str] = []
        _texts(value, texts)
        text = "\n".join(texts)
    if not has_illegal(text):
        return value
    return _xml_safe(value)


def _xml_safe(value: Any) -> Any:
    """Every string in a post, its attribution and its tuples without XML-illegal characters.

    What is already clean comes back as the same object."""
    if isinstance(value, Enum):  # a StrEnum is a str, but must stay itself
        return value
    if isinstance(value, str):
        cleaned, removed = strip_illegal(value)
        return cleaned if removed else value
    if isinstance(value, tuple):
        items = tuple(_xml_safe(v) for v in value)
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if is_dataclass(value) and not isinstance(value, type):
        changed = {}
        for f in fields(value):
            old = getattr(value, f.name)
            if (new := _xml_safe(old)) is not old:
                changed[f.name] = new
        return replace(value, **changed) if changed else value
    return value


def _refusal(post: Post | PostHead) -> str | None:
    """Why a post cannot be written at all, or None."""
    if not _PATH_SEGMENT.fullmatch(post.id):
        return f"id {post.id!r} cannot be a page's folder name"
    for name in ("date", "picked_up", "updated"):
        moment: datetime = getattr(post, name)
        if moment.utcoffset() is None:  # feedgen refuses it; sorting beside aware ones fails
            return f"{name} {moment.isoformat()} has no timezone"
    return None


P = TypeVar("P", Post, PostHead)


def admit(posts: Iterable[P]) -> tuple[list[P], list[Problem]]:
    """The posts (or heads) that can be written, XML-safe, sorted by id; a Problem for
    each refused."""
    admitted: list[P] = []
    problems: list[Problem] = []
    for post in sorted(posts, key=lambda p: p.id):
        safe, problem = admit_one(post)
        if safe is None:
            problems.append(problem)
        else:
            admitted.append(safe)
    return admitted, problems


def admit_one(post: P) -> tuple[P, None] | tuple[None, Problem]:
    """`admit` of one post: (it XML-safe, None), or (None, why it is refused). Asked of
    each head apart by `cache.BuildCache`, without a list and a sort for each."""
    if why := _refusal(post):
        return None, Problem(first_file(post), f"not published: {why}", Severity.ERROR)
    return xml_safe(post), None
