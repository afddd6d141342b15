"""What the `--json` options print: `check --json`'s posts, `status --json`,
`digest status --json` and `subscribers list --json`.

Scripts and monitoring read these: every key, and the form of every value, is a
contract. A new key may be added; none is renamed or dropped.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from postroom.core.config import Config, Site
from postroom.core.model import Post, Problem
from postroom.core.process import this_process
from postroom.core.republish import republish_of
from postroom.core.schedule import next_slot
from postroom.service.daemon import Service
from postroom.service.websub import status as websub_status
from postroom.store import Store
from postroom.store.activity import last
from postroom.store.bounces import Kind, pauses
from postroom.store.bounces import counts as bounce_counts
from postroom.store.digests import all_issues, slots_of_waiting_issues, waiting_issues
from postroom.store.fetched import TargetKind, entries_seen, targets
from postroom.store.leases import role_lease
from postroom.store.outbox import Outbox, State
from postroom.store.subscribers import Subscriber


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
    outbox = Outbox(store, this_process())
    counts = outbox.counts()
    reports, held = bounce_counts(store), pauses(store)
    slots = slots_of_waiting_issues(store)
    out = []
    issues = sorted([*all_issues(store), *waiting_issues(store)], key=lambda i: i.number)
    for issue in issues:
        c = counts.get(issue.number, {})
        slot = slots.get(issue.number)
        out.append(
            {
                "issue": issue.number,
                "created_at": issue.created_at,
                "subject": issue.subject,
                "posts": len(issue.post_ids),
                "queued": c.get(State.PENDING, 0) + c.get(State.SENDING, 0),
                "sent": c.get(State.SENT, 0),
                "deferred": c.get(State.DEFERRED, 0),
                "failed": c.get(State.FAILED, 0),
                "skipped": c.get(State.SKIPPED, 0),
                "next_retry": outbox.next_retry(issue.number),
                # reports that came back later (`postroom bounces`)
                "bounced": reports.get(issue.number, {}).get(Kind.HARD, 0),
                "soft_bounced": reports.get(issue.number, {}).get(Kind.SOFT, 0),
                "complained": reports.get(issue.number, {}).get(Kind.COMPLAINT, 0),
                # why this issue paused sending, until `digest resume`; null: it did not
                "paused": held[issue.number].reason if issue.number in held else None,
                "state": issue.stage.value,
                "slot": slot.isoformat() if slot else None,
            }
        )
    return out


def status_json(site: Site, store: Store, now: datetime) -> dict:
    """`status --json`: what the service did last and what is due. "scheduler" is the
    process holding the service's lease ("host:pid"), null when none runs the site."""
    scanned, built = last(store, "scan"), last(store, "build")
    issued = [i for i in issue_status_json(store) if i["state"] == "issued"]
    build_problems = built.data.get("problems", []) if built else []
    config = site.config
    return {
        "last_scan": {"at": scanned.at, **scanned.data} if scanned else None,
        "last_build": (
            {"at": built.at, **{k: v for k, v in built.data.items() if k != "problems"}}
            if built
            else None
        ),
        "posts": store.count_posts(),
        "next_digest": next_slot(config.digest.schedule, config.tz, now).isoformat(),
        "last_issue": issued[-1] if issued else None,
        "problems": unique_problems(
            [p.as_json() for p in [*store.problems(), *link_problems(store, config.tz)]]
            + build_problems
        ),
        "scheduler": role_lease(store, Service.LEASE).current_holder(now),
        "follows": follow_json(site, store),
        # the WebSub hub, the feeds still owed to it and its last answer; null without one
        "websub": websub_status(store, config.site.websub_hub),
    }


def follow_json(site: Site, store: Store) -> list[dict]:
    """Each followed feed, as `status --json` ("follows") and `follow list --json` give it:
    url, name, last_ok, last_error, next_poll (ISO 8601 UTC, or null) and entries_seen."""
    known = targets(store, TargetKind.FEED)
    counts = entries_seen(store, [f.url for f in site.config.follow])
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
    out = []
    for target in targets(store, TargetKind.LINK).values():
        if target.last_error:
            when = datetime.fromisoformat(target.next_try).astimezone(tz)
            tries = f"tried {target.failures} times" if target.failures > 1 else "tried once"
            reason = f"{target.last_error} ({tries}; next try {when:%Y-%m-%d %H:%M})"
            out.append(Problem(target.listed_in, reason))
    return sorted(out, key=lambda p: (p.file, p.reason))


def unique_problems(problems: list[dict]) -> list[dict]:
    """A file the scan and the build both complain of, for the same reason, is listed once."""
    seen: dict[tuple[str, str], dict] = {}
    for p in problems:
        seen.setdefault((p["file"], p["reason"]), p)
    return list(seen.values())
