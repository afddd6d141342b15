"""How a version of a post (a `ParsedPost`) is kept as text in the store, and `plain`,
the dataclass-to-JSON step that and a post's fingerprint are made with.

Its own module, without SQLAlchemy: a cold scan's worker processes encode the versions
they parse (`content.handback`), so that the scan's parent, which all the workers wait
on, only passes the text on to the database; a worker must not pay for importing the
database layer (0.3 s) to do it. `postroom.store` imports `store.database` lazily, so
importing this module does not.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from datetime import datetime
from typing import Any

from postroom.core.excerpts import EXCERPT_STAMP
from postroom.core.model import Attribution, DateSource, LeadImage, ParsedPost, Republish

_FIELDS: dict[type, tuple[str, ...] | None] = {}  # a dataclass's fields; None: not one


def plain(value: Any) -> Any:
    """`dataclasses.asdict` for what JSON is made of here (dataclasses, tuples, lists,
    scalars): the same JSON, a fifth of the time (asdict deep-copies every leaf, a
    tenth of a cold scan's main process). Tuples become lists, as JSON writes them."""
    kind = type(value)
    try:
        names = _FIELDS[kind]
    except KeyError:
        dataclass_ = is_dataclass(kind)
        names = _FIELDS[kind] = tuple(f.name for f in fields(kind)) if dataclass_ else None
    if names is None:
        if kind is tuple or kind is list:
            return [plain(item) for item in value]
        return value
    data = {name: getattr(value, name) for name in names}
    for name, field_value in data.items():  # most are strings or None: no call for them
        if type(field_value) not in _LEAVES:
            data[name] = plain(field_value)
    return data


_LEAVES = frozenset([str, int, float, bool, type(None)])


def encode_parsed(post: ParsedPost, body_json: str | None = None) -> str:
    """The version's JSON, non-ASCII characters as themselves. `body_json`:
    `json.dumps(post.body_html)`, when the caller made it already (a cold scan's worker
    puts it in the post's fingerprint too: `content.settle.first_fingerprint`).

    An ASCII body (nearly every one) is encoded apart, the default way (`spliced`):
    both ways write ASCII text alike (but DEL, which the default escapes), and the
    default (`ensure_ascii`) is 4x faster on a long body; this function was a tenth of
    a cold scan's worker time."""
    data = plain(post)
    data["date"] = post.date.isoformat() if post.date else None
    if post.excerpt is None:
        del data["excerpt"]
    else:  # what made it, compared on read (`_kept_excerpt`): another rule's is not used
        data["excerpt_stamp"] = EXCERPT_STAMP
    if not post.body_html.isascii() or "\x7f" in post.body_html:  # DEL: \u007f there
        return _VERSION_JSON(data)
    return spliced(data, post.body_html, body_json, _VERSION_JSON)


def sorted_json(**options: Any) -> Callable[[Any], str]:
    """`json.dumps(value, sort_keys=True, **options)` as a function of `value`, its
    encoder made once: json.dumps makes one anew on every call given options, a sixth
    of encoding a version's fields (twice a post in a cold scan's worker)."""
    return json.JSONEncoder(sort_keys=True, **options).encode


_VERSION_JSON = sorted_json(ensure_ascii=False)


def spliced(
    data: dict[str, Any], body: str, body_json: str | None, encode: Callable[[Any], str]
) -> str:
    """`encode(data)` (a `sorted_json`) with `body` as data's "body_html", where the
    body's JSON is `body_json` (`json.dumps(body)`, made here when None), put in the
    place of a placeholder: the rest is a few hundred bytes to encode, and one body's
    JSON can serve two documents (its version's and its fingerprint's).

    For an `encode` that writes the body as `json.dumps(body)` does (the caller's to say).
    The placeholder's `"body_html": 0` is the body's key when it is met once in the text
    (a `"` inside a string is escaped, so only a key can spell it, and the body's is
    always there); should another field hold a key of that name too, the text is made
    whole. `data` is changed."""
    data["body_html"] = 0
    text = encode(data)
    if text.count(_PLACEHOLDER) != 1:
        data["body_html"] = body
        return encode(data)
    if body_json is None:
        body_json = json.dumps(body)
    return text.replace(_PLACEHOLDER, '"body_html": ' + body_json)


_PLACEHOLDER = '"body_html": 0'


def decode_parsed(text: str) -> ParsedPost:
    data = json.loads(text)
    return ParsedPost(
        title=data["title"],
        date=datetime.fromisoformat(data["date"]) if data["date"] else None,
        date_source=DateSource(data["date_source"]) if data["date_source"] else None,
        body_html=data["body_html"],
        summary=data["summary"],
        attribution=Attribution(**data["attribution"]),
        tags=tuple(data["tags"]),
        id_hint=data["id_hint"],
        comment=data.get("comment", ""),  # none in versions kept before comments
        image=image(data.get("image")),
        republish=Republish(data["republish"]) if data.get("republish") else None,
        # none in versions kept before excerpts, or made by another rule (`core.excerpts`)
        excerpt=data.get("excerpt") if data.get("excerpt_stamp") == EXCERPT_STAMP else None,
    )


def image(data: dict | None) -> LeadImage | None:
    return LeadImage(**data) if data else None
