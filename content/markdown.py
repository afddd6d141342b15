"""Markdown posts with YAML front matter: the curator's own, clean format."""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from datetime import tzinfo
from typing import Any

import frontmatter
import yaml
from markdown_it_pyrs import MarkdownIt as RustMarkdownIt
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
    if (simple := _simple_load(fm)) is not _SLOW:
        return simple
    if sum(fm.count(mark) for mark in _NESTS) <= _FEW_NESTS:
        return _composed_load(fm)
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


# A line of the front matter most posts have: a word for a key, then a double-quoted
# string with no escapes, a plain scalar or a flow list of plain scalars; a plain one
# starts with a letter or digit and holds no `#` or `:` (no comment, no mapping, no
# sexagesimal number), nor, in a list, what ends a flow item. Whatever is not one
# (any other line, a character YAML refuses, a blank line, a comment) goes to libyaml.
_SIMPLE_LINE = re.compile(
    r'([a-z_]+): +(?:"([^"\\\n]*)"|([A-Za-z0-9][^#:\n]*)|\[([A-Za-z0-9][^#:\n\[\]{},"\']*'
    r'(?:, *[A-Za-z0-9][^#:\n\[\]{},"\']*)*)\]) *\n'
)
# what YAML may not hold, or reads as a line break or a mark (tabs, NEL, U+2028, a BOM)
_UNPRINTABLE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]"
)
_RESOLVER = yaml.SafeLoader("")  # its resolver and constructors: those libyaml's loader uses


def _simple_load(fm: str) -> Any:
    """What `_constructed` builds of `fm`, read line by line with one regex (libyaml's
    composer spent 30 µs on a post's five lines, building a node and two marks for each
    value and asking the resolver in Python), or `_SLOW`.

    Only front matter of `_SIMPLE_LINE`s, a newline first (as the file's `---` leaves
    it): a mapping of strings to scalars and lists. A quoted value is its text; a plain
    one is resolved and constructed by PyYAML's own resolver and constructors (a date,
    a number, true, null), as libyaml's loader does with the same text; a key is one of
    KEYS (a word YAML reads as a string: an unknown key goes to libyaml).
    tests/test_scan_same.py holds it to libyaml over random and hostile front matter."""
    if not fm.startswith("\n") or _UNPRINTABLE.search(fm):
        return _SLOW
    lines = []
    at = 1
    while at < len(fm):
        line = _SIMPLE_LINE.match(fm, at)
        if line is None:
            return _SLOW
        if line.group(1) not in KEYS:  # ("null", "yes" or "on": a key of another type)
            return _SLOW
        lines.append(line.groups())
        at = line.end()
    # every line simple before any value is built: a value's error (a 13th month) is
    # then the one libyaml would give, not one found before a later line it refuses
    loaded: dict[str, Any] = {}
    for key, quoted, plain, items in lines:
        if quoted is not None:
            loaded[key] = quoted
        elif plain is not None:
            loaded[key] = _scalar(plain.rstrip(" "))
        else:
            loaded[key] = [_scalar(item.strip(" ")) for item in items.split(",")]
    return loaded if loaded else _SLOW


@functools.lru_cache(maxsize=4096)
def _scalar(value: str) -> Any:
    """A plain scalar as YAML's resolver types it and its constructor builds it.

    Kept for the same text: a site's posts repeat their sources, authors, tags and
    dates, and the resolver and constructors, in Python, were a third of reading a
    front matter. What they build of a plain scalar is a value no one changes (a
    string, a number, a boolean, None, a date: `_SIMPLE_LINE` lets no `<<` or `=` in)."""
    tag = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))
    if tag == _STR:
        return value
    return _RESOLVER.yaml_constructors[tag](_RESOLVER, yaml.ScalarNode(tag, value))


# Every mapping or list opens with one of these (a key's `:`, `-`, `?`, `[`, `{`): a text
# with few of them cannot nest deep, and libyaml's composer may be let at it whole.
_NESTS = ":-?[{"
_FEW_NESTS = 256  # far from what could exhaust a C stack (libyaml's composer recurses)


def _composed_load(fm: str) -> Any:
    """`_fast_load` in one libyaml parse instead of two (the events, then the value):
    the node tree is composed in C, checked for the same limits, then constructed.
    An alias shows in the tree as a node met twice (the composer shares it); a node
    under `_MAX_DEPTH` collections is one the event check found too deep."""
    loader = yaml.CSafeLoader(fm)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        plain = _plain_tree(node)
        if plain is None:
            return _SLOW
        return _constructed(loader, node) if plain else loader.construct_document(node)
    except Exception:  # any trouble: the Python loader says what it is
        return _SLOW
    finally:
        loader.dispose()


