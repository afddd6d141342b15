"""Listed links (`links.txt`, `*.url` in content/, content.linkfiles): each link not seen
before is fetched as `postroom add` fetches a page and written into content/links/.

A link that cannot be fetched is tried again after 1 minute, then 2, 4, ... (at most a
day apart; never before a Retry-After), and said in `check` with its reason until it
works or leaves its list. One bad link never holds up the rest, and a run fetches at
most MAX_PER_RUN of them, so a list of thousands is worked through a run at a time
while feeds still get their turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from postroom.content.fetch import PAGE_TYPES, FetchError
from postroom.content.linkfiles import listed_links
from postroom.content.links import canonical, link_file_name, link_post, read_link
from postroom.core.model import Problem
from postroom.service.fetching import Fetcher, backoff, problem_text, remember_written
from postroom.store.fetched import (
    Outcome,
    TargetKind,
    add_target,
    drop_targets,
    remember,
    save_outcome,
    targets,
)

MAX_PER_RUN = 20
_FIRST_RETRY = timedelta(minutes=1)  # doubled after each failure


@dataclass(frozen=True)
class LinkReport:
    """One listed link tried."""

    url: str
    listed_in: str
    written: str = ""  # the content path of its post
    known: bool = False  # an article seen already (added, followed, listed or a post)
    error: str = ""


def fetch_links(fetcher: Fetcher, now: datetime) -> tuple[list[LinkReport], list[Problem]]:
    """Fetch the listed links not written before that are due (MAX_PER_RUN of them); the
    problems of the lists themselves (lines that are no links, a file not readable)."""
    store = fetcher.store
    found, problems = listed_links(fetcher.site.content_dir)
    listed: dict[str, str] = {}  # canonical URL -> the file listing it
    for url, path in found.items():
        listed.setdefault(canonical(url), path)
    # passed over by a feed's first poll is not enough: a link listed is wanted
    done = fetcher.seen(listed, written_only=True)
    pending = targets(store, TargetKind.LINK)
    if gone := [url for url in pending if url not in listed or url in done]:
        drop_targets(store, gone)
    reports: list[LinkReport] = []
    for url, listed_in in listed.items():
        if len(reports) >= MAX_PER_RUN or fetcher.stop.is_set():
            break
        if url in done:
            continue
        target = pending.get(url)
        if target is None:
            add_target(store, url, TargetKind.LINK, now, listed_in)
        elif target.next_try and datetime.fromisoformat(target.next_try) > now:
            continue
        failures = target.failures if target else 0
        if report := _fetch_link(fetcher, url, listed_in, failures, now):
            reports.append(report)
    return reports, problems


def _fetch_link(
    fetcher: Fetcher, url: str, listed_in: str, failures: int, now: datetime
) -> LinkReport | None:
    """One link fetched and written; None when a stop came first (tried again later)."""
    store = fetcher.store
    try:
        page = fetcher.fetch_or_stop(url)
        if page.content_type not in PAGE_TYPES:
            raise FetchError(f"{page.url} is {page.content_type}, not a page")
        link = read_link(page)
        if fetcher.seen([link.url], written_only=True):
            remember(store, now, link=link.url, also=(url,))
            drop_targets(store, [url])
            return LinkReport(url, listed_in, known=True)
        today = now.astimezone(fetcher.site.config.tz).date()
        path = fetcher.write_once(
            link_file_name(link, today),
            lambda path: link_post(link, post_id=path.rsplit("/", 1)[-1].removesuffix(".md")),
            lambda meta: meta.get("source_url") == link.url,
            remember_written(store, now, link.url, also=(url,)),
        )
        drop_targets(store, [url])
        return LinkReport(url, listed_in, written=path, known=not path)
    except Exception as exc:  # this link's trouble, whatever it is: said, retried later
        if fetcher.stop.is_set():
            return None
        error = problem_text(exc)
        wait = backoff(_FIRST_RETRY, failures + 1, getattr(exc, "retry_after", None))
        try:
            save_outcome(store, url, Outcome(now + wait, False, error), now)
        except Exception as saving:  # the database itself: the next run tries again
            error += f" (not saved: {problem_text(saving)})"
        return LinkReport(url, listed_in, error=error)
