"""Past email digest issues under public/digests/: each issue's page, an index, an Atom feed.

An issue's page is the email as frozen, so it reads as it was sent, less the
one part that was per recipient: the personal footer (address, unsubscribe
link). `emails` imports `feeds`, never the reverse, so the caller hands issues
over as `ArchivedIssue`s.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from markupsafe import escape
from postroom.core.config import Site
from postroom.core.model import Problem, Severity
from postroom.core.sanitize import one_line
from postroom.feeds.pages import render_page
from postroom.feeds.syndication import EPOCH, atom_bytes, feed_head, finish, tag_uri

FOLDER = "digests/"
# The frozen email's per-recipient block (emails/templates/digest.html) and its placeholders
# (emails.render.ADDRESS, UNSUBSCRIBE_URL): none of them may reach a public page.
_PERSONAL = re.compile(r"<!-- personal -->.*?<!-- /personal -->", re.S)
_PLACEHOLDER = re.compile(r"%%[A-Z_]+%%")


@dataclass(frozen=True)
class ArchivedIssue:
    """One issue as frozen: `html` is the whole CSS-inlined email, placeholders and all."""

    number: int
    created_at: datetime  # timezone-aware
    subject: str
    html: str
    post_ids: tuple[str, ...]
    intro_html: str = ""  # the curator's intro frozen with it (sanitized HTML), "" for none


def issue_url(site: Site, number: int) -> str:
    """The issue's "view in browser" page (the link the email carries)."""
    return f"{site.base_url}{FOLDER}{number}/"


def feed_title(site: Site) -> str:
    return f"{one_line(site.config.site.title) or site.base_url}: email digest"


def _refusal(issue: ArchivedIssue) -> str | None:
    """Why an issue cannot be archived (its page would leak a placeholder), or None."""
    if issue.created_at.utcoffset() is None:
        return f"created_at {issue.created_at.isoformat()} has no timezone"
    if (blocks := len(_PERSONAL.findall(issue.html))) != 1:
        return f"{blocks} personal footer blocks in its HTML, not one"
    if _PLACEHOLDER.search(_PERSONAL.sub("", issue.html)):
        return "a personal placeholder outside the personal footer"
    return None


def _style(block: str, tag: str) -> str:
    """The inlined style of the block's first `tag`, so the new footer looks like the old."""
    found = re.search(rf'<{tag}\b[^>]*?\sstyle="([^"]*)"', block)
    return f' style="{found.group(1)}"' if found else ""


def browser_page(site: Site, issue: ArchivedIssue) -> bytes:
    """The frozen email with its personal footer swapped for links to the archive and the
    site, and the digest feed for autodiscovery. `issue` must pass `_refusal`."""
    found = _PERSONAL.search(issue.html)
    block = found.group() if found else ""
    base, title, a = escape(site.base_url), escape(site.config.site.title), _style(block, "a")
    footer = (
        f'<p class="foot"{_style(block, "p")}>From the {title} email digest · '
        f'<a href="{base}{FOLDER}"{a}>All issues</a> · <a href="{base}"{a}>{title}</a></p>'
    )
    feed = (
        f'<link rel="alternate" type="application/atom+xml" title="{escape(feed_title(site))}"'
        f' href="{base}{FOLDER}atom.xml">\n</head>'
    )
    page = _PERSONAL.sub(lambda _: footer, issue.html, count=1)
    return page.replace("</head>", feed, 1).encode()


def _posts(issue: ArchivedIssue) -> str:
    return f"{len(issue.post_ids)} post{'s' if len(issue.post_ids) != 1 else ''}"


def digest_atom(site: Site, issues: Sequence[ArchivedIssue], since: datetime = EPOCH) -> bytes:
    """Atom, newest issue first; `updated` is the newest issue's (before the first issue,
    `since`: the site's first build), never the clock's."""
    fg = feed_head(
        site, FOLDER, feed_title(site), "atom.xml", "application/atom+xml", site.base_url + FOLDER
    )
    fg.updated(max((issue.created_at for issue in issues), default=since))
    for issue in issues:
        url = issue_url(site, issue.number)
        fe = fg.add_entry(order="append")
        fe.id(tag_uri(site, issue.created_at, f"digest-{issue.number}"))
        fe.title(issue.subject)
        fe.link(href=url, rel="alternate", type="text/html")
        fe.published(issue.created_at)
        fe.updated(issue.created_at)
        fe.summary(f"Issue {issue.number}: {_posts(issue)}.")
        fe.content(
            f"{issue.intro_html}\n" * bool(issue.intro_html)
            + f'<p><a href="{escape(url)}">{escape(issue.subject)}</a>: {_posts(issue)}.</p>',
            type="html",
        )
    return finish(atom_bytes(fg), f"{FOLDER}atom.xml")


def render_archive(
    site: Site, issues: Sequence[ArchivedIssue], since: datetime = EPOCH
) -> tuple[list[tuple[str, bytes]], list[Problem]]:
    """(path under public/, bytes) for every issue's page, the index and the feed (both
    written even with no issues, so links to them never break); an issue whose page would
    leak a placeholder is left out of all three with a Problem."""
    files: list[tuple[str, bytes]] = []
    kept: list[ArchivedIssue] = []
    problems: list[Problem] = []
    for issue in sorted(issues, key=lambda i: i.number, reverse=True):
        issue = replace(issue, subject=one_line(issue.subject))
        if why := _refusal(issue):
            name = f"digest issue {issue.number}"
            problems.append(Problem(name, f"not archived: {why}", Severity.ERROR))
            continue
        kept.append(issue)
        files.append((f"{FOLDER}{issue.number}/index.html", browser_page(site, issue)))
    index = render_page("digests.html", site, issues=kept, page=lambda i: issue_url(site, i.number))
    files.append((f"{FOLDER}index.html", index))
    files.append((f"{FOLDER}atom.xml", digest_atom(site, kept, since)))
    return files, problems