def _plain_tree(root: yaml.Node) -> bool | None:
    """None if a node of the tree is met twice or lies under `_MAX_DEPTH` collections;
    else whether `_constructed` may build it: its lists and mappings have their plain
    tags, and every key is a scalar, none a merge (`<<`) or a value (`=`) key."""
    seen: set[int] = set()
    todo = [(root, 0)]
    plain = True
    while todo:
        node, above = todo.pop()
        if id(node) in seen or above >= _MAX_DEPTH:
            return None
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            plain = plain and node.tag == _MAP
            for key, value in node.value:
                plain = plain and isinstance(key, yaml.ScalarNode) and key.tag not in _ODD_KEYS
                todo += [(key, above + 1), (value, above + 1)]
        elif isinstance(node, yaml.SequenceNode):
            plain = plain and node.tag == _SEQ
            todo += [(item, above + 1) for item in node.value]
    return plain


_STR, _SEQ, _MAP = (f"tag:yaml.org,2002:{kind}" for kind in ("str", "seq", "map"))
_ODD_KEYS = frozenset({"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"})


def _constructed(loader: yaml.CSafeLoader, node: yaml.Node) -> Any:
    """What `loader.construct_document(node)` gives for a tree `_plain_tree` passed, built
    without the constructor's generic machinery (its per-node dispatch, generators and
    bookkeeping were two thirds of reading a post's front matter): a string is its
    node's text, a list and a mapping are built in order (a repeated key's last value
    wins, in its first place, as the constructor's dict does); every other scalar (a
    date, a number, true, null) is the constructor's own."""
    if isinstance(node, yaml.ScalarNode):
        return node.value if node.tag == _STR else loader.construct_object(node)
    if isinstance(node, yaml.SequenceNode):
        return [_constructed(loader, item) for item in node.value]
    return {_constructed(loader, key): _constructed(loader, value) for key, value in node.value}


# a media type of the image top-level type (RFC 6838's name characters), no parameters
_IMAGE_TYPE = re.compile(r"image/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")


