"""Each reader their own digest, rendered once per distinct list of posts.

An issue holds every new post of its slot (store.digests): that is the site's issue,
its public page, and what a reader of the whole site, weekly, gets (edition 0). A
reader who chose topics or sources gets the issue's posts that match; a monthly
reader, the matching posts of every issue since their last digest (`served`). The
readers due are grouped by what they chose and when they were last served
(store.editions); each group's list of posts is rendered once, however many groups
(or readers) share it, and the store queues each reader at their group's rendering
in the transaction that issues the issue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from postroom.content.intro import Intro, read_intro
from postroom.core.config import Site
from postroom.core.model import Cadence, Post, ReadError, newest_first
from postroom.core.schedule import is_monthly_slot
from postroom.core.selection import Selection
from postroom.emails.render import render_digest
from postroom.store import Store
from postroom.store.digests import Issue
from postroom.store.editions import Due, Edition, Group, Plan, groups, issued_posts_between


def due_at(site: Site, slot: datetime | None, now: datetime | None = None) -> Due:
    """Who is due at `slot` (one of `digest.schedule`'s): weekly readers, and monthly ones
    at `digest.monthly`'s slots. With no slot (an issue sent by hand `now`), weekly ones.
    On a site with no `digest.monthly` (never set, or since removed), readers who chose
    monthly (an import's column, say) are weekly ones: never due, they would get nothing."""
    digest = site.config.digest
    cadences = {Cadence.WEEKLY} if digest.monthly else {Cadence.WEEKLY, Cadence.MONTHLY}
    if slot is None:
        assert now is not None
        return Due(frozenset(cadences), digest.cadence, now)
    if digest.monthly and is_monthly_slot(digest.monthly, site.config.tz, slot):
        cadences.add(Cadence.MONTHLY)
    return Due(frozenset(cadences), digest.cadence, slot)


def plan_issue(
    site: Site,
    store: Store,
    issue: Issue,
    fresh: Sequence[Post],
    due: Due,
    intro: Intro | None = None,
    first_edition: int = 1,
) -> Plan:
    """Who of `due` gets which rendering of `issue`. `fresh` are the issue's posts when it
    is not issued yet (being made, or waiting after its proof): they are owed to every
    group besides the issued issues after the group's `served`. Edition 0 (the issue's
    own parts) serves any group whose posts are exactly the issue's; other lists are
    rendered once each, numbered from `first_edition`."""
    own = tuple(issue.post_ids)
    by_id = {p.id: p for p in fresh}
    owed: dict[int, list[str]] = {}  # served -> the issued posts after it, in issue order
    editions: dict[tuple[str, ...], int] = {own: 0}
    made: list[Edition] = []
    planned: list[Group] = []
    found = groups(store, due, issue.number, waiting=bool(fresh))
    intro = intro or (_intro_of(site, issue) if found else None)  # read once, not per edition
    if any(g.served < issue.number - 1 or not fresh for g in found):
        by_id = {p.id: p for p in store.posts()} | by_id  # older issues' posts, as they are
    for group in found:
        if group.served not in owed:
            owed[group.served] = issued_posts_between(store, group.served, issue.number)
        ids = [i for i in owed[group.served] if i in by_id] + [p.id for p in fresh]
        selection = Selection.from_stored(group.topics, group.sources)
        posts = sorted(
            {i: by_id[i] for i in ids if selection.matches(by_id[i])}.values(),
            key=newest_first,
            reverse=True,
        )
        key = tuple(p.id for p in posts)
        if not key:
            planned.append(group)
            continue
        if key not in editions:
            editions[key] = first_edition + len(made)
            shown = render_digest(site, issue.number, posts, intro, edition=True)
            made.append(Edition(editions[key], shown.subject, shown.html, shown.text, key))
        planned.append(replace(group, edition=editions[key]))
    return Plan(due, tuple(made), tuple(planned))


def _intro_of(site: Site, issue: Issue) -> Intro | None:
    """The intro `issue` was frozen with: the file itself while it is unchanged (its
    subject too), else the words kept with the issue."""
    if not issue.intro_sha256:
        return None
    try:
        now = read_intro(site)
    except ReadError:
        now = None
    if now is not None and now.sha256 == issue.intro_sha256:
        return now
    return Intro(issue.intro_html, None, issue.intro_sha256)
