"""One file to posts: formats, encodings, sidecars and the problems they report."""

import pytest
from postroom.content.readers import READERS, read_file, reader_for, register_reader
from postroom.core.config import Config
from postroom.core.model import DateSource, Severity
from support import in_a_new_python

pytestmark = pytest.mark.nostore

CONFIG = Config()

MARKDOWN = """\
---
title: Family hubs and early help
date: 2021-07-23T09:51:00+01:00
author: Sam Okafor
author_role: early help coordinator
source_url: https://www.blog.example.gov.uk/family-hubs
tags: [policy, early help]
---
Family hubs promise a *front door* for families.<script>alert(1)</script>
<a href="javascript:alert(1)" onclick="x()">link</a>
"""


def test_markdown_front_matter_and_sanitized_body():
    reading = read_file("notes/hubs.md", MARKDOWN.encode(), None, CONFIG)
    [post] = reading.posts
    assert reading.problems == ()
    assert post.title == "Family hubs and early help"
    assert post.date.isoformat() == "2021-07-23T09:51:00+01:00"
    assert post.date_source is DateSource.FRONT_MATTER
    assert post.tags == ("early help", "policy")
    assert post.attribution.author_role == "early help coordinator"
    assert post.attribution.source == "Example"  # named from the URL: a name, not a hostname
    assert "<em>front door</em>" in post.body_html
    assert "script" not in post.body_html
    assert "javascript:" not in post.body_html and "onclick" not in post.body_html


def test_bad_front_matter_is_an_error_naming_the_file():
    reading = read_file("bad.md", b"---\ntitle: [unclosed\n---\nText\n", None, CONFIG)
    assert reading.posts == () and reading.failed
    [problem] = reading.problems
    assert problem.file == "bad.md" and "front matter" in problem.reason


def test_draft_gives_no_post_and_unknown_key_is_a_warning():
    assert read_file("d.md", b"---\ntitle: T\ndraft: true\n---\nx\n", None, CONFIG).posts == ()
    reading = read_file(
        "k.md", b"---\ntitle: T\ndate: 2020-01-01\ncolour: red\n---\nx\n", None, CONFIG
    )
    assert len(reading.posts) == 1
    assert [p.severity for p in reading.problems] == [Severity.WARNING]
    assert "colour" in reading.problems[0].reason


def test_a_capture_or_page_with_no_post_in_it_is_an_error():
    for name in ("empty.txt", "empty.html"):
        reading = read_file(name, b"\n\n", None, CONFIG)
        assert reading.failed and reading.problems[0].file == name
    assert read_file("empty.txt", b"\n", None, CONFIG).problems[0].reason == (
        "no post found in the file"
    )


def test_the_reader_is_the_one_registered_for_the_extension_in_any_case():
    assert reader_for("notes/A.MD") is READERS[".md"] is READERS[".markdown"]
    assert reader_for("page.Htm") is READERS[".html"]
    assert reader_for("a.meta.toml") is reader_for("README") is reader_for("x.rst") is None
    reading = read_file("x.rst", b"Title\n=====\n", None, CONFIG)
    assert reading.failed and reading.problems[0].reason == "no reader for .rst files"


@pytest.mark.parametrize("extension", ["rst", ".", ".meta.toml", "./x", ". rst"])
def test_an_extension_is_a_dot_and_a_word(extension):
    with pytest.raises(ValueError, match="an extension is a dot and a word"):
        register_reader(extension)


def test_undecodable_and_binary_files_are_errors_latin1_is_a_warning():
    binary = read_file("img.txt", b"\x89PNG\r\n\x00\x00", None, CONFIG)
    assert binary.failed and "binary" in binary.problems[0].reason
    latin = read_file(
        "old.txt", "1 May 2020\n\nCaf\xe9 culture\n\nBody.\n".encode("cp1252"), None, CONFIG
    )
    assert latin.posts[0].title == "Café culture"
    assert not latin.failed and "Windows-1252" in latin.problems[0].reason
    broken = read_file("x.txt", b"\x81\x8d\x8f\x90\x9d junk", None, CONFIG)
    assert broken.failed and "undecodable" in broken.problems[0].reason


def test_xml_illegal_characters_are_removed():
    text = "1 May 2020\n\nTitle\x0b with\x00 controls\n\nBody \ufffe here\x1f.\n"
    reading = read_file("c.txt", text.encode(), None, CONFIG)
    [post] = reading.posts
    assert post.title == "Title with controls"
    assert "removed 4 control characters" in reading.problems[0].reason
    assert "\ufffe" not in post.body_html and "\x1f" not in post.body_html


