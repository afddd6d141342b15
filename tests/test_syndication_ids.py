"""Entry ids (feeds/syndication.py) as they always were: the day in a tag URI written
without strftime, and the id authority worked out once per site, never another's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from postroom.feeds.syndication import tag_uri
from support import make_site


def test_a_tag_uris_day_is_strftimes_in_utc_in_every_year(tmp_path):
    site = make_site(tmp_path / "site")
    east = timezone(timedelta(hours=14))
    for minted in (
        datetime(2026, 12, 31, 23, 59, tzinfo=UTC),
        datetime(2027, 1, 1, 5, 0, tzinfo=east),  # 2026-12-31 in UTC
        datetime(1000, 1, 1, tzinfo=UTC),
        datetime(999, 12, 31, tzinfo=UTC),  # strftime pads no year below 1000
        datetime(9999, 12, 31, tzinfo=UTC),
    ):
        day = f"{minted.astimezone(UTC):%Y-%m-%d}"
        assert tag_uri(site, minted, "x") == f"tag:notes.example.org,{day}:x"


def test_each_site_mints_under_its_own_authority(tmp_path):
    """Two sites built one after the other in one process (a service, the tests): the
    authority kept for the first is never the second's."""
    one = make_site(tmp_path / "one")
    two = make_site(tmp_path / "two", config='[site]\nbase_url = "https://other.example/"\n')
    pinned = make_site(
        tmp_path / "three",
        config='[site]\nbase_url = "https://x.example/"\nid_authority = "x.invalid,2026-12-02"\n',
    )
    minted = datetime(2026, 12, 4, tzinfo=UTC)
    for _ in range(2):
        assert tag_uri(one, minted, "p") == "tag:notes.example.org,2026-12-04:p"
        assert tag_uri(two, minted, "p") == "tag:other.example,2026-12-04:p"
        assert tag_uri(pinned, minted, "p") == "tag:x.invalid,2026-12-02:2026-12-04/p"
