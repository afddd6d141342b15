"""Finding and reading dates on the short lines of a web page (content/dates.py)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from postroom.content.dates import date_source, find_dates, is_ambiguous, numeric_orders, parse_date
from postroom.core.model import DateSource

pytestmark = pytest.mark.nostore

LONDON = ZoneInfo("Europe/London")


def _found(text: str, day_first: bool = True) -> list[tuple[str, str]]:
    """Each date in `text` as (the words it spans, the moment it names)."""
    return [
        (text[hit.start : hit.end], hit.value.isoformat()) for hit in find_dates(text, day_first)
    ]


@pytest.mark.parametrize(
    ("line", "span", "moment"),
    [
        # a category label run into the date
        ("Practice Tue, 14 Mar 2023 10:05", "Tue, 14 Mar 2023 10:05", "2023-03-14T10:05:00"),
        ("Planning 3 October 2022", "3 October 2022", "2022-10-03T00:00:00"),
        # an author before it, with or without a separator
        ("Jane Smith | 12 March 2019", "12 March 2019", "2019-03-12T00:00:00"),
        ("Ruth Okafor 11 May 2018", "11 May 2018", "2018-05-11T00:00:00"),
        # a reading time
        ("4 min read Apr 18, 2018", "Apr 18, 2018", "2018-04-18T00:00:00"),
        ("5 min read · Sep 9, 2021", "Sep 9, 2021", "2021-09-09T00:00:00"),
    ],
)
def test_a_date_glued_to_a_category_author_or_read_time_is_found(line, span, moment):
    assert _found(line) == [(span, moment)]


@pytest.mark.parametrize(
    ("line", "span", "moment"),
    [
        ("Public Release: 21-Nov-2017", "21-Nov-2017", "2017-11-21T00:00:00"),
        (
            "Last modified on Wed 8 Nov 2023 14.20 GMT",
            "Wed 8 Nov 2023 14.20 GMT",
            "2023-11-08T14:20:00+00:00",
        ),
        ("Originally published: 05.03.16", "05.03.16", "2016-03-05T00:00:00"),
        ("Date published: 2 June 2020", "2 June 2020", "2020-06-02T00:00:00"),
        (
            "1 min read/Published On: October 6, 2020/412 words/",
            "October 6, 2020",
            "2020-10-06T00:00:00",
        ),
    ],
)
def test_a_date_after_a_label_is_found_without_the_label(line, span, moment):
    assert _found(line) == [(span, moment)]


@pytest.mark.parametrize(
    ("line", "span", "moment"),
    [
        ("5 June 2019 14:22 BST", "5 June 2019 14:22 BST", "2019-06-05T14:22:00+01:00"),
        (
            "Published 5 June 2019 at 2:22pm BST",
            "5 June 2019 at 2:22pm BST",
            "2019-06-05T14:22:00+01:00",
        ),
        (
            "Jul. 5, 2018 at 10:30 a.m. EDT",
            "Jul. 5, 2018 at 10:30 a.m. EDT",
            "2018-07-05T10:30:00-04:00",
        ),
        (
            "Saturday 22nd January 2022 at 3pm",
            "Saturday 22nd January 2022 at 3pm",
            "2022-01-22T15:00:00",
        ),
        (
            "Posted: 2nd Feb 2021 @ 9:15am",
            "2nd Feb 2021 @ 9:15am",
            "2021-02-02T09:15:00",
        ),
        (
            "Sun, 01 Jan 2017 10:00:00 GMT",
            "Sun, 01 Jan 2017 10:00:00 GMT",
            "2017-01-01T10:00:00+00:00",
        ),
        ("27.03.2017 09:15", "27.03.2017 09:15", "2017-03-27T09:15:00"),
        ("11/14/2019 at 5:30 pm", "11/14/2019 at 5:30 pm", "2019-11-14T17:30:00"),
    ],
)
def test_a_time_and_its_zone_are_part_of_the_date(line, span, moment):
    # a zone the page names is kept (five hours matter for an American story read in London)
    assert _found(line) == [(span, moment)]


@pytest.mark.parametrize(
    ("line", "moment"),
    [
        ("Friday, 8th March, 2019", "2019-03-08T00:00:00"),
        ("November 22nd 2013", "2013-11-22T00:00:00"),
        ("Sun 23rd Jan, 2022", "2022-01-23T00:00:00"),
        ("on the 3rd of April 2019", "2019-04-03T00:00:00"),
        ("August 1st, 2016", "2016-08-01T00:00:00"),
    ],
)
def test_ordinal_days_and_weekdays_are_read(line, moment):
    [(_, found)] = _found(line)
    assert found == moment


@pytest.mark.parametrize(
    ("line", "moment"),
    [
        ("09.04.2014", "2014-04-09T00:00:00"),
        ("16.6.12", "2012-06-16T00:00:00"),
        ("19-05-2025", "2025-05-19T00:00:00"),
        ("23/06/2016", "2016-06-23T00:00:00"),
        ("9/29/09", "2009-09-29T00:00:00"),
        ("Sat 14-Mar-15 09:41:08", "2015-03-14T09:41:08"),
    ],
)
def test_dotted_slashed_and_dashed_numeric_dates_are_read(line, moment):
    [(span, found)] = _found(line)
    assert span == line and found == moment


@pytest.mark.parametrize(
    ("line", "moment"),
    [
        ("2016-06-23", "2016-06-23T00:00:00"),
        ("2019/05/14", "2019-05-14T00:00:00"),
        ("2016-06-23 14:05", "2016-06-23T14:05:00"),
        ("2016-06-23T10:00:00", "2016-06-23T10:00:00"),
    ],
)
def test_iso_dates_and_their_times_are_read(line, moment):
    assert _found(line) == [(line, moment)]


def test_a_server_timestamp_with_its_zone_before_the_year_is_read():
    line = "Tue Oct 15 09:12:44 BST 2013"
    assert _found(line) == [(line, "2013-10-15T09:12:44")]


def test_every_date_on_a_line_is_found_in_order():
    line = "Consultation runs from 1 March 2019 to 3 April 2019"
    assert _found(line) == [
        ("1 March 2019", "2019-03-01T00:00:00"),
        ("3 April 2019", "2019-04-03T00:00:00"),
    ]


@pytest.mark.parametrize(
    "line",
    [
        # no year, or no day
        "16 June",
        "Nov 8",
        "8th November",
        "February 2014",
        "Spring 2019",
        "12/2019",
        "2019-05",
        "2019-20 season",
        # a year alone
        "2017",
        "Top 10 tips for 2017",
        "The council had 40 unallocated cases in 2016 and more in 2017, it said.",
        # version numbers, fractions, scores, addresses
        "2.0.1",
        "Release 2.13.1",
        "3.5/7.5",
        "24/7 helpline",
        "3/4 cup of flour",
        "a 1-0 win",
        "IP 192.168.1.10",
        "ISBN 978-0-14-312854-0",
        # phone numbers
        "Call 020 7946 0958",
        "Tel: 01632 960983",
        "Call 01632-960-983",
        "Helpline 0800 123 4567",
        # image file names
        "IMG 20171214 1234.jpg",
        "IMG-20171214-WA0001.jpg",
        "photo_2019_12_14.jpg",
        # days that do not exist
        "30 February 2019",
        "2019-13-01",
        "31/02/2019",
        "Bottom Up",
    ],
)
def test_text_without_a_full_date_has_none(line):
    assert find_dates(line) == []


@pytest.mark.parametrize(
    ("line", "order", "moment"),
    [
        ("23/06/2016", "dmy", "2016-06-23T00:00:00"),
        ("19-05-2025", "dmy", "2025-05-19T00:00:00"),
        ("9/29/09", "mdy", "2009-09-29T00:00:00"),
        ("11/14/2019", "mdy", "2019-11-14T00:00:00"),
        ("04/04/2016", "dmy", "2016-04-04T00:00:00"),  # day and month the same
    ],
)
def test_a_day_over_12_decides_a_numeric_date_whatever_the_locale(line, order, moment):
    for day_first in (True, False):
        [hit] = find_dates(line, day_first)
        assert hit.numeric and hit.order == order
        assert hit.value.isoformat() == moment


@pytest.mark.parametrize(
    ("line", "british", "american"),
    [
        ("03/04/2016", "2016-04-03", "2016-03-04"),
        ("03.04.16", "2016-04-03", "2016-03-04"),
        ("05-06-2019", "2019-06-05", "2019-05-06"),
        ("Posted on 03/04/2016 by", "2016-04-03", "2016-03-04"),
    ],
)
def test_an_ambiguous_numeric_date_has_no_order_and_follows_day_first(line, british, american):
    [uk] = find_dates(line, day_first=True)
    [us] = find_dates(line, day_first=False)
    assert uk.order is None and us.order is None
    assert uk.value.date().isoformat() == british
    assert us.value.date().isoformat() == american


def test_a_month_name_date_is_not_numeric_and_needs_no_order():
    [hit] = find_dates("3 April 2016")
    assert not hit.numeric and hit.order is None


def test_an_ambiguous_numeric_date_read_by_the_locale_is_a_guess():
    [ambiguous] = find_dates("Posted on 03/04/2016 by")
    [decided] = find_dates("Posted on 23/06/2016 by")
    [named] = find_dates("Posted on 3 April 2016 by")
    assert date_source(ambiguous, decided_by_page=False) is DateSource.TEXT_GUESS
    assert date_source(ambiguous, decided_by_page=True) is DateSource.TEXT
    assert date_source(decided, decided_by_page=False) is DateSource.TEXT
    assert date_source(named, decided_by_page=False) is DateSource.TEXT


@pytest.mark.parametrize(
    ("text", "orders"),
    [
        ("Posted 23/06/2016 and 03/04/2016", {"dmy"}),
        ("Minutes of 14.03.2019 meeting", {"dmy"}),
        ("Filed 9/29/09", {"mdy"}),
        ("Agenda 23/06/2016, minutes 9/29/2016", {"dmy", "mdy"}),
        ("03/04/2016", set()),
        ("2016-06-23", set()),  # ISO has a fixed order
        ("Release 2.13.1 and 1.2.3.4", set()),
        ("13/13/2019 and 32/01/2019", set()),  # no real day and month
        ("No dates on this page at all", set()),
    ],
)
def test_numeric_orders_are_the_orders_a_page_s_numbers_decide(text, orders):
    assert numeric_orders(text) == orders


@pytest.mark.parametrize(
    ("text", "ambiguous"),
    [
        ("03.04.2016", True),
        (" 03/04/16 ", True),
        ("2016-04-03", False),
        ("23/06/2016", False),
        ("04.04.2016", False),  # either way it is the same day
        ("3 April 2016", False),
    ],
)
def test_only_numeric_dates_whose_day_and_month_could_swap_are_ambiguous(text, ambiguous):
    assert is_ambiguous(text) is ambiguous


def test_dates_are_timezone_aware_in_the_site_zone_unless_they_say_otherwise():
    summer = parse_date("23 June 2016", LONDON)
    assert summer.utcoffset().total_seconds() == 3600
    explicit = parse_date("2016-06-23T10:00:00+02:00", LONDON)
    assert explicit == datetime.fromisoformat("2016-06-23T08:00:00+00:00")


@pytest.mark.parametrize(
    ("text", "day_first", "moment"),
    [
        ("23 December 2015", True, "2015-12-23T00:00:00+00:00"),  # winter: GMT
        ("  2016-06-23  ", True, "2016-06-23T00:00:00+01:00"),
        ("2016-06-23T10:00:00Z", True, "2016-06-23T10:00:00+00:00"),
        ("03/04/2016", True, "2016-04-03T00:00:00+01:00"),
        ("03/04/2016", False, "2016-03-04T00:00:00+00:00"),
    ],
)
def test_parse_date_reads_in_the_site_zone_and_locale(text, day_first, moment):
    assert parse_date(text, LONDON, day_first).isoformat() == moment


@pytest.mark.parametrize("text", ["16 June", "February 2014", "not a date"])
def test_parse_date_needs_a_day_month_and_year(text):
    assert parse_date(text, LONDON) is None


def test_a_hit_made_aware_takes_the_site_zone():
    [hit] = find_dates("23 June 2016 at 10:00")
    assert hit.value.tzinfo is None
    assert hit.aware(LONDON).isoformat() == "2016-06-23T10:00:00+01:00"


# --- defects found by this file's first draft, each failing before its fix ---


def test_a_zone_written_after_the_time_is_kept_not_replaced_by_the_sites():
    assert parse_date("23 June 2016 10:00 EDT", LONDON).isoformat() == "2016-06-23T10:00:00-04:00"
    assert parse_date("23 June 2016 10:00 +02:00", LONDON).utcoffset().total_seconds() == 7200
    # no zone named: the site's
    assert parse_date("23 June 2016 10:00", LONDON).isoformat() == "2016-06-23T10:00:00+01:00"


def test_an_iso_timestamp_in_utc_is_found_whole():
    [hit] = find_dates("Published 2017-03-27T09:15:30Z")
    assert hit.aware(LONDON).isoformat() == "2017-03-27T09:15:30+00:00"
