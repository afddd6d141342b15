"""Making text and HTML from untrusted files safe for XML feeds, pages and email."""

from __future__ import annotations

import codecs
import html
import re

import nh3

# XML 1.0 allows tab, LF, CR and everything from U+0020 except surrogates, FFFE and FFFF.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Bidi embeddings, overrides and isolates: U+202E can make "gpj.exe" read "exe.jpg" in a
# title, a name or a subject line; a one-line field has no use for them.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_BLOCK_END = re.compile(r"</(?:p|li|h[1-6]|blockquote|div|tr)>|<br\s*/?>", re.IGNORECASE)
_BULLET = re.compile(r"^[•·▪◦‣●]\s*")

_TAGS = frozenset(nh3.ALLOWED_TAGS) | {"figure", "figcaption"}
_ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "a": {"href", "title", "hreflang"},
    "img": {"src", "alt", "title", "width", "height"},
}

# Made once: `nh3.clean` builds its sanitizer anew from these sets on every call, which
# took half of its time on a post's body. The same options, so the same output.
_CLEANER = nh3.Cleaner(tags=_TAGS, attributes=_ATTRIBUTES)
_TEXT_CLEANER = nh3.Cleaner(tags=set())  # every tag goes, their text stays


# Byte-order marks that name an encoding outright, UTF-32's first (its little-endian mark
# begins with UTF-16's). Notepad's "Unicode" and Excel's "Unicode text" are UTF-16.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def bom_encoding(data: bytes) -> str | None:
    """The encoding a file's byte-order mark names (the codec drops the mark), or None."""
    return next((encoding for bom, encoding in _BOMS if data.startswith(bom)), None)


# the C0 controls XML cannot carry, as bytes: what a UTF-8 encoding shows them as
_C0_ILLEGAL = bytes(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))


def strip_illegal(text: str) -> tuple[str, int]:
    """Remove characters XML cannot carry; also says how many went."""
    if not has_illegal(text):  # nearly every text: a look 4x cheaper than the substitution
        return text, 0
    cleaned, count = _XML_ILLEGAL.subn("", text)
    return cleaned, count


def has_illegal(text: str) -> bool:
    """Whether `text` holds a character XML cannot carry.

    Asked of every file, body and title, so done in C a byte at a time: UTF-8 cannot
    carry a lone surrogate (the encoding fails), U+FFFE and U+FFFF are two fixed byte
    runs, and the C0 controls are single bytes that `bytes.translate` deletes (a
    shorter result: some were there). The regex, a character class over every
    character, took 4x as long."""
    try:
        data = text.encode()
    except UnicodeEncodeError:  # a lone surrogate
        return True
    if len(data.translate(None, _C0_ILLEGAL)) != len(data):
        return True
    return not data.isascii() and (b"\xef\xbf\xbe" in data or b"\xef\xbf\xbf" in data)


def one_line(text: str) -> str:
    """Titles, names and credit lines: XML-safe, whitespace (NBSP too) folded, no CR/LF,
    no bidi controls.

    str.split() folds what the regex `\\s+` did (both take str.isspace() for whitespace) and
    drops it at the ends, 4x faster than a regex substitution and a strip. Bidi controls
    are beyond ASCII: an ASCII text (most) skips the look for them."""
    return " ".join(_unfolded(text).split())


def first_words(text: str, count: int) -> tuple[list[str], bool]:
    """The first `count` words of `one_line(text)` (its parts between spaces), and whether
    more follow: what one_line would give, without splitting and joining all of a long
    text (a post's excerpt wants 80 words of the 300 in the HTML it reads)."""
    parts = _unfolded(text).split(None, count)
    return parts[:count], len(parts) > count


def _unfolded(text: str) -> str:
    """`text` rid of what one_line drops before it folds the whitespace."""
    text = strip_illegal(text)[0]
    return text if text.isascii() else _BIDI_CONTROLS.sub("", text)


