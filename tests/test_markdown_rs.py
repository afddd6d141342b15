"""Markdown rendered by the Rust port (markdown-it-pyrs) is what markdown-it-py made.

content.markdown renders with markdown-it-pyrs and sends to markdown-it-py the inputs
where the two were found to part. These tests hold it to markdown-it-py, the reference,
on every Markdown the project has: the CommonMark spec's examples and markdown-it's
fixtures (tests/markdown_inputs.json), the captures and seeds in ../shared read as
Markdown (junk is good fuzz), the benches' generated posts, random Markdown, and
hostile inputs. Compared after clean_html: the stored HTML is what must not change (a
post whose HTML changed would be "updated" on upgrade).
"""

from __future__ import annotations

import json
import random
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import markdown_it_pyrs
import pytest
from markdown_it import MarkdownIt
from postroom.content import markdown
from postroom.content.markdown import _markdown, comment_html, read_markdown
from postroom.core.sanitize import clean_html, one_line
from seeds_support import seeds_folder

pytestmark = pytest.mark.nostore

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT.parent / "shared" / "captures"
INPUTS = json.loads((ROOT / "tests" / "markdown_inputs.json").read_text(encoding="utf-8"))
REFERENCE = MarkdownIt("commonmark", {"typographer": False}).enable(["table", "strikethrough"])


def reference_heading(text: str) -> str | None:
    """What read_markdown took a title from before: markdown-it-py's first heading."""
    tokens = REFERENCE.parse(text)
    heading = next((i for i, t in enumerate(tokens) if t.type == "heading_open"), None)
    return None if heading is None else one_line(tokens[heading + 1].content)


def ours_heading(text: str) -> str | None:
    found = _markdown.heading(text)
    return None if found is None else one_line(found)


def differences(texts: list[str]) -> list[str]:
    """The inputs (with both outputs) where the HTML or the first heading differs."""
    found = []
    for text in texts:
        ours, theirs = clean_html(_markdown.render(text)), clean_html(REFERENCE.render(text))
        if ours != theirs:
            found.append(f"{text[:200]!r}\n ours   {ours[:300]!r}\n theirs {theirs[:300]!r}")
        if ours_heading(text) != reference_heading(text):
            found.append(f"heading of {text[:200]!r}: {ours_heading(text)!r}")
    return found


def shared_texts() -> list[str]:
    seeds, named = seeds_folder()
    for folder, what in ((CAPTURES, "the labelled captures"), (seeds, f"the seeds ({named})")):
        if folder is None or not folder.is_dir():
            pytest.fail(f"{folder} is missing: {what}, read here as Markdown", pytrace=False)
    files = sorted(p for p in CAPTURES.iterdir() if p.is_file())
    files += sorted(p for p in seeds.iterdir() if p.is_file())
    return [p.read_text(encoding="utf-8", errors="replace") for p in files]


def bench_bodies(count: int = 150) -> list[str]:
    """Bodies of the benches' posts: bench/ingest.py's two generators (markdown_post of
    _paragraphs and of _fast_paragraphs) and bench/markdown_posts.py's."""
    sys.path.insert(0, str(ROOT))
    from bench import ingest, markdown_posts

    rng, day, bodies = random.Random(19), datetime(2020, 1, 1), []
    for i in range(count):
        for paragraphs in (ingest._paragraphs, ingest._fast_paragraphs):
            text = ingest.markdown_post(i, day, "T", paragraphs(rng), "S", "t")
            bodies.append(markdown.front_matter(text)[1])
        bodies.append(markdown.front_matter(markdown_posts.post_text(i, rng)[1])[1])
    return bodies


VOCABULARY = [
    token
    for group in (
        ["*", "_", "**", "__", "~~", "~", "`", "``", "[", "]", "(", ")", "<", ">", "!", "\\"],
        ["#", "# ", "## ", "-", "- ", "+ ", "1. ", "2) ", "|", ":", ":-", "-:", "===", "---"],
        ["&amp;", "&#x20;", "&nbsp;", "&#0;", "<!--", "-->", "<!-->", "<!doctype x>", "<!X y>"],
        ["<div>", "</div>", "<a href='x'>", "</a>", "<b>", "<?p ?>", "<![CDATA[x]]>", "```"],
        ["http://x.org/%CE%B1", "<http://a.b/c%41>", "<a%b@c.de>", "[x]: /u", ' "t"', "[x]"],
        ["£", "€", "🙂", "\u03b1", "©", "\u00a0", "\u2028", "\x85", "\u3000", "\u200b", "\ufeff"],
        ["\u2019", "\u201c", "«", "café", "e\u0301", "5", "![", "](/u)", "word", "~~~", "]:"],
        ["\n", "\n", "\n\n", " ", "  ", "    ", "\t", "'", '"', "=", "\r\n", "\r", "\x00", "> "],
        ["    code", "\\\n", "  \n", "_a_", "*a*", "***"],
    )
    for token in group
]


