"""The time postroom decides by: real time, moved by POSTROOM_CLOCK_OFFSET in drills.

Which digest slot is due, when a deferred message may go again and when a
lease lapses all read this clock, so a test can start the service "two days
after Monday 07:00" without waiting two days. Every process on a site reads
the same variable, so they agree on the time. Leave it unset in production.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

OFFSET_ENV = "POSTROOM_CLOCK_OFFSET"

Clock = Callable[[], datetime]


class ClockError(ValueError):
    """The offset variable holds something that is not a number of seconds."""


def clock_from_env(environ: Mapping[str, str] = os.environ) -> Clock:
    raw = environ.get(OFFSET_ENV, "").strip()
    if not raw:
        return lambda: datetime.now(UTC)
    try:
        offset = timedelta(seconds=float(raw))
        datetime.now(UTC) + offset  # a date past year 9999 fails here, not mid-run
    except (ValueError, OverflowError):
        raise ClockError(f"${OFFSET_ENV} must be a number of seconds, not {raw!r}") from None
    return lambda: datetime.now(UTC) + offset