class Markdown:
    """CommonMark with tables and strikethrough, raw HTML allowed (clean_html sanitizes
    it after), no typographer: markdown-it-py's output, rendered by its Rust port.

    markdown-it-pyrs (markdown-it.rs) renders 5-15x faster than markdown-it-py, which
    was two thirds of a cold scan's CPU. It follows an older CommonMark (0.30, markdown-it
    13) than markdown-it-py 4 (0.31.2, markdown-it 14) and has quirks of its own, so
    where the two were found to part (the spec's examples, markdown-it's fixtures,
    fuzzing: tests/test_markdown_rs.py) the input goes to markdown-it-py, found by a
    cheap look at the text (`_python_only`):
    - `<!`: HTML comments and declarations (0.31 takes `<!-->`, `--` inside a comment,
      lowercase `<!doctype>`), wherever the two rules read a `<!` differently;
    - `*`, `_` or `~` beside a character the two class differently for emphasis (0.31
      counts symbols such as `£` as punctuation; some spaces are spaces to one only);
    - a space beyond ASCII (NBSP, U+3000) at the start or end of a line, a cell or a
      heading (markdown-it-py strips it with str.strip(), the port keeps it);
    - a `%` in an autolink (markdown-it-py shows it decoded, `<http://x/caf%C3%A9>` as
      café); an entity, an escape or raw HTML in an image's text (the port drops them);
    - a quote's line followed by a list item or a table row (lazy continuation to the
      port), a one-column table with no pipe in its delimiter row;
    - link reference definitions with a line-ending backslash, an entity or an odd space;
    - a backtick left unpaired where a `[` is (it panics the port inside a link's text);
    - nesting a line deep in lists or quotes (markdown-it-py stops at 20 levels, the port
      has no limit), and more than 2,000 emphasis marks or 200 definitions (where the
      port's time grows with the square of the count);
    - a lone surrogate (the port takes UTF-8 only) and any panic of the port.
    Mended in place instead: an empty blockquote (the port writes a newline inside it)
    and a last line without a newline that ends raw HTML (`_mend_last_line`)."""

    def __init__(self) -> None:
        self._rust = RustMarkdownIt("commonmark").enable_many(["table", "strikethrough"])
        self._python: Any = None  # markdown-it-py, made the first time an input needs it

    def python(self) -> Any:
        """markdown-it-py with the same options, imported on first need (it takes a
        tenth of a second to import, and few inputs need it)."""
        if self._python is None:
            from markdown_it import MarkdownIt

            self._python = MarkdownIt("commonmark", {"typographer": False}).enable(
                ["table", "strikethrough"]
            )
        return self._python

    def render(self, text: str) -> str:
        """The HTML of `text`: markdown-it-py's, the same once through clean_html."""
        text = _normal(text)
        if _python_only(text):
            return self.python().render(text)
        try:
            html = self._rust.render(text)
        except UnicodeEncodeError:  # a lone surrogate: UTF-8 cannot carry it
            return self.python().render(text)
        except BaseException as exc:  # a Rust panic is a BaseException (pyo3's)
            if type(exc).__name__ != "PanicException":
                raise
            return self.python().render(text)
        if _EMPTY_QUOTE in html:
            if "blockquote" in text.lower():  # raw HTML may have written it
                return self.python().render(text)
            html = html.replace(_EMPTY_QUOTE, "<blockquote></blockquote>")
        if not text.endswith("\n") and html.endswith("\n"):
            return self._mend_last_line(text, html)
        return html

    def _mend_last_line(self, text: str, html: str) -> str:
        """The port's HTML of a text whose last line has no newline (a body from
        front_matter never has one) as markdown-it-py writes it: where that line ends a
        raw HTML block, markdown-it-py passes it on without a newline, the port with
        one, and clean_html then moves the newline inside an element left open. Anything
        else (a list's last item among them: the port reads raw HTML and quotes inside
        list items unlike markdown-it-py, which a newline at the end does not show) goes
        to markdown-it-py."""
        end = len(html)  # what lists and quotes hold ends where their closing tags begin
        while closer := next((c for c in _CLOSERS if html.endswith(c, 0, end)), None):
            end -= len(closer)
        inner = html[:end]
        if not inner or inner.endswith(_BLOCK_ENDS):  # (every post ending in a paragraph)
            if inner.endswith("\n</code></pre>\n") and _FENCE.search(text):
                return self.python().render(text)  # if the last line is a fence's own
            return html
        last = _CONTAINER_MARKS.sub("", text[text.rfind("\n") + 1 :], count=1)
        if last.strip() and inner.endswith(last + "\n"):
            return inner[:-1] + html[len(inner) :]
        return self.python().render(text)

    def heading(self, text: str) -> str | None:
        """The source text of the first heading (markdown-it-py's `inline.content` of
        the first `heading_open`, but for whitespace: a title goes through one_line),
        or None if there is none.

        The port's syntax tree gives the heading's source span (in UTF-8 bytes), not
        its inline text; that is read off the span by markdown-it's own rules: an ATX
        heading's line without its `#` markers, a setext heading's lines without the
        underline. A setext heading of several lines inside a blockquote (its `>`
        markers lie between the lines) goes to markdown-it-py, as do the inputs
        `render` sends there."""
        text = _normal(text)
        if _python_only(text):
            return self._python_heading(text)
        try:
            found = _first_heading(self._rust.tree(text), False)
        except UnicodeEncodeError:
            return self._python_heading(text)
        except BaseException as exc:
            if type(exc).__name__ != "PanicException":
                raise
            return self._python_heading(text)
        if found is None:
            return None
        heading, quoted = found
        start, end = heading.srcmap
        span = text.encode()[start:end].decode()
        if heading.name == "heading":
            return _atx_content(span)
        lines = span.split("\n")[:-1]  # the underline is the last
        if quoted and len(lines) > 1:
            return self._python_heading(text)
        return "\n".join(lines).strip()

    def _python_heading(self, text: str) -> str | None:
        tokens = self.python().parse(text)
        heading = next((i for i, t in enumerate(tokens) if t.type == "heading_open"), None)
        return None if heading is None else tokens[heading + 1].content


def _normal(text: str) -> str:
    """`text` with the two changes markdown-it-py makes before it reads (CR and CRLF to
    LF, NUL to U+FFFD), so that both readers and the checks below see the same text."""
    if "\r" in text:
        text = _NEWLINES.sub("\n", text)
    return text.replace("\0", "\ufffd") if "\0" in text else text