def _line_start(text: str, chars: int) -> str:
    """`one_line(text)`, or a start of it longer than `chars`: as many words folded as
    that takes (a summary of a long text wants its first 300 characters)."""
    words, more = first_words(text, chars // 4)
    line = " ".join(words)
    return one_line(text) if more and len(line) <= chars else line


def clean_html(fragment: str) -> str:
    """Sanitize (scripts, handlers and styles go) and repair (tags close) an HTML fragment."""
    fragment = strip_illegal(fragment)[0]
    if (cleaned := _already_clean(fragment)) is not None:
        return cleaned
    return _CLEANER.clean(_shallow(fragment)).strip()


# Markdown's own markup, with no attributes: what markdown-it writes for prose, lists,
# quotes, headings and code (a post with no links, images or raw HTML: most of them)
_INLINE = frozenset(["em", "strong", "code", "s", "br"])
_BLOCKS = frozenset(
    ["p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "pre", "hr"]
)
_PLAIN_TAG = re.compile(r"<(/?)([a-z][a-z1-6]*)( /)?>")
_PLAIN_AMPERSAND = re.compile(r"&(?!(?:amp|lt|gt|quot|nbsp);)")
# what each element may hold (text aside) for html5ever to build the tree the tags say
# as they say it: no end tag implied, no element moved, nothing left open; and only
# what the cleaner keeps (a tag it drops goes to nh3)
_HOLDS = {
    # (the void br and hr hold nothing: never opened, never looked up)
    **{
        name: _INLINE
        for name in _INLINE - {"br"} | {"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre"}
    },
    **{name: _INLINE | _BLOCKS for name in ("blockquote", "li", "")},  # "": the fragment
    "ul": frozenset(["li"]),
    "ol": frozenset(["li"]),
}
_HOLDS = {name: held & _TAGS for name, held in _HOLDS.items()}


def _already_clean(fragment: str) -> str | None:
    """What `_CLEANER.clean(fragment).strip()` gives, when `fragment` is Markdown's
    plain markup: nh3's html5ever parse and write of it then only respells it (`&quot;`
    as `"`, a no-break space as `&nbsp;`, `<br />` as `<br>`), at a tenth of the cost
    (nh3 was a fifth of a cold scan's parse). Else None, and nh3 reads it.

    Plain markup is tags from `_HOLDS` with no attributes, lower case, each where
    `_HOLDS` lets it be, every one closed in order (a `<br />` and `<hr />` void), no
    `<pre>` followed by a newline (the parser drops it), every `<` and `>` a tag's,
    every `&` one of five references, no carriage return (made a newline) or byte-order
    mark first (dropped), fewer than _LOOKED_FROM tags (`_shallow` leaves it whole):
    then nothing is dropped, moved, decoded another way or closed.
    tests/test_scan_same.py holds it to nh3 over the corpora, fuzz and hostile markup."""
    if (opened := fragment.count("<")) >= _LOOKED_FROM:  # before a look at every tag
        return None
    tags = _PLAIN_TAG.findall(fragment)
    if opened != len(tags) or fragment.count(">") != len(tags):
        return None
    if "\r" in fragment or fragment.startswith("\ufeff"):
        return None
    if "&" in fragment and _PLAIN_AMPERSAND.search(fragment):
        return None
    if "<pre>\n" in fragment:
        return None
    open_ = [""]
    voids = False
    for closing, name, void in tags:
        if closing:
            if void or name != open_[-1]:
                return None
            open_.pop()
        elif name not in _HOLDS[open_[-1]]:
            return None
        elif name in ("br", "hr"):
            voids = True
        elif void:
            return None
        else:
            open_.append(name)
    if len(open_) > 1:
        return None
    # each respelling only where what it respells can be (a replace that finds nothing
    # still reads the whole text: the four were a third of this function's time)
    if "&" in fragment:
        fragment = fragment.replace("&quot;", '"')
    if not fragment.isascii():
        fragment = fragment.replace("\xa0", "&nbsp;")
    if voids:
        fragment = fragment.replace("<br />", "<br>").replace("<hr />", "<hr>")
    return fragment.strip()


_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)\b[^<>]*?(/?)>")
_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
_DEEPEST = 200  # open elements kept inside one another; no page needs a tenth of it
_LOOKED_FROM = 1000  # tags in a fragment before its depth is worth counting


def _shallow(fragment: str) -> str:
    """The fragment with tags nested past _DEEPEST levels taken out (their text kept).
    nh3's tree builder takes time in the square of the depth: 100,000 nested <div>s,
    1 MB of a feed, held a poll for a minute; 470,000 for more than ten."""
    if fragment.count("<") < _LOOKED_FROM:
        return fragment
    kept: list[str] = []
    depth = start = 0
    for tag in _TAG.finditer(fragment):
        closing, name, self_closing = tag.group(1), tag.group(2).lower(), tag.group(3)
        if name in _VOID or self_closing:
            continue
        depth += -1 if closing else 1
        if depth >= _DEEPEST if closing else depth > _DEEPEST:
            kept.append(fragment[start : tag.start()])
            start = tag.end()
    kept.append(fragment[start:])
    return "".join(kept)


def text_to_html(paragraphs: list[str]) -> str:
    """Plain-text paragraphs as HTML; runs of bullet lines become a list."""
    out: list[str] = []
    in_list = False
    for paragraph in paragraphs:
        bullet = _BULLET.match(paragraph)
        if bullet and not in_list:
            out.append("<ul>")
        elif not bullet and in_list:
            out.append("</ul>")
        in_list = bool(bullet)
        text = html.escape(paragraph[bullet.end() :] if bullet else paragraph, quote=False)
        out.append(f"<li>{text}</li>" if bullet else f"<p>{text}</p>")
    if in_list:
        out.append("</ul>")
    return "\n".join(out)


def summarize(text: str, limit: int = 300) -> str:
    """The first `limit` characters of plain text, cut at a word boundary."""
    text = _line_start(text, limit)
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:.") + "…"


def html_to_text(fragment: str) -> str:
    """Plain text of sanitized HTML, for summaries.

    The last fragment's text is kept and given again for the same fragment: a scan's
    worker asks for the text of each post's head twice, for its summary and for its
    excerpt (`summary_head`), a few µs of a post's ~200."""
    global _last_text
    last = _last_text  # one read: another thread may replace it meanwhile
    if fragment == last[0]:
        return last[1]
    blocks_ended = _BLOCK_END.sub(" ", fragment)
    text = _tags_stripped(blocks_ended)
    text = html.unescape(_TEXT_CLEANER.clean(blocks_ended) if text is None else text)
    _last_text = (fragment, text)
    return text


_last_text: tuple[str | None, str] = (None, "")


# The tags `clean_html` lets through, as its output writes them (lower case, attribute
# values in double quotes), and such a start tag of <pre> followed by a newline.
_ATTRS = r"""(?:[\t\n\f ]+[^\t\n\f "'<>/=]+(?:="[^"]*")?)*[\t\n\f ]*/?>"""
# any such tag, its name kept: one pass splits a fragment into text and tag names, and
# every name is then looked up in `_TAGS` (an alternation of the 76 names, each `<`
# trying them in turn, took up to half as long again). A name of `_TAGS` is a
# whole run of [a-z0-9] (what follows a name in `_ATTRS` cannot continue it), so this
# finds the kept tags where an alternation of their names would, and the same spans.
_ANY_TAG = re.compile("</?([a-z][a-z0-9]*)" + _ATTRS)
assert all(re.fullmatch("[a-z][a-z0-9]*", name) for name in _TAGS)
_PRE_NEWLINE = re.compile("<pre" + _ATTRS + "\n")
# an `&` that does not begin one of the references `clean_html`'s output writes (or,
# at the very end of a head cut short, the start of one)
_ODD_AMPERSAND = re.compile(
    r"&(?!(?:amp|lt|gt|nbsp|quot);|(?:a|am|amp|l|lt|g|gt|n|nb|nbs|nbsp|q|qu|quo|quot)?\Z)"
)
# one scan for both (text full of `<`: the regex's jump to each `<` took a fifth of the
# time of two substring searches)
_TABLE_OR_PRE = re.compile("<(?:table|pre)")
# a tag a head was cut inside, at its very end: html5ever drops it whole (once what
# comes before it has been read to its end, as the checks below make sure)
_CUT_TAG = re.compile(r"</?[a-z][^<>]*\Z")


def _tags_stripped(fragment: str) -> str | None:
    """What nh3 with no tags allowed makes of `fragment` (before unescaping), when that
    is its tags taken out: 10x cheaper than a second html5ever parse. Else None.

    It is, for text as `clean_html` writes it (or a head of it), because html5ever
    then hands every character on in order: each `<` begins a tag it allows (a `<`
    in text is written `&lt;`), none of them a raw-text element; each `&` begins one
    of five references, decoded by html.unescape as html5ever decodes them. Where a
    parser would move or drop text, the answer is None and nh3 reads it: a table
    (text in one is moved in front of it), a newline just after <pre> (dropped; and
    nh3 writes `<pre>\n\nx` as `<pre>\nx`), a carriage return (made a newline),
    characters XML cannot carry (NUL is dropped, a lone surrogate fails in nh3), a
    byte-order mark first (dropped as the stream's), a `<` of anything else (a comment,
    an upper-case or unknown tag), any other `&`. A head cut inside a tag or a
    reference (as `core.excerpts` cuts one) ends as html5ever ends it: the tag dropped,
    the start of a reference read as html.unescape reads it. tests/test_scan_same.py
    holds the two ways to one answer over the corpora, fuzz and hostile input."""
    if cut := _CUT_TAG.search(fragment):  # it is read the same without it
        fragment = fragment[: cut.start()]
    if "\r" in fragment or fragment.startswith("\ufeff") or has_illegal(fragment):
        return None
    if "&" in fragment and _ODD_AMPERSAND.search(fragment):
        return None
    if _TABLE_OR_PRE.search(fragment) and ("<table" in fragment or _PRE_NEWLINE.search(fragment)):
        return None
    parts = _ANY_TAG.split(fragment)  # text, a tag's name, text, …, text
    if not _TAGS.issuperset(parts[1::2]):  # a tag clean_html does not let through
        return None
    text = "".join(parts[::2])
    return None if "<" in text else text


def html_summary(fragment: str, limit: int = 300) -> str:
    """`summarize(html_to_text(fragment), limit)`, reading only the head of a long
    fragment (a post's summary is made of its first 300 characters; turning a 5 KB body
    to text and folding all of it was a tenth of a cold scan's parse time).

    The same result, not an approximation: the head is cut just before a tag, so the
    text it gives is the start of the whole's text (the HTML parser streams: what comes
    later does not move what came before, except text in a table, which is moved out in
    front of it; a head holding a table is not used). Only when the head's folded text
    is longer than `limit` does it decide the summary; else the whole is read."""
    if (head := summary_head(fragment, limit)) is not None:
        text = _line_start(html_to_text(head), limit)
        if len(text) > limit:
            return text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:.") + "…"
    return summarize(html_to_text(fragment), limit)


def summary_head(fragment: str, limit: int = 300) -> str | None:
    """The head of `fragment` whose text `html_summary` reads first, or None: the
    fragment up to its first tag after `4 * limit` characters, when there is one and no
    table is in it. Its text is the start of the whole's text (see `html_summary`)."""
    cut = fragment.find("<", 4 * limit)
    if cut > 0 and "<table" not in (head := fragment[:cut]).lower():
        return head
    return None
