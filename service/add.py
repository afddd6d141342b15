"""`postroom add URL`: a page the curator links to, fetched and written into content/ as
an editable post, which the next scan publishes like any other (content.links)."""

from __future__ import annotations

from postroom.content.fetch import PAGE_TYPES, FetchError
from postroom.content.links import canonical, link_file_name, link_post, read_link
from postroom.feeds.writer import write_atomic
from postroom.service.command import Context, Exit, say
from postroom.service.fetching import Fetcher
from postroom.store.fetched import remember, written_to


def add(
    ctx: Context,
    url: str,
    *,
    tags: tuple[str, ...] = (),
    comment: str = "",
    dry_run: bool = False,
) -> int:
    """Fetch, read, and write content/links/<date>-<slug>.md; say what was found and what
    was not. 0 done (or the page is a post already); 1 it could not be fetched or read."""
    site = ctx.site
    fetcher = Fetcher(site, ctx.store)
    try:
        fetched = fetcher.fetch(url.strip())  # as given: a user:password@ is used, never kept
    except FetchError as exc:
        say(f"not added: {exc}")
        return Exit.FAILED
    if fetched.content_type not in PAGE_TYPES:
        say(f"not added: {fetched.url} is {fetched.content_type}, not a page")
        return Exit.FAILED
    link = read_link(fetched)
    known = {canonical(p.attribution.url): p for p in ctx.store.posts() if p.attribution.url}
    if (post := known.get(link.url)) is not None:
        print(f"already a post: {post.title} ({link.url})")
        return Exit.OK
    fetched_to = written_to(ctx.store, link.url)  # followed or listed, not yet picked up
    if fetched_to and (site.content_dir / fetched_to).exists():
        print(f"already added: {fetched_to} (not yet picked up)")
        return Exit.OK
    same = lambda meta: meta.get("source_url") == link.url  # noqa: E731
    name = fetcher.free_path(
        link_file_name(link, ctx.clock().astimezone(site.config.tz).date()), same
    )
    path = site.content_dir / name
    if path.exists():  # it holds this article (another title's file got a -2 name)
        print(f"already added: {name} (not yet picked up)")
        return Exit.OK
    print(f"{link.title}")
    said = [("source", link.source), ("by", link.author), ("published", link.published)]
    for label, value in said:
        if value:
            print(f"  {label}: {value}")
    print(f"  url: {link.url}")
    for gap in link.missing():
        print(f"  {gap}")
    if dry_run:
        print(f"--dry-run: {name} not written")
        return Exit.OK
    post_id = name.rsplit("/", 1)[-1].removesuffix(".md")
    write_atomic(path, link_post(link, tags, comment, post_id=post_id).encode())
    remember(ctx.store, ctx.clock(), link=link.url, also=(canonical(url),), path=name)
    print(f"added: {name}; the next scan publishes it")
    return Exit.OK