def _atx_content(line: str) -> str:
    """The inline text of an ATX heading's line, as markdown-it's heading rule cuts it:
    the opening `#`s go, and a closing run of `#`s if a space or tab comes before it."""
    rest = line.lstrip(" \t").lstrip("#").rstrip(" \t")
    unclosed = rest.rstrip("#")
    if unclosed and unclosed[-1] in " \t":
        rest = unclosed
    return rest.strip()


def _first_heading(node: Any, quoted: bool) -> tuple[Any, bool] | None:
    """The first heading in document order, and whether it is inside a blockquote."""
    for child in node.children:
        if child.name in ("heading", "lheading"):
            return child, quoted
        if child.children:
            found = _first_heading(child, quoted or child.name == "blockquote")
            if found is not None:
                return found
    return None


_EMPTY_QUOTE = "<blockquote>\n</blockquote>"
_CLOSERS = ("</li>\n", "</ul>\n", "</ol>\n", "</blockquote>\n")
_BLOCK_ENDS = ("</p>\n", "</h1>\n", "</h2>\n", "</h3>\n", "</h4>\n", "</h5>\n", "</h6>\n")
_BLOCK_ENDS += ("</table>\n", "</code></pre>\n", "<hr />\n")
_CONTAINER_MARKS = re.compile(r"^(?:[ \t]*(?:>|[*+-](?=[ \t])|\d{1,9}[.)](?=[ \t])))*[ \t]*")
_FENCE = re.compile(r"```|~~~")
_NEWLINES = re.compile(r"\r\n?")
# how markdown-it-py (CommonMark 0.31) and the Rust port (0.30) read an inline `<!`
_BANG_NEW = re.compile(
    r"<!---?>|<!--(?:[^-]|-[^-]|--[^>])*-->|<![A-Za-z][^>]*>|<!\[CDATA\[[\s\S]*?\]\]>"
)
_BANG_OLD = re.compile(
    r"<!---->|<!--(?:-?[^>-])(?:-?[^-])*-->|<![A-Z]+\s+[^>]*>|<!\[CDATA\[[\s\S]*?\]\]>"
)
# what Python's str.strip() takes as whitespace and the port does not: markdown-it-py
# strips it off a paragraph's, a heading's or a table cell's ends, the port keeps it
_ODD_SPACE = "[\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
_ODD_SPACE_ANYWHERE = re.compile(_ODD_SPACE)
# a line with a pipe over a delimiter row without one: a one-column table to markdown-it
# 14, a setext heading to the port
_PIPE_OVER_DASHES = re.compile(r"^[^\n|]*+\|[^\n]*+\n[ \t>]*+:?-++:?[ \t]*+$", re.MULTILINE)
# a delimiter row with a colon and no pipe, or a pipe under a line without one: a
# one-column table to the port only
_LONE_ALIGNMENT = re.compile(
    r"^[ \t>]*+(?::-++:?|-++:)[ \t]*+$|^[^\n|]*+\n[ \t>]*+(?=[: \t-]*+\|)[|: \t-]*?-[|: \t-]*+$",
    re.MULTILINE,
)
# a quote's line, then (after lines its paragraph takes in lazily) one that ends the
# quote for markdown-it-py (a list item, a table row) but continues it for the port
_AFTER_QUOTE = re.compile(
    r"^[ \t]*+>[^\n]*+\n(?:[ \t]*+[^\s>][^\n]*+\n)*?"  # and its lazy lines
    r"[ \t]*+(?:(?:[*+-]|\d{1,9}[.)])(?:[ \t]|$)|[^\n|]*+\|)",
    re.MULTILINE,
)
# an image's text holding an entity, an escape or raw HTML: markdown-it-py keeps them
# in the alt text, the port drops them
_IMAGE_TEXT = re.compile(r"!\[(?>[^\][&\\<]++|\[[^\][]*+\]|&(?!#?[A-Za-z0-9]{1,32};))*+[&\\<]")
# the port has no nesting limit; markdown-it-py stops at 20 levels (the "commonmark"
# preset's maxNesting) and leaves out what lies deeper. A line opening many containers,
# or a list item indented three tab stops, is taken for one that may go that deep.
_DEEP = re.compile(
    r"^[ \t]*+(?:(?:>|(?:[*+-]|\d{1,9}[.)])(?=[ \t]))[ \t]*+){6}"
    r"|^(?: {4}| {0,3}\t){3,}+[ \t]*+(?:[*+-]|\d{1,9}[.)])(?:[ \t]|$)",
    re.MULTILINE,
)
# an empty list item (a marker alone on its line): after a quote in an item the port
# takes it for the quote's lazy text ("- > x\n  -\n  - b")
_EMPTY_ITEM = re.compile(r"^[ \t]*+(?:>[ \t]*+)*+(?:[*+-]|\d{1,9}[.)])[ \t]*+$", re.MULTILINE)
# an indented line that starts raw HTML or a backtick fence (a list item's continuation,
# in a quote or not): the port keeps the newline before such a block when it interrupts
# a tight item's text, markdown-it-py drops it ("- a\n  <div>x</div>", "- a\n  ```")
_INDENTED_BLOCK = re.compile(r"^(?:[ \t]*+>)*+[ \t]++(?:<[A-Za-z/?!]|```)", re.MULTILINE)
# a container's line starting a raw HTML block that only its closing tag ends: inside a
# list item the port ends it at a blank line ("2) <pre>\n\n    - x")
_CONTAINED_RAW = re.compile(
    r"^[ \t]*+(?:(?:>|[*+-]|\d{1,9}[.)])[ \t]*+)++<(?:pre|script|style|textarea)\b",
    re.MULTILINE | re.IGNORECASE,
)
# where the port takes time in the square of the count (a 5 KB post has a few dozen):
# 8,000 nested emphasis pairs took it 2.7 s, 8,000 link definitions 6.2 s
# the four above in one scan, from each line's start
_SHAPES = [
    alternative.removeprefix("^")
    for shape in (_DEEP, _PIPE_OVER_DASHES, _LONE_ALIGNMENT, _AFTER_QUOTE, _EMPTY_ITEM)
    for alternative in shape.pattern.split("|^")
]
_LINE_SHAPES = re.compile("\n(?:" + "|".join(_SHAPES) + ")", re.MULTILINE)
# the same without the two shapes that cannot match without a `|` in the text (each
# reads every line to its end: four fifths of the scan's time), for a text without one
_NEED_A_PIPE = (_PIPE_OVER_DASHES.pattern.removeprefix("^"), _LONE_ALIGNMENT.pattern.split("|^")[1])
assert all(shape in _SHAPES for shape in _NEED_A_PIPE)
_LINE_SHAPES_NO_PIPE = re.compile(
    "\n(?:" + "|".join(shape for shape in _SHAPES if shape not in _NEED_A_PIPE) + ")",
    re.MULTILINE,
)
_MOST_DEFINITIONS = 200
_MOST_DELIMITERS = 2000
_BACKTICKS = re.compile("`+")
_BANGS_LOOKED_AT = 64  # each look at a `<!` may read to the end of the text
_AUTOLINK_PERCENT = re.compile(r"<[^<>\s%]*+%[^<>\s]*+>")