def test_sidecar_sets_what_the_capture_cannot_say():
    text = b"Reform needs patience\n\nBody text of the comment.\n"
    sidecar = b'url = "https://www.example-lgc.org.uk/a"\ndate = 2016-06-23\nauthor = "A. Writer"\n'
    reading = read_file("r.txt", text, sidecar, CONFIG)
    [post] = reading.posts
    assert post.attribution.url == "https://www.example-lgc.org.uk/a"
    assert post.attribution.source == "Example Lgc"  # a name made from the domain, not a hostname
    assert post.attribution.author == "A. Writer"
    assert post.date.date().isoformat() == "2016-06-23"
    assert post.date_source is DateSource.SIDECAR
    assert reading.problems == ()  # dated by the sidecar: nothing to warn about


def test_sidecar_with_unknown_key_is_an_error():
    reading = read_file("r.txt", b"Title\n\nBody.\n", b'urll = "x"\n', CONFIG)
    assert reading.failed and "urll" in reading.problems[0].reason


def test_undated_and_guessed_dates_are_reported():
    undated = read_file("u.txt", b"A title\n\nBody.\n", None, CONFIG)
    assert "no date" in undated.problems[0].reason
    guessed = read_file("g.txt", b"Posted on 03/04/2016 by\n\nTitle\n\nBody.\n", None, CONFIG)
    assert "guess" in guessed.problems[0].reason
    assert guessed.posts[0].date.month == 4


def test_saved_html_page_through_trafilatura():
    page = b"""<html><head><title>Keep going | Example Journal</title>
    <meta property="og:title" content="Keep going with reform">
    <meta name="author" content="Jane Smith">
    <meta property="article:published_time" content="2016-06-23T09:00:00+01:00">
    <meta property="og:site_name" content="Example Journal">
    <link rel="canonical" href="https://journal.example/keep-going"></head>
    <body><nav>Home | News</nav><article><h1>Keep going with reform</h1>
    <p>First paragraph of the article, long enough to count as the main text of the page.</p>
    <p>Second paragraph, with <b>bold</b> words and more text so the extractor keeps it.</p>
    </article><footer>Copyright</footer></body></html>"""
    [post] = read_file("page.html", page, None, CONFIG).posts
    assert post.title == "Keep going with reform"
    assert post.attribution.author == "Jane Smith"
    assert post.attribution.source == "Example Journal"
    assert post.attribution.url == "https://journal.example/keep-going"
    assert post.date.date().isoformat() == "2016-06-23"
    assert "Second paragraph" in post.body_html and "Home | News" not in post.body_html


def test_an_original_url_that_is_not_http_is_dropped_and_reported():
    text = b"---\ntitle: T\ndate: 2020-01-01\nsource_url: 'javascript:alert(1)'\n---\nx\n"
    reading = read_file("js.md", text, None, CONFIG)
    assert reading.posts[0].attribution.url is None
    assert "not http(s)" in reading.problems[0].reason


def test_the_keys_only_one_post_takes_name_every_image_detail():
    """content.readers spells out the image's sidecar keys: content.markdown, which
    defines them, is imported only where a reader first needs it (readers.PARSERS)."""
    from postroom.content import readers
    from postroom.content.markdown import IMAGE_DETAILS

    assert set(IMAGE_DETAILS) <= readers._SINGLE_KEYS <= readers.SIDECAR_KEYS


def test_the_parsers_are_imported_by_the_first_file_that_needs_them():
    """Importing the readers (a cold scan's parent, which parses nothing itself) leaves the
    parsers out; a Markdown file, a capture and a sidecar each still read as before."""
    code = (
        "import json, sys\n"
        "from postroom.content.readers import PARSERS, read_file\n"
        "from postroom.core.config import Config\n"
        "before = [m for m in PARSERS if m in sys.modules]\n"
        "md = read_file('a.md', b'---\\ntitle: A\\ndate: 2020-01-01\\n---\\nBody.\\n',\n"
        '               b\'comment = "Mine"\\nimage_alt = "x"\\n\', Config())\n'
        "txt = read_file('b.txt', b'Title of it\\nBy Jo Ames\\n2 March 2021\\n\\n'\n"
        "                b'Body text of the capture, long enough to be one.\\n', None, Config())\n"
        "print(json.dumps([before, md.posts[0].title, md.posts[0].comment,\n"
        "                  txt.posts[0].title]))\n"
    )
    before, title, comment, capture = in_a_new_python(code)
    assert before == []
    assert (title, capture) == ("A", "Title of it")
    assert "Mine" in comment
