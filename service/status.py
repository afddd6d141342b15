"""What the `--json` options print: `check --json`'s posts, `status --json`,
`digest status --json` and `subscribers list --json`.

Scripts and monitoring read these: every key, and the form of every value, is a
contract. A new key may be added; none is renamed or dropped.

`status` and `digest status` are shaped here from what store.peek reads, either way it
reads it: through the Store, or (the command line's `status` on SQLite) through a
read-only sqlite3 connection, so that `status` loads neither SQLAlchemy nor the
service's modules (tests/test_startup.py). Keep this module's imports light.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from postroom.core.config import Config, Site
from postroom.core.model import Post, Problem
from postroom.core.republish import republish_of
from postroom.core.schedule import next_slot

if TYPE_CHECKING:  # each imports SQLAlchemy: `status` on a SQLite site runs without it
    from postroom.store import Store
    from postroom.store.peek import Peek
    from postroom.store.subscribers import Subscriber

#: the service's lease in the store: service.daemon.Service.LEASE, named here so that
#: `status` need not import the service (tests/test_startup.py checks the two agree)
SERVICE_LEASE = "service"
#: the store's record of the WebSub pings owed: service.websub.ACTIVITY, likewise
WEBSUB_ACTIVITY = "websub"


def post_json(post: Post, config: Config) -> dict:
    """A post as `check --json` gives it, with the republishing rule it is shown by."""
    a = post.attribution
    return {
        "id": post.id,
        "title": post.title,
        "date": post.date.isoformat(),
        "date_source": post.date_source.value,
        "author": a.author,
        "author_role": a.author_role,
        "source": a.source,
        "source_url": a.url,
        "files": list(post.files),
        "tags": list(post.tags),
        "body_start": post.body_start,
        "republish": republish_of(config, post).value,
        "image": post.image.url if post.image else None,
    }


def subscriber_json(subscriber: Subscriber) -> dict:
    """One address as `subscribers list --json` gives it."""
    return {
        "address": subscriber.address,
        "name": subscriber.name,
        "status": subscriber.status.value,
        "created_at": subscriber.created_at,
        "updated_at": subscriber.updated_at,
    }


def issue_status_json(store: Store) -> list[dict]:
    """`digest status --json`: one object per issue, oldest first. `state` is "issued"
    (mailed, or being mailed), "proof" (frozen for the curator's proof, going out at
    `slot`) or "held" (held by the curator: it waits to be sent); `slot` is the UTC time
    of the slot an issue awaits, null once issued."""
    return issues_json(_peek(store))


def issues_json(peek: Peek) -> list[dict]:
    """`issue_status_json` from either way of reading the store (store.peek)."""
    out = []
    for issue in peek.issues():
        c, reports = issue.states, issue.reports
        slot = datetime.fromisoformat(issue.slot) if issue.slot else None
        out.append(
            {
                "issue": issue.number,
                "created_at": issue.created_at,
                "subject": issue.subject,
                "posts": issue.posts,
                "queued": c.get("pending", 0) + c.get("sending", 0),
                "sent": c.get("sent", 0),
                "deferred": c.get("deferred", 0),
                "failed": c.get("failed", 0),
                "skipped": c.get("skipped", 0),
                "next_retry": issue.next_retry,
                # reports that came back later (`postroom bounces`)
                "bounced": reports.get("hard", 0),
                "soft_bounced": reports.get("soft", 0),
                "complained": reports.get("complaint", 0),
                # why this issue paused sending, until `digest resume`; null: it did not
                "paused": issue.paused,
                "state": issue.stage,
                "slot": slot.isoformat() if slot else None,
            }
        )
    return out


def status_json(site: Site, store: Store, now: datetime) -> dict:
    """`status --json`: what the service did last and what is due. "scheduler" is the
    process holding the service's lease ("host:pid"), null when none runs the site."""
    return status_of(site, _peek(store), now)


def status_of(site: Site, peek: Peek, now: datetime) -> dict:
    """`status_json` from either way of reading the store: the command line reads a
    SQLite store without SQLAlchemy (store.peek.SqlitePeek)."""
    scanned, built = peek.activity("scan"), peek.activity("build")
    issued = [i for i in issues_json(peek) if i["state"] == "issued"]
    build_problems = built.data.get("problems", []) if built else []
    config = site.config
    return {
        "last_scan": {"at": scanned.at, **scanned.data} if scanned else None,
        "last_build": (
            {"at": built.at, **{k: v for k, v in built.data.items() if k != "problems"}}
            if built
            else None
        ),
        "posts": peek.count_posts(),
        "next_digest": next_slot(config.digest.schedule, config.tz, now).isoformat(),
        "last_issue": issued[-1] if issued else None,
        "problems": unique_problems(
            [p.as_json() for p in [*peek.problems(), *_link_problems(peek, config.tz)]]
            + build_problems
        ),
        "scheduler": peek.lease_holder(SERVICE_LEASE, now),
        "follows": _follows(site, peek),
        # the WebSub hub, the feeds still owed to it and its last answer; null without one
        "websub": _websub(peek, config.site.websub_hub),
    }


def follow_json(site: Site, store: Store) -> list[dict]:
    """Each followed feed, as `status --json` ("follows") and `follow list --json` give it:
    url, name, last_ok, last_error, next_poll (ISO 8601 UTC, or null) and entries_seen."""
    return _follows(site, _peek(store))


def _follows(site: Site, peek: Peek) -> list[dict]:
    known = peek.targets("feed")  # store.fetched.TargetKind.FEED
    counts = peek.entries_seen([f.url for f in site.config.follow])
    out = []
    for follow in site.config.follow:
        target = known.get(follow.url)
        out.append(
            {
                "url": follow.url,
                "name": follow.source(target.title if target else ""),
                "last_ok": (target.last_ok or None) if target else None,
                "last_error": (target.last_error or None) if target else None,
                "next_poll": (target.next_try or None) if target else None,
                "entries_seen": counts.get(follow.url, 0),
            }
        )
    return out


def link_problems(store: Store, tz: tzinfo) -> list[Problem]:
    """Listed links not fetched yet for a reason, each with it and the next try."""
    return _link_problems(_peek(store), tz)


def _link_problems(peek: Peek, tz: tzinfo) -> list[Problem]:
    out = []
    for target in peek.targets("link").values():  # store.fetched.TargetKind.LINK
        if target.last_error:
            when = datetime.fromisoformat(target.next_try).astimezone(tz)
            tries = f"tried {target.failures} times" if target.failures > 1 else "tried once"
            reason = f"{target.last_error} ({tries}; next try {when:%Y-%m-%d %H:%M})"
            out.append(Problem(target.listed_in, reason))
    return sorted(out, key=lambda p: (p.file, p.reason))


def _websub(peek: Peek, hub: str) -> dict | None:
    """service.websub.status, read either way: the hub, the feeds owed and the last
    outcome; null without a hub."""
    if not hub:
        return None
    kept = peek.activity(WEBSUB_ACTIVITY)
    data = kept.data if kept else {}
    return {
        "hub": hub,
        "owed": len(data.get("owed", [])),
        "last": data.get("last"),  # at, outcome (told, refused, deferred), feeds, detail
    }


def unique_problems(problems: list[dict]) -> list[dict]:
    """A file the scan and the build both complain of, for the same reason, is listed once."""
    seen: dict[tuple[str, str], dict] = {}
    for p in problems:
        seen.setdefault((p["file"], p["reason"]), p)
    return list(seen.values())


def _peek(store: Store) -> Peek:
    from postroom.store.peek import StorePeek  # with the Store, SQLAlchemy is here already

    return StorePeek(store)
