"""`postroom check`: every post and every problem, at the terminal or as JSON; and the
scan each command makes first, with its progress (`scan_here`)."""

from __future__ import annotations

import json
import sys

from postroom.content.intake import WAITING, ScanReport, scan, shown_name
from postroom.content.intro import INTRO_PATH
from postroom.content.linkfiles import listed_links
from postroom.content.readers import attribution_problems
from postroom.core.config import CONFIG_NAME, id_authority_advice, local_base_url_warning
from postroom.core.model import DateSource, Problem, Severity
from postroom.core.republish import unmatched_sources
from postroom.emails.issues import next_intro
from postroom.feeds.theme import override_problems
from postroom.service.command import Context, Exit, say
from postroom.service.progress import Reporter
from postroom.service.status import follow_json, link_problems, post_json


def scan_here(ctx: Context) -> ScanReport:
    """A command's scan, for the person at the terminal: its progress, and why it waits
    when another scan of the site runs."""
    with Reporter("scan", "files", say) as progress:
        return scan(
            ctx.site, ctx.store, ctx.clock(), on_wait=lambda: say(WAITING), progress=progress
        )


def fetching_problems(ctx: Context) -> list[Problem]:
    """What the service cannot fetch: lines of a links file that are no links, listed
    links that failed (with their next try), followed feeds whose last poll failed."""
    _, found = listed_links(ctx.site.content_dir)
    found += link_problems(ctx.store, ctx.site.config.tz)
    for feed in follow_json(ctx.site, ctx.store):
        if feed["last_error"]:
            found.append(Problem(f"[[follow]] {feed['name']}", feed["last_error"]))
    return found


def check(ctx: Context, *, as_json: bool = False) -> int:
    """Scan, then list the posts (newest first) and every problem; 1 if one is an error."""
    for warning in filter(None, (local_base_url_warning(ctx.site), id_authority_advice(ctx.site))):
        say(f"warning: {warning}")
    for problem in override_problems(ctx.site):  # your own design: packaged templates used
        say(f"warning: {problem}; the packaged template is used")
    report = scan_here(ctx)
    places = ctx.store.places()
    # newest first; posts of one date (a listing picked up at once) in the page's order
    posts = sorted(
        ctx.store.posts(), key=lambda p: (-p.date.timestamp(), places.get(p.id, ("", 0)), p.id)
    )
    problems = list(report.problems) + [w for p in posts for w in attribution_problems(p)]
    _, why_not = next_intro(ctx.site, ctx.store)  # the next issue's intro, left out: say why
    if why_not:
        problems.append(Problem(INTRO_PATH, why_not.removeprefix(f"{INTRO_PATH} ")))
    problems += fetching_problems(ctx)
    problems += [
        Problem(CONFIG_NAME, f'[sources."{name}"] matches no post\'s source: is it spelt so?')
        for name in unmatched_sources(ctx.site.config, posts)
    ]
    if as_json:
        out = {
            "posts": [post_json(p, ctx.site.config) for p in posts],
            "problems": [p.as_json() for p in problems],
        }
        json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        for p in posts:
            a = p.attribution
            role = f" ({a.author_role})" if a.author_role else ""
            by = f" by {a.author}{role}" if a.author else ""
            src = f", {a.source}" if a.source else ""
            note = " [date guessed]" if p.date_source is DateSource.TEXT_GUESS else ""
            note = " [no date: picked-up time]" if p.date_source is DateSource.PICKED_UP else note
            print(f"{p.date:%Y-%m-%d} {p.title}{by}{src}{note}")
        print(f"{len(posts)} posts, {len(problems)} problems")
        for p in problems:
            print(f"  {p.severity.value:7} {shown_name(p.file)}: {p.reason}")
    return Exit.FAILED if any(p.severity is Severity.ERROR for p in problems) else Exit.OK
