"""The digest's weekly slot: "mon 07:00" in the site's timezone, DST-correct.

Weekday names, never numbers (APScheduler 3 counts Monday as 0, cron as 1).
A slot is a wall-clock time: 07:00 in London is 07:00 GMT in winter and 07:00
BST in summer. A time that does not exist on a spring-forward day is moved
past the gap; one that happens twice on an autumn day is the first.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_schedule(rule: str) -> tuple[int, time]:
    """'mon 07:00' -> (0, 07:00); ValueError with a readable reason."""
    day, _, clock = rule.strip().lower().partition(" ")
    if day[:3] not in WEEKDAYS or not clock:
        raise ValueError(f"must be a weekday name and a time, as in 'mon 07:00', not {rule!r}")
    try:
        at = time.fromisoformat(clock.strip())
    except ValueError:
        raise ValueError(f"{clock.strip()!r} is not a time such as 07:00") from None
    return WEEKDAYS.index(day[:3]), at


def _reason(parse: Callable[[str], object], rule: str) -> str | None:
    """Why `parse` refuses `rule` (the config's message), or None."""
    try:
        parse(rule)
    except ValueError as exc:
        return str(exc)
    return None


def schedule_error(rule: str) -> str | None:
    return _reason(parse_schedule, rule)


def _at(day: datetime, at: time, tz: ZoneInfo) -> datetime:
    wall = datetime.combine(day.date(), at, tzinfo=tz)
    # a wall time in a spring-forward gap does not survive a round trip through UTC
    real = wall.astimezone(UTC).astimezone(tz)
    return real if real.replace(tzinfo=None) != wall.replace(tzinfo=None) else wall


def latest_slot(rule: str, tz: ZoneInfo, now: datetime) -> datetime:
    """The most recent slot at or before `now`, in UTC (a wall time that happens twice
    never compares equal across zones, PEP 495; UTC instants always do)."""
    weekday, at = parse_schedule(rule)
    local = now.astimezone(tz)
    day = local - timedelta(days=(local.weekday() - weekday) % 7)
    slot = _at(day, at, tz).astimezone(UTC)
    if slot > now:
        slot = _at(day - timedelta(days=7), at, tz).astimezone(UTC)
    return slot


def next_slot(rule: str, tz: ZoneInfo, now: datetime) -> datetime:
    """The first slot after `now`, in UTC."""
    week_later = latest_slot(rule, tz, now).astimezone(tz) + timedelta(days=7)
    return _at(week_later, parse_schedule(rule)[1], tz).astimezone(UTC)


#: the week of the month a monthly slot falls in ("last": the month's last such weekday)
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}


def parse_monthly(rule: str) -> tuple[int, str]:
    """'first mon 07:00' -> (1, 'mon 07:00'): the week of the month, and the weekly rule
    whose slots it picks from; ValueError with a readable reason."""
    ordinal, _, weekly = rule.strip().lower().partition(" ")
    try:
        if ordinal not in ORDINALS:
            raise ValueError(ordinal)
        parse_schedule(weekly)
    except ValueError:
        raise ValueError(
            f"must be first, second, third, fourth or last, then a weekday and a time, as in"
            f" 'first mon 07:00', not {rule!r}"
        ) from None
    return ORDINALS[ordinal], weekly.strip()


def monthly_error(rule: str) -> str | None:
    return _reason(parse_monthly, rule)


def is_monthly_slot(rule: str, tz: ZoneInfo, slot: datetime) -> bool:
    """Whether `slot` (one of the weekly rule's slots) is in the week of the month that
    `rule` names, counted in the site's timezone."""
    ordinal, _weekly = parse_monthly(rule)
    local = slot.astimezone(tz)
    if ordinal == -1:
        return (local + timedelta(days=7)).month != local.month
    return (local.day - 1) // 7 + 1 == ordinal
