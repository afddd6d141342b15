from datetime import datetime
from zoneinfo import ZoneInfo

from content.dates import is_ambiguous, parse_date, read_date_line
from content.model import DateSource

LONDON = ZoneInfo("Europe/London")


def test_ambiguous_numeric_date_follows_locale_and_is_a_guess():
    british = read_date_line("Posted on 03/04/2016 by", LONDON, day_first=True)
    american = read_date_line("Posted on 03/04/2016 by", LONDON, day_first=False)
    assert british.date.date().isoformat() == "2016-04-03"
    assert american.date.date().isoformat() == "2016-03-04"
    assert british.source is DateSource.TEXT_GUESS


def test_unambiguous_numeric_date_is_not_a_guess():
    line = read_date_line("Posted on 23/06/2016 by", LONDON, day_first=False)
    assert line.date.date().isoformat() == "2016-06-23"
    assert line.source is DateSource.TEXT
    assert not is_ambiguous("2016-04-03") and is_ambiguous("03.04.2016")


def test_byline_date_carries_its_author():
    line = read_date_line("Posted on 23/06/2016 by Jane Doe", LONDON)
    assert line.byline and line.author == "Jane Doe"
    assert not read_date_line("Wednesday, 19 April 2017", LONDON).byline


def test_lines_that_are_not_dates():
    for line in (
        "3.5/7.5",
        "Top 10 tips for 2017",
        "12 December",
        "Bottom Up",
        "The council had 40 unallocated cases in 2016 and more in 2017, it said.",
    ):
        assert read_date_line(line, LONDON) is None, line


def test_dates_are_timezone_aware_in_the_site_zone_unless_they_say_otherwise():
    summer = parse_date("23 June 2016", LONDON)
    assert summer.utcoffset().total_seconds() == 3600
    explicit = parse_date("2016-06-23T10:00:00+02:00", LONDON)
    assert explicit == datetime.fromisoformat("2016-06-23T08:00:00+00:00")