def random_markdown(rng: random.Random) -> str:
    return "".join(rng.choice(VOCABULARY) for _ in range(rng.randint(1, 60)))


def test_the_spec_examples_and_markdown_it_fixtures_render_alike():
    texts = [text for key, cases in INPUTS.items() if key != "about" for text in cases]
    assert len(texts) > 700
    assert differences(texts) == []


def test_the_captures_and_seeds_read_as_markdown_render_alike():
    texts = shared_texts()
    assert len(texts) > 80
    assert differences(texts) == []


def test_the_bench_posts_render_alike_without_markdown_it_py():
    bodies = bench_bodies()
    assert differences(bodies) == []
    # the speed is the point: none of them needs the reference
    assert not any(markdown._python_only(body) for body in bodies)


def test_random_markdown_renders_alike():
    rng = random.Random(19)
    assert differences([random_markdown(rng) for _ in range(1500)]) == []


HOSTILE = {
    "quotes": ">" * 20000,
    "lists": "".join("  " * i + "- x\n" for i in range(600)),
    "markers on a line": "> - " * 5000 + "x",
    "brackets": "[" * 20000 + "a" + "]" * 20000,
    "links": "[a](" * 20000,
    "images": "![" * 20000,
    "stars": "*" * 100000,
    "nested emphasis": "*a " * 5000 + "b*" * 5000,
    "strikethrough": "~~a " * 5000 + "b~~" * 5000,
    "definitions": "".join(f"[a{i}]: /u\n" for i in range(3000)) + "[a1]" * 100,
    "backticks": "[`" * 20000,
    "pipes": "|" * 20000 + "\n" + "-|" * 20000,
    "NULs": "a\x00*b\x00*\x00" * 5000,
    "CRLF": "# t\r\n\r\n> a\r\n> b\r\n---\r\n" * 3000,
    "tabs": "\t" * 50000 + "x",
    "odd spaces": "\t" * 20000 + "\xa0" + "\u3000\t" * 20000,
    "comments": "<!--" * 20000,
    "percent": "<" + "%" * 50000,
    "lone surrogate": "# a \ud800 *b*\n\n\udfff _c_ [`d",
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_markdown_renders_alike_in_bounded_time(name):
    """Alike, and never much slower than markdown-it-py (the port alone took 2.7 s on
    8,000 nested emphasis pairs and 6.2 s on 8,000 definitions; those go to the
    reference)."""
    text = HOSTILE[name]
    began = time.perf_counter()
    ours = clean_html(_markdown.render(text))
    heading = ours_heading(text)
    ours_took = time.perf_counter() - began
    began = time.perf_counter()
    theirs = clean_html(REFERENCE.render(text))
    their_heading = reference_heading(text)
    their_took = time.perf_counter() - began
    assert (ours, heading) == (theirs, their_heading)
    assert ours_took < 3 * their_took + 0.5, (ours_took, their_took)


def test_a_panic_of_the_port_is_caught_and_the_reference_answers(monkeypatch):
    """A Rust panic reaches Python as pyo3's PanicException, a BaseException that an
    `except Exception` in a scan worker would not stop: render catches it."""
    port = markdown_it_pyrs.MarkdownIt("commonmark")
    with pytest.raises(BaseException) as raised:
        port.render("[`")  # a backtick unpaired in a link's text
    assert type(raised.value).__name__ == "PanicException"
    assert not isinstance(raised.value, Exception)
    monkeypatch.setattr(markdown, "_python_only", lambda text: False)  # let it reach the port
    for text in ("[`", "# [`a\n\nbody", "x [a `b"):
        assert _markdown.render(text) == REFERENCE.render(text)
        assert ours_heading(text) == reference_heading(text)


def test_a_lone_surrogate_is_rendered_by_the_reference():
    text = "*a*\ud800 [b](u)\n\n# t\udfff"
    assert _markdown.render(text) == REFERENCE.render(text)
    assert ours_heading(text) == "t" == reference_heading(text)  # one_line drops it


def test_the_title_from_the_first_heading_is_the_one_it_was():
    cases = {
        "intro\n\n## Hello *wor`ld`* &amp; [l](u) <i>x</i> ##\n\n# second": (
            "Hello *wor`ld`* &amp; [l](u) <i>x</i>"
        ),
        "> - Setext\n>   over two\n>   ---\n": "Setext over two",  # the reference's
        "  ### foo \\###": "foo \\###",
        "# #": "",
        "Caf\u00e9 \u2014 r\u00e9sum\u00e9\n===": "Caf\u00e9 \u2014 r\u00e9sum\u00e9",
    }
    for body, title in cases.items():
        assert ours_heading(body) == title == reference_heading(body)
        posts, _ = read_markdown(body, UTC)
        assert posts[0].title == title


def test_comment_html_is_the_reference_rendering_sanitized():
    text = "A *note* with <script>x</script> and a [link](https://e.org/?a=1&b=2)."
    assert comment_html(text) == clean_html(REFERENCE.render(text))


def one_line_before(text: str) -> str:
    """core.sanitize.one_line as it was: a regex substitution and a strip."""
    from postroom.core.sanitize import _BIDI_CONTROLS, strip_illegal

    return re.sub(r"\s+", " ", _BIDI_CONTROLS.sub("", strip_illegal(text)[0])).strip()


def test_one_line_folds_every_code_point_as_it_did():
    every = [chr(c) for c in range(sys.maxunicode + 1)]
    spaces = [c for c in every if c.isspace() or re.fullmatch(r"\s", c)]
    assert [c for c in spaces if not (c.isspace() and re.fullmatch(r"\s", c))] == []
    assert len(spaces) > 20
    for char in spaces:
        for text in (char, f"a{char}b", f"{char}{char}x {char}", f" \t{char}\u00a0y\n"):
            assert one_line(text) == one_line_before(text), repr(text)
    for start in range(0, len(every), 4096):  # the rest, a block of code points at a time
        text = "".join(f"a{c}b{c}{c} \u00a0" for c in every[start : start + 4096])
        assert one_line(text) == one_line_before(text), start


def test_one_line_reads_the_corpora_as_it_did():
    rng = random.Random(7)
    texts = shared_texts() + bench_bodies(40) + [random_markdown(rng) for _ in range(2000)]
    texts += [text for key, cases in INPUTS.items() if key != "about" for text in cases]
    for text in texts:
        for line in [text, *text.splitlines()]:
            assert one_line(line) == one_line_before(line), repr(line)


# one input of each class where the port alone was found to part from markdown-it-py
PARTED = [
    "*$*alpha.\n\n*£*bravo.\n\n*€*charlie.\n",  # symbols are punctuation in 0.31
    "foo <!-- this is a --\ncomment - with hyphens -->\n",  # 0.31's comments
    "<!doctype html>\n",  # 0.31's lowercase declarations
    "<http://example.com/\u03b1%CE%B2>\n",  # the autolink's text decoded
    '[foo]: /url "\nhello\n\\\nworld\n"\n\n[foo]\n',  # a definition's backslash line end
    "[x]: /u*&nbsp;\n\n[x]",  # a decoded NBSP stripped off a definition's URL
    "a\u00a0\n\n# b\u3000",  # odd spaces at the ends of a paragraph and a heading
    "![Tom &amp; Jerry \\* <b>](u)",  # what the image's alt text keeps
    "> a\n2) b\n",  # a list item after a quote
    ">)***\né*\n1. \n\n5",  # ... after its lazy lines
    "x\n:--\n\ny\n|-",  # one-column tables
    '&nbsp;~~~~>\t-€&nbsp;&amp;£*** "t"~~(::-<!--~~~\n__',  # tilde runs
    ">\n",  # an empty quote (mended in place)
    "<div>\nx",  # raw HTML ends the text (mended in place)
    "- a\n\n  ```\n  code",  # an unclosed fence ends the text
    "[`",  # a panic of the port
]


@pytest.mark.parametrize("text", PARTED)
def test_each_class_that_parted_renders_alike(text):
    assert differences([text]) == []