def _python_only(text: str) -> bool:
    """Whether `text` holds something the Rust port reads unlike markdown-it-py (see
    `Markdown`), or that takes it time in the square of its length. Each look is a
    substring test or one regex scan in C, so a post that needs none (most) pays little.

    A look for two or more characters goes first to one of them alone (`"]" in text and
    "]:" in text`): a one-character test is a memchr, ten times faster than the search
    for the pair, and most posts hold no `]`, `~`, `<` or backtick at all (the looks were
    half of a parse worker's Markdown time, more than the Rust render). Counts likewise."""
    delimiters = sum(text.count(mark) for mark in "*_~" if mark in text)
    definitions = text.count("]:") if "]" in text else 0
    if definitions > _MOST_DEFINITIONS or delimiters > _MOST_DELIMITERS:
        return True
    shapes = _LINE_SHAPES if "|" in text else _LINE_SHAPES_NO_PIPE
    if shapes.search("\n" + text):  # a newline first: a literal the scan jumps to
        return True
    if ("<" in text or ("`" in text and "```" in text)) and _INDENTED_BLOCK.search(text):
        return True
    if "<" in text and _CONTAINED_RAW.search(text):
        return True
    if "~" in text and "~~~" in text:  # a run of three or more: strikethrough parts there
        return True
    if "`" in text and "[" in text and _unpaired_backticks(text):
        return True  # in a link's text it panics the port (caught, but it writes to stderr)
    if "<" in text and "<!" in text:
        if re.search("<![a-z]", text) or text.count("<!") > _BANGS_LOOKED_AT:
            return True  # 0.31's lowercase declarations (blocks too); a flood of `<!`
        at = text.find("<!")
        while at >= 0:
            new, old = _BANG_NEW.match(text, at), _BANG_OLD.match(text, at)
            if (new and new.end()) != (old and old.end()):
                return True
            at = text.find("<!", at + 2)
    if "%" in text and "<" in text and _AUTOLINK_PERCENT.search(text):
        return True
    if definitions and ("\\\n" in text or "&" in text or _ODD_SPACE_ANYWHERE.search(text)):
        return True  # markdown-it-py strips a decoded NBSP off the URL, folds labels its way
    if not text.isascii() and any(
        _at_an_edge(text, found.start()) for found in _ODD_SPACE_ANYWHERE.finditer(text)
    ):
        return True
    if "[" in text and "![" in text and _IMAGE_TEXT.search(text):
        return True
    return not text.isascii() and _delimiters_differ(text)


