"""Raw text captures: splitting, titles, junk and attribution."""

from zoneinfo import ZoneInfo

import pytest

from content.captures import read_capture
from content.model import DateSource
from tests.support import ARCHIVE, JUNK_LINES, NEWS_PAGE, UNDATED_COMMENT

LONDON = ZoneInfo("Europe/London")


def _no_junk(post) -> None:
    for junk in JUNK_LINES:
        assert junk not in post.title
        assert junk not in post.body_html
        assert junk not in post.summary


def test_archive_page_splits_into_posts_with_their_own_titles_and_bodies():
    posts = read_capture(ARCHIVE, LONDON)
    assert [(p.date.date().isoformat(), p.title) for p in posts] == [
        ("2018-03-05", "First thoughts on the review"),
        ("2018-03-01", "Snow days and duty teams"),
    ]
    assert "governance" in posts[0].body_html and "Snow" not in posts[0].body_html
    assert "framework for that" in posts[1].body_html and "review" not in posts[1].body_html
    assert all(p.date_source is DateSource.TEXT for p in posts)
    assert posts[0].date.tzinfo is not None


def test_news_page_title_before_byline_date_and_attribution():
    [post] = read_capture(NEWS_PAGE, LONDON)
    assert post.title == "A team manager on the new leadership framework"
    assert post.date.date().isoformat() == "2019-05-14"
    assert post.attribution.author == "Frontline Team Manager"
    assert post.attribution.source == "Example Care Weekly"
    assert post.attribution.credit == "Source: Example Care Weekly"
    assert post.summary == "The framework is fine as far as it goes but it ignores the diary"
    assert "<li>The diary problem</li>" in post.body_html
    _no_junk(post)


def test_undated_capture_keeps_its_post_and_sign_off_becomes_author_and_role():
    [post] = read_capture(UNDATED_COMMENT, LONDON)
    assert post.title == "Reform needs patience"
    assert post.date is None and post.date_source is None
    assert post.attribution.author == "Jane Whitfield"
    assert post.attribution.author_role == (
        "director of children's services, Example County Council"
    )
    assert "Jane Whitfield" not in post.body_html
    assert "steady investment" in post.body_html
    _no_junk(post)


def test_body_text_is_escaped_not_interpreted():
    text = "1 June 2020\n\nA <script> title\n\nBody with <script>alert(1)</script> & more.\n"
    [post] = read_capture(text, LONDON)
    assert post.title == "A <script> title"  # plain text; pages escape it
    assert "<script>" not in post.body_html
    assert "&lt;script&gt;" in post.body_html


@pytest.mark.parametrize(
    ("line", "day"),
    [
        ("Wednesday, 19 April 2017", "2017-04-19"),
        ("Posted on 23/06/2016 by", "2016-06-23"),
        ("23rd April 2010", "2010-04-23"),
        ("June 23, 2016", "2016-06-23"),
        ("Fri, 23 Jul 2021 09:51", "2021-07-23"),
        ("2016-06-23", "2016-06-23"),
    ],
)
def test_date_forms_people_write(line, day):
    [post] = read_capture(f"{line}\n\nA title\n\nSome body text.\n", LONDON)
    assert post.date.date().isoformat() == day


def test_title_after_date_header_body_line_before_is_not_a_title():
    # the last line of one archive post must not become the next post's title
    text = "2 May 2020\n\nOne\n\nBody of one ends here.\n\n1 May 2020\n\nTwo\n\nBody of two.\n"
    assert [p.title for p in read_capture(text, LONDON)] == ["One", "Two"]


def test_a_capture_with_no_text_gives_no_posts():
    assert read_capture("Cookie Consent by Example\n\nLearn more\n", LONDON) == []
