"""`postroom follow list|check`: the feeds a site follows, as the service last found them,
or as they are now (service.follow)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import datetime

from postroom.service.command import Context, Exit
from postroom.service.status import follow_json


def listing(ctx: Context, *, as_json: bool = False) -> int:
    """Each followed feed with its last good poll, its last error and its next poll."""
    feeds = follow_json(ctx.site, ctx.store)
    if as_json:
        json.dump(feeds, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return Exit.OK
    if not feeds:
        print("no feeds followed: add a [[follow]] table with a url to postroom.toml")
        return Exit.OK
    tz = ctx.site.config.tz
    for feed in feeds:
        print(f"{feed['name']}  {feed['url']}")
        print(f"  entries seen: {feed['entries_seen']}")
        print(f"  last fetched: {_local(feed['last_ok'], tz) or 'never'}")
        if feed["last_error"]:
            print(f"  last error:   {feed['last_error']}")
        print(f"  next poll:    {_local(feed['next_poll'], tz) or 'when the service runs'}")
    return Exit.OK


def check(ctx: Context, *, as_json: bool = False) -> int:
    """Fetch and read every followed feed now, writing nothing; 1 if one cannot be read."""
    from postroom.service.fetching import Fetcher  # the fetch and parse stacks
    from postroom.service.follow import Follower, check_feeds

    found = check_feeds(Follower(Fetcher(ctx.site, ctx.store)))
    if as_json:
        json.dump([asdict(f) for f in found], sys.stdout, ensure_ascii=False, indent=2)
        print()
    elif not found:
        print("no feeds followed: add a [[follow]] table with a url to postroom.toml")
    for f in [] if as_json else found:
        if f.error:
            print(f"error   {f.name}: {f.error}")
        else:
            filtered = f", {f.filtered} filtered out" if f.filtered else ""
            print(f"ok      {f.name}: {f.kind}, {f.entries} entries, {f.new} new{filtered}")
    return Exit.FAILED if any(f.error for f in found) else Exit.OK


def _local(moment: str | None, tz) -> str:
    if not moment:
        return ""
    return f"{datetime.fromisoformat(moment).astimezone(tz):%Y-%m-%d %H:%M %Z}"