def _delimiters_differ(text: str) -> bool:
    """Whether a run of `*`, `_` or `~` beside a character beyond ASCII can open or
    close emphasis for one reader and not the other (CommonMark's flanking rules, with
    each reader's idea of punctuation and whitespace). A loop over the runs: there are
    at most _MOST_DELIMITERS, and a regex looking at every character was slower."""
    for mark in "*_~":
        start = text.find(mark)
        while start >= 0:
            end = start + 1
            while end < len(text) and text[end] == mark:
                end += 1
            before = text[start - 1] if start else "\n"
            after = text[end] if end < len(text) else "\n"
            if (before > "\x7f" or after > "\x7f") and _flanks_differ(mark, before, after):
                return True
            start = text.find(mark, end)
    return False


def _unpaired_backticks(text: str) -> bool:
    """Whether some length of backtick run comes an odd number of times: then a run is
    left without its closing one (an escaped backtick can hide one: the panic that
    follows is caught all the same)."""
    counts: dict[int, int] = {}
    for run in _BACKTICKS.finditer(text):
        length = run.end() - run.start()
        counts[length] = counts.get(length, 0) + 1
    return any(count % 2 for count in counts.values())


def _at_an_edge(text: str, at: int) -> bool:
    """Whether the odd space at `at` ends a line, a cell or a heading's text, or begins
    one (after a list, quote or heading marker): where markdown-it-py strips it."""
    before = at
    while before > 0 and text[before - 1] in " \t":
        before -= 1
    if before == 0 or text[before - 1] in "\n#>|*+.)-":
        return True
    after = at + 1
    while after < len(text) and text[after] in " \t":
        after += 1
    return after == len(text) or text[after] in "\n|#"


def _flanks_differ(mark: str, before: str, after: str) -> bool:
    """Whether a run of `mark` between `before` and `after` can open or close for one
    reader and not the other."""
    if before in _UNSURE or after in _UNSURE:
        return True
    return _flanking(mark, before, after, _kind_new) != _flanking(mark, before, after, _kind_old)


def _flanking(mark: str, before: str, after: str, kind: Any) -> tuple[bool, bool]:
    """(can open, can close) of a delimiter run between `before` and `after`."""
    ahead, behind = kind(after), kind(before)
    left = ahead != " " and (ahead != "." or behind in " .")
    right = behind != " " and (behind != "." or ahead in " .")
    if mark == "_":
        return left and (not right or behind == "."), right and (not left or ahead == ".")
    return left, right


def _kind_new(char: str) -> str:
    """markdown-it-py's: " " whitespace, "." punctuation (symbols too), "a" the rest."""
    if char in _MD_SPACE:
        return " "
    if char in _ASCII_PUNCT or unicodedata.category(char)[0] in "PS":
        return "."
    return "a"


def _kind_old(char: str) -> str:
    """The port's (CommonMark 0.30): symbols beyond ASCII are not punctuation."""
    if char in _MD_SPACE:
        return " "
    if char in _ASCII_PUNCT or unicodedata.category(char)[0] == "P":
        return "."
    return "a"


_MD_SPACE = frozenset("\t\n\x0b\x0c\r \xa0\u1680\u202f\u205f\u3000") | frozenset(
    map(chr, range(0x2000, 0x200B))
)
_UNSURE = frozenset("\x85\u2028\u2029\x1c\x1d\x1e\x1f")  # spaces to one reader only
_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


_markdown = Markdown()


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
        heading = _markdown.heading(body)
        if heading is None:
            raise ReadError("no title: add 'title:' to the front matter")
        title = one_line(heading)
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
