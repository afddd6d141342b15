"""A capture as lines: glued blocks parted (glue.py) and each line's layout clues (lines.py)."""

import pytest
from postroom.content.captures.glue import split_glued
from postroom.content.captures.lines import split_lines

pytestmark = pytest.mark.nostore


def _texts(text: str) -> list[str]:
    return [line.text for line in split_lines(text)]


@pytest.mark.parametrize(
    ("line", "parts"),
    [
        # a job title run into the byline under it
        (
            "Senior Software EngineerArticle by Priya Natarajan",
            ["Senior Software Engineer", "Article by Priya Natarajan"],
        ),
        # a reading time run into the date
        ("4 min readApr 18, 2018", ["4 min read", "Apr 18, 2018"]),
        ("Last updatedJune 5, 2019", ["Last updated", "June 5, 2019"]),
        # a link run into the next headline
        ("Read MoreNext headline", ["Read More", "Next headline"]),
        (
            "Read MoreCouncil approves new cycle lanes",
            ["Read More", "Council approves new cycle lanes"],
        ),
        # an image caption run into the headline beside it
        (
            "A group of children walkingDivorce Myths Every Parent Should Ignore",
            ["A group of children walking", "Divorce Myths Every Parent Should Ignore"],
        ),
        # a site's name, or an author's, run into the headline after it
        (
            "Westbury NewsHow drones are changing farming",
            ["Westbury News", "How drones are changing farming"],
        ),
        ("Anna ReedThe work starts now", ["Anna Reed", "The work starts now"]),
        (
            "Written by Tom HarrisThe council said",
            ["Written by Tom Harris", "The council said"],
        ),
    ],
)
def test_a_word_glued_to_a_capitalised_line_start_is_split(line, parts):
    assert split_glued(line) == parts


@pytest.mark.parametrize(
    ("line", "parts"),
    [
        (
            "Councillors said the scheme would go ahead, but you’ll…"
            "This story continues at Riverside Gazette",
            [
                "Councillors said the scheme would go ahead, but you’ll…",
                "This story continues at Riverside Gazette",
            ],
        ),
        (
            "Library opening hours...Council tax bills are going up",
            ["Library opening hours…", "Council tax bills are going up"],
        ),
    ],
)
def test_a_teaser_s_ellipsis_glued_to_the_next_line_is_split(line, parts):
    assert split_glued(line) == parts


@pytest.mark.parametrize(
    "line",
    [
        "Exclusive: TechCrunch learns of the deal",
        "Posted on WordPress by the team",
        "Read the HuffPost story",
        "The new iPhone goes on sale on Friday",
        "McDonald opens in the high street",
        "Find us on LinkedIn",
        "Shares in easyJet fell on Monday",
        "Read more on openDemocracy",
        "Raised £2,000 on GoFundMe and JustGiving",
        "Slides are on SharePoint and in PowerPoint",
        "Join the WhatsApp group",
        "Listed on eBay and TripAdvisor",
        "Report by ProPublica and BuzzFeed",
        "He said... and she left",
        "The end… but not quite",
        "A council meeting on Monday",
    ],
)
def test_names_written_with_inner_capitals_and_plain_lines_stay_whole(line):
    assert split_glued(line) == [line]


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("• Free parking at the leisure centre", "Free parking at the leisure centre"),
        ("· Longer opening hours", "Longer opening hours"),
        ("▪ Extra bin collections", "Extra bin collections"),
        ("* New play area", "New play area"),
        ("- Bins collected weekly", "Bins collected weekly"),
        ("– Library open on Sundays", "Library open on Sundays"),
        ("1. Apply online", "Apply online"),
        ("2) Wait for a letter", "Wait for a letter"),
    ],
)
def test_a_list_marker_is_noted_and_stripped(raw, text):
    [line] = split_lines(raw)
    assert line.bullet and not line.dash
    assert line.text == text


@pytest.mark.parametrize(
    "raw",
    ["Council approves new cycle lanes", "10 things to do this half term", "2019 in review"],
)
def test_a_line_without_a_marker_is_no_bullet(raw):
    [line] = split_lines(raw)
    assert not line.bullet and line.text == raw


