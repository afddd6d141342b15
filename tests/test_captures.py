"""Raw text captures: splitting, titles, junk and attribution."""

from zoneinfo import ZoneInfo

import capture_pages as pages
import pytest
from postroom.content.captures import read_capture
from postroom.core.model import DateSource
from support import ARCHIVE, JUNK_LINES, NEWS_PAGE, UNDATED_COMMENT

pytestmark = pytest.mark.nostore

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


# --- pages of the kinds the web has (tests/capture_pages.py) ---


def _read(text: str, url: str | None = None):
    return read_capture(text, LONDON, True, url)


def test_a_listing_of_headline_date_and_teaser_items_is_one_post_each():
    posts = _read(pages.LISTING, "https://www.northgate.gov.uk/news?page=2")
    assert [(p.title, p.date.date().isoformat()) for p in posts] == [
        ("Council opens three new family hubs in the north of the borough", "2024-03-12"),
        ("Foster carers to get a rise in allowances from April", "2024-03-04"),
        ("Youth service wins national award for detached work", "2024-02-28"),
    ]
    # each teaser is its post's text, its "… Read more »" gone
    assert posts[1].body_html == (
        "<p>Carers will receive an extra eight per cent from the start of the financial year,"
        " the cabinet agreed on Tuesday</p>"
    )
    assert all(p.attribution.source == "Northgate" for p in posts)  # named from the URL


def test_a_blog_archive_under_date_headers_keeps_an_untitled_post_and_drops_the_masthead():
    posts = _read(pages.BLOG_ARCHIVE, "https://dutydesknotes.blogspot.com/2019/11/")
    assert [p.date.date().isoformat() for p in posts] == ["2019-11-08", "2019-11-05"]
    assert posts[0].title == "Why we stopped holding Friday strategy meetings"
    assert posts[1].body_html.startswith("<p>We had a visit from the inspectors")
    # the blog's name over its tagline is the site, not a post
    assert {p.attribution.source for p in posts} == {"Notes from the Duty Desk"}


def test_items_under_one_date_heading_share_its_date():
    posts = _read(pages.SHARED_HEADING, "https://www.northgate.gov.uk/news/releases/2024/06/05/")
    assert len(posts) == 3
    assert {p.date.date().isoformat() for p in posts} == {"2024-06-05"}
    assert posts[2].title == "New recycling collections begin in the east ward"


def test_a_news_article_with_a_category_glued_date_a_byline_and_a_related_widget():
    [post] = _read(pages.NEWS_ARTICLE)
    assert post.title == "Agency staff costs fall for the first time in a decade"
    assert post.date.isoformat() == "2023-03-14T10:05:00+00:00"
    assert (post.attribution.author, post.attribution.author_role) == (
        "Priya Raman",
        "Senior reporter",
    )
    # the related-articles widget is other pages' teasers: neither a post nor this one's text
    assert "Recruitment drive" not in post.body_html and "Tom Ellis" not in post.body_html
    assert "Update your browser" not in post.body_html


def test_a_page_whose_only_dates_are_traps_is_undated():
    [post] = _read(pages.TRAPS_ONLY)
    assert post.date is None and post.date_source is None  # event days, an update, a ©


def test_a_reblog_credits_the_blog_it_quotes():
    [post] = _read(
        pages.REBLOG, "https://practicenotes.wordpress.com/2019/03/02/why-caseloads-matter/"
    )
    assert post.attribution.source == "Practice Matters Blog"
    assert post.body_html.startswith("<p>This is well worth a read")  # the reblogger's words


def test_a_wire_dateline_is_the_source_and_not_the_text():
    [post] = _read(pages.WIRE, "https://www.dailyexample.com/story/budget-gap-forces-county")
    assert post.attribution.source == "AP"
    assert post.body_html.startswith("<p>A county in Pennsylvania")


def test_an_aggregators_credit_lines_belong_to_the_teasers_above_them():
    posts = _read(pages.AGGREGATOR, "https://www.examplenewsroundup.com/tag/funding/")
    assert [p.attribution.source for p in posts] == ["Example Public Finance", "Example Care News"]


def test_a_source_suffix_leaves_the_title_and_becomes_the_source():
    [post] = _read(pages.SUFFIX_TITLE)
    assert post.title == "Inspectors praise council's work with care leavers"
    assert post.attribution.source == "Northgate Herald"


def test_the_text_starts_after_standfirst_repeated_headline_and_photo_credit():
    [post] = _read(pages.STANDFIRST_AND_CAPTION)
    assert post.body_html.startswith("<p>Supervision is the one hour in the week")
    assert (
        post.summary
        == "A practice educator sets out five habits that make supervision worth the time"
    )


def test_a_forum_post_is_dated_and_signed_by_its_handle():
    [post] = _read(pages.FORUM)
    assert post.date.isoformat() == "2023-03-04T21:15:09+00:00"
    assert post.attribution.author == "kinshipcarer_22"


def test_a_headline_carrying_its_author_and_a_day_first_credit_date():
    [post] = _read(pages.TITLE_BY_HANDLE)
    assert post.title == "A day in the life of a duty social worker"
    assert post.attribution.author == "@dutydesknotes"
    assert post.date.date().isoformat() == "2019-05-17"


def test_a_date_in_brackets_after_each_teaser_dates_that_item():
    posts = _read(pages.DATES_AFTER_TEASERS)
    assert [(p.title, p.date.date().isoformat()) for p in posts] == [
        ("Bats navigate by the smell of the river", "2021-03-18"),
        ("Coral spawning timed by the moon's light", "2021-03-02"),
        ("Glaciers retreat faster where dust settles", "2021-02-21"),
    ]
    assert posts[0].body_html.endswith("over several kilometres.</p>")


def test_a_teaser_opening_with_its_day_is_dated_by_it():
    posts = _read(pages.DATE_OPENS_THE_TEASER)
    assert [p.date.date().isoformat() for p in posts] == ["2021-05-14", "2021-02-02"]
    assert posts[0].body_html.startswith("<p>The charity said every council")


def test_an_untitled_notice_is_dated_by_the_published_line_after_it_not_the_meeting():
    [post] = _read(pages.UNTITLED_NOTICE)
    assert post.date.date().isoformat() == "2024-05-17"


def test_a_name_among_a_meta_lines_fields_is_its_author():
    [post] = _read(pages.META_FIELDS)
    assert post.attribution.author == "Dana Whitfield"
    assert post.date.date().isoformat() == "2026-03-11"


def test_a_forum_post_by_a_handle_is_signed_by_it_and_not_dated_by_the_join_date():
    [post] = _read(pages.FORUM_THREAD_POST)
    assert post.attribution.author == "parentvoice22"
    assert post.body_html.startswith("<p>Has anyone been to a family group conference?")


def test_a_byline_under_the_text_signs_it():
    [post] = _read(pages.BYLINE_UNDER_TEXT)
    assert post.attribution.author == "Alan Greaves"


def test_a_paragraph_said_twice_is_still_the_text():
    [post] = _read("A short notice\n\nThe office is closed today.\n\nThe office is closed today.\n")
    assert "The office is closed today." in post.body_html
