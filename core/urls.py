"""Absolute URLs: a post's lead image, and the links inside HTML that is read out of
its page's context (a feed entry in a reader, a digest in an inbox).

Shared by intake (a saved page's links mean the source's site, resolved against the
original's URL) and by feeds and email (the curator's own "/about/" means our site,
resolved against the post's page), so both make URLs absolute the same way: with
lxml, never a regex over the markup, and only when there is something to resolve,
so HTML without a relative URL comes back as the very same string (same bytes).
"""

from __future__ import annotations

import html
import mimetypes
import re
from urllib.parse import quote, urljoin, urlsplit

from postroom.core.model import LeadImage
from postroom.core.sanitize import one_line, strip_illegal, summarize

#: the longest image URL kept: longer ones are data smuggled into a URL, or broken
MAX_URL_CHARS = 2000
#: an image's alt text is a sentence or two, never the article
MAX_ALT_CHARS = 300
#: the largest length (bytes) believed of an image: a feed's bigger number is a typo
MAX_IMAGE_BYTES = 2**32
# what RFC 3986 lets stand in a URL (reserved, unreserved and "%"): the rest is encoded
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_WEB_SCHEMES = ("http", "https")
_URL_ATTRIBUTES = ("href", "src", "cite", "poster")
_SCHEME = re.compile(r"\s*[a-zA-Z][a-zA-Z0-9+.\-]*:")
# an attribute's value without a scheme, and a URL attribute's name just before its "=":
# found from the "=" (a literal a regex finds fast), then the name is looked at; one regex
# for both took 0.7 ms over a 15 KB body with nothing relative in it, this takes 0.03
_SCHEMELESS_VALUE = re.compile(r"""=\s*["']?+(?![a-zA-Z][a-zA-Z0-9+.\-]*:)""")
_URL_NAME = re.compile(r"(?<![\w-])(?:href|src|cite|poster)\s*$", re.IGNORECASE)
_NAME_CHARS = 16


def web_url(value: object, base: str = "") -> str | None:
    """`value` as an absolute http(s) URL with a host, resolved against `base` when it is
    relative; one line, with what a URL may not hold percent-encoded (a space, a '"', a
    non-ASCII letter; an IDNA host) so it is as safe in JSON as in an attribute, and an
    encoded URL unchanged (a "%20" stays one); at most MAX_URL_CHARS; None for anything
    else (javascript:, data:, a relative URL with no base, a URL too long to be an
    address, one no parser can split)."""
    if not isinstance(value, str):
        return None
    ref = one_line(value)
    if not ref:
        return None
    try:
        # a URL with a scheme is whole as it is: "https://" joined to a base is the base
        url = _encoded(urljoin(base, ref) if base and not _SCHEME.match(ref) else ref)
        parts = urlsplit(url)
        host = parts.hostname
    except (ValueError, UnicodeError):  # an unclosed IPv6 bracket, a host IDNA refuses
        return None
    if parts.scheme.lower() not in _WEB_SCHEMES or not host or len(url) > MAX_URL_CHARS:
        return None
    return url


def _encoded(url: str) -> str:
    """`url` with the characters RFC 3986 does not allow percent-encoded (as UTF-8; a "%"
    not starting an escape as "%25") and a non-ASCII host in IDNA. What is encoded already
    is left as it is, so encoding twice changes nothing. ValueError (UnicodeError) when
    it cannot be split or its host is no IDNA name."""
    netloc = urlsplit(url).netloc
    if not netloc.isascii():  # "bücher.de": its ASCII name, not "b%C3%BCcher.de"
        login, at, hostport = netloc.rpartition("@")
        host, colon, port = hostport.partition(":")
        ascii_host = host.encode("idna").decode("ascii")
        url = url.replace(netloc, login + at + ascii_host + colon + port, 1)
    return quote(_LONE_PERCENT.sub("%25", url), safe=_URL_SAFE)


def image_type(url: str) -> str:
    """The image's media type as its file extension says ("image/jpeg"), or "" when the
    extension is not an image's (or there is none: "/photo?id=4" says nothing)."""
    guessed, _ = mimetypes.guess_type(urlsplit(url).path, strict=False)
    return guessed if guessed and guessed.startswith("image/") else ""


def lead_image(
    url: object, alt: str = "", base: str = "", media_type: str = "", length: object = None
) -> LeadImage | None:
    """A LeadImage, or None when `url` is not (or does not resolve to) an http(s) URL.
    `media_type` is kept only when it is an image's, else guessed from the extension;
    `length` only when it is a positive whole number of bytes."""
    found = web_url(url, base)
    if found is None:
        return None
    kind = one_line(str(media_type or "")).lower().split(";")[0].strip()
    return LeadImage(
        url=found,
        alt=summarize(alt, MAX_ALT_CHARS) if alt else "",
        media_type=kind if kind.startswith("image/") else image_type(found),
        length=image_length(length),
    )


def image_length(value: object) -> int | None:
    """A size in bytes as a feed or a curator gives it (5120, "5120"), or None unless it
    is ASCII digits (never "²", which Python's isdigit() passes and int() refuses) making a
    whole number from 1 to MAX_IMAGE_BYTES: "0", "-1" or "unknown" says nothing."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    digits = str(value).strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 12:
        return None
    size = int(digits)
    return size if 0 < size <= MAX_IMAGE_BYTES else None


def has_relative_urls(fragment: str) -> bool:
    """Whether `fragment` may hold a relative URL (or a srcset) to resolve."""
    if "srcset" in fragment.lower():
        return True
    return any(
        _URL_NAME.search(fragment, max(0, m.start() - _NAME_CHARS), m.start())
        for m in _SCHEMELESS_VALUE.finditer(fragment)
    )


def absolute_html(fragment: str, base: str) -> str:
    """`fragment` with every relative href, src, cite, poster and srcset URL made absolute
    against `base` (a URL that cannot be joined is dropped). Unchanged, the same string,
    when it has none or `base` is not an http(s) URL. The fragment is expected to be
    sanitized already; lxml writes it back escaped, so it stays so."""
    if not fragment or not has_relative_urls(fragment) or web_url(base) is None:
        return fragment
    # lxml here, not above: this module comes with the readers, which a cold scan's parent
    # imports before its workers can start, and it needs lxml only now (0.03 s)
    from lxml import etree
    from lxml import html as lxml_html

    try:
        root = lxml_html.fragment_fromstring(strip_illegal(fragment)[0], create_parent="div")
    except (etree.LxmlError, ValueError):  # left as it is: it was sanitized already
        return fragment
    for element in root.iter():
        for name in _URL_ATTRIBUTES:
            ref = element.get(name)
            if ref is not None and not _SCHEME.match(ref):
                try:
                    element.set(name, urljoin(base, ref.strip()))
                except ValueError:  # an unclosed IPv6 bracket
                    del element.attrib[name]
        if (srcset := element.get("srcset")) is not None:
            element.set("srcset", _absolute_srcset(srcset, base))
    return html.escape(root.text or "", quote=False) + "".join(
        etree.tostring(child, encoding="unicode", method="html") for child in root
    )


def _absolute_srcset(srcset: str, base: str) -> str:
    """'a.jpg 1x, /b.jpg 2x' with each candidate's URL absolute; a candidate that cannot
    be joined is left out."""
    kept = []
    for candidate in srcset.split(","):
        url, _, descriptor = candidate.strip().partition(" ")
        if not url:
            continue
        try:
            url = url if _SCHEME.match(url) else urljoin(base, url)
        except ValueError:
            continue
        kept.append(f"{url} {descriptor.strip()}".strip())
    return ", ".join(kept)