@pytest.mark.parametrize(
    "raw", ["— Katherine", "- Tom Harris", "-- Grace Holloway", "— @westburymum"]
)
def test_a_dash_before_a_name_is_an_attribution_not_a_bullet(raw):
    [line] = split_lines(raw)
    assert line.dash and not line.bullet
    assert line.text == raw


def test_blank_before_marks_the_start_and_lines_after_a_gap():
    lines = split_lines(
        "Council budget agreed\n\nThe vote was close.\nIt passed by one.\n\n\n\nMore to follow"
    )
    assert [(ln.text, ln.blank_before) for ln in lines] == [
        ("Council budget agreed", True),
        ("The vote was close.", True),
        ("It passed by one.", False),
        ("More to follow", True),
    ]
    assert [ln.index for ln in lines] == [0, 1, 2, 3]


def test_spaces_and_non_breaking_spaces_are_folded():
    assert _texts("Bridge\u00a0closure   extended\tagain") == ["Bridge closure extended again"]


def test_a_glued_block_becomes_lines_marked_glued():
    lines = split_lines("Read MoreCouncil approves new cycle lanes\nNext story")
    assert [(ln.text, ln.glued, ln.blank_before) for ln in lines] == [
        ("Read More", False, True),
        ("Council approves new cycle lanes", True, False),
        ("Next story", False, False),
    ]


@pytest.mark.parametrize(
    ("raw", "date", "teaser"),
    [
        (
            "Friday, 8th March, 2019: Residents met the council to discuss the new plans",
            "Friday, 8th March, 2019",
            "Residents met the council to discuss the new plans",
        ),
        (
            "12 March 2019 – Residents were told the bridge will close for repairs",
            "12 March 2019",
            "Residents were told the bridge will close for repairs",
        ),
    ],
)
def test_a_date_glued_to_its_teaser_becomes_its_own_line(raw, date, teaser):
    lines = split_lines(raw)
    assert [ln.text for ln in lines] == [date, teaser]
    assert lines[1].glued


def test_a_date_before_a_short_label_stays_on_its_line():
    assert _texts("12 March 2019: Agenda") == ["12 March 2019: Agenda"]


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (
            "9:42 a.m. - Councillors voted to approve the budget after a long debate",
            "Councillors voted to approve the budget after a long debate",
        ),
        (
            "*Update 5:30pm* Crews have reopened the road in both directions",
            "Crews have reopened the road in both directions",
        ),
        (
            "10am - The meeting opened with a minute's silence",
            "The meeting opened with a minute's silence",
        ),
        (
            "6.45 pm – Police have closed the road at the junction",
            "Police have closed the road at the junction",
        ),
    ],
)
def test_a_time_stamp_at_a_paragraph_s_start_is_removed(raw, text):
    assert _texts(raw) == [text]


def test_a_sentence_wrapped_onto_a_lower_case_line_is_rejoined():
    text = (
        "The council said it had received more than two hundred objections to the plan, "
        "and time\nagain residents asked for a public meeting."
    )
    [line] = split_lines(text)
    assert line.text == (
        "The council said it had received more than two hundred objections to the plan, "
        "and time again residents asked for a public meeting."
    )


@pytest.mark.parametrize(
    "text",
    [
        # a headline and the byline under it
        "What the new housing plan means for renters in the borough\nby: Joan Harper, housing",
        # a finished sentence, then another
        "The council said it had received more than two hundred objections to the plan.\n"
        "and then the meeting closed early",
        # a headline in title case, then a lower-case teaser
        "Council Approves New Cycle Lanes On The High Street After Long Vote\n"
        "residents had asked for safer routes to school",
        # a short line is no wrapped sentence
        "Bins\ncollected on Tuesday this week",
    ],
)
def test_lines_that_are_not_one_wrapped_sentence_stay_apart(text):
    assert len(split_lines(text)) == 2


def test_a_short_line_repeated_at_once_is_one_line():
    assert _texts("Tom Harris\nTom Harris\nHousing reporter") == ["Tom Harris", "Housing reporter"]


def test_an_image_s_alt_text_left_after_its_caption_is_removed():
    assert _texts("Summer food fair at the market this weekend thumbnail Photo") == [
        "Summer food fair at the market this weekend"
    ]
