"""Which posts go in which feed: the site's window, and one per tag and per source."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from postroom.core.config import Site
from postroom.core.model import Post, Problem, Severity
from postroom.core.sanitize import one_line
from postroom.core.slug import slugify
from postroom.feeds.safety import first_file
from postroom.feeds.syndication import FeedSet, check_entry, too_long, window


class Vetting:
    """Tries each post once as a feed entry on its own, as the window reaches it.

    A post whose data makes feedgen raise (a title of nothing but control
    characters, say) is left out of the feeds with a Problem and the window
    takes the next one; the build goes on. Only posts some window reaches are
    tried, so a site of thousands of posts pays for a few hundred.
    """

    def __init__(self, site: Site) -> None:
        self.site = site
        self.problems: list[Problem] = []
        self._verdicts: dict[str, bool] = {}

    def __call__(self, post: Post) -> bool:
        if post.id not in self._verdicts:
            self._verdicts[post.id] = self._try(post)
        return self._verdicts[post.id]

    def _try(self, post: Post) -> bool:
        try:
            check_entry(self.site, post)
        except (ValueError, TypeError) as exc:
            self._report(post, f"left out of the feeds: {exc}")
            return False
        if too_long(self.site, post):
            kb = self.site.config.feed.max_content_kb
            self._report(post, f"body over {kb} KB, cut short in feeds (the page has it all)")
        return True

    def _report(self, post: Post, reason: str) -> None:
        reason = f"'{one_line(post.title)}': {reason}"
        self.problems.append(Problem(first_file(post), reason, Severity.WARNING))


def feed_sets(site: Site, posts: Sequence[Post], vetting: Vetting) -> list[FeedSet]:
    """The site's feeds, then one set per tag and per source, sorted by folder.

    Names that differ only in case or punctuation share a slug and so a folder;
    a post is in it once, and the folder is titled by the first spelling in
    sorted order, so the title does not depend on the order posts come in.
    """
    size = site.config.feed.window
    title = one_line(site.config.site.title) or site.base_url
    names: dict[str, str] = {}
    members: dict[str, list[Post]] = defaultdict(list)
    known: dict[tuple[str, str], tuple[str, str] | None] = {}  # thousands of posts, few names

    def folder_of(kind: str, name: str) -> tuple[str, str] | None:
        if (kind, name) not in known:
            name_ = one_line(name)
            label = f"{title}: {name_}" if kind == "tags" else f"{title}: from {name_}"
            known[kind, name] = (f"{kind}/{slugify(name_)}/", label) if name_ else None
        return known[kind, name]

    for post in posts:
        found = [folder_of("tags", tag) for tag in post.tags]
        found.append(folder_of("sources", post.attribution.source or ""))
        labels = dict(f for f in found if f)
        for folder, label in labels.items():
            members[folder].append(post)
            names[folder] = min(label, names.get(folder, label))
    return [FeedSet("", title, window(posts, size, vetting))] + [
        FeedSet(folder, names[folder], window(members[folder], size, vetting))
        for folder in sorted(members)
    ]
