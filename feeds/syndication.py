"""Atom 1.0 and RSS 2.0 (feedgen) and JSON Feed 1.1 for one set of posts.

Everything written is a function of the posts and the config, never of the
clock, so a rebuild with nothing new is byte-identical and is not rewritten.
Posts are expected to have been through `feeds.safety.admit` (no characters
XML cannot carry, timezone-aware dates), as `feeds.build` does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from itertools import islice
from typing import Any

import feedgen.entry
import feedgen.feed
from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseExtension
from feedgen.ext.dc import DcEntryExtension, DcExtension
from feedgen.ext.media import MediaEntryExtension, MediaExtension
from feedgen.feed import FeedGenerator
from lxml import etree
from markupsafe import escape
from postroom.core.config import Site
from postroom.core.model import Post, Republish, newest_first
from postroom.core.republish import republish_of
from postroom.core.sanitize import clean_html, html_to_text, one_line, summarize
from postroom.core.urls import absolute_html
from postroom.feeds.credit import credit_html
from postroom.feeds.showing import Showing, showing

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM = f"{{{ATOM_NS}}}"
#: RFC 5005's namespace: `<fh:archive/>` marks a document as an archive of its feed
FH_NS = "http://purl.org/syndication/history/1.0"
#: the stylesheet every Atom and RSS document names, at the top of public/ (feeds.static)
XSL_NAME = "feed.xsl"
#: the media type of each feed format's documents (archive pages included)
MEDIA_TYPES = {"atom": "application/atom+xml", "rss": "application/rss+xml"}
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
#: the `updated` of a feed with no posts: fixed, so an empty site's feeds are stable too
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# feedgen 1.0.0 drops these from Atom entry links (python-feedgen#135); atom() puts them back
_LINK_ATTRIBUTES = ("rel", "type", "hreflang", "title", "length")
#: an entry's summary: a few sentences of plain text, as readers show under a title
SUMMARY_CHARS = 300


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc2822(date: datetime) -> str:
    """What feedgen's `formatRFC2822` writes for an RSS date ('%a, %d %b %Y %H:%M:%S %z'
    in the C locale), with the day's and month's English names put in by hand: only
    those two depend on the locale. feedgen sets the whole process's locale to C and
    back around each date it writes (three `setlocale` calls: ~5% of rendering an
    archive page, ~8% of vetting; and a process-wide change no other thread should
    see): feedgen's modules use this one instead, tested to write the same strings."""
    day, month = _DAYS[date.weekday()], _MONTHS[date.month - 1]
    return date.strftime(f"{day}, %d {month} %Y %H:%M:%S %z")


# feedgen looks its helper up in its own modules' globals at each call
feedgen.entry.formatRFC2822 = feedgen.feed.formatRFC2822 = rfc2822


@dataclass(frozen=True)
class FeedSet:
    """One family of feeds: the site's, a tag's or a source's."""

    folder: str  # "" or "tags/<slug>/" or "sources/<slug>/"
    title: str
    posts: Sequence[Post]  # the window, newest pick-up first
    since: datetime = EPOCH  # the `updated` of the feed while it has no posts (`build`'s)
    archives: int = 0  # RFC 5005 archive pages behind the window (`feeds.history`)


def window(
    posts: Sequence[Post], size: int, accept: Callable[[Post], bool] = lambda _: True
) -> list[Post]:
    """The latest `size` accepted posts by pick-up time, newest first (then by their own
    date, newest first; `core.model.newest_first`).

    By pick-up, not by the post's own date: an article from 2016 added today is
    new to the feed's readers. `accept` is asked only until the window is full.
    """
    ordered = sorted(posts, key=newest_first, reverse=True)
    return list(islice(filter(accept, ordered), size))


def post_url(site: Site, post: Post) -> str:
    return f"{site.base_url}posts/{post.id}/"


def tag_uri(site: Site, minted: datetime, specific: str) -> str:
    """'tag:<authority>,<day>:<specific>': the site's id authority, fixed at init, never
    base_url: moving the site (another host or path) must not make readers show every
    entry again. The day `minted` (in UTC) stays in the id even when the authority
    carries its own day ('x.invalid,2026-12-02', as `init` writes it): a digest issue's
    number starts again at 1 in a database rebuilt from content/, and issue 1 of next
    year must not take the id of the first issue ever sent."""
    minted = minted.astimezone(UTC)
    # what %Y-%m-%d writes, at a third of its cost (strftime pads no year below 1000)
    day = minted.date().isoformat() if minted.year >= 1000 else f"{minted:%Y-%m-%d}"
    authority = site.id_authority
    if "," in authority:
        return f"tag:{authority}:{day}/{specific}"
    return f"tag:{authority},{day}:{specific}"


def entry_id(site: Site, post: Post) -> str:
    """The post's id under the site's authority: an edit does not change it, nor (on a
    site made by `init`, whose authority carries its day) a database rebuilt from
    content/ on another day, since post ids are made from content alone. Older sites mint
    from the pick-up day, as they always did."""
    authority = site.id_authority
    if "," in authority:
        return f"tag:{authority}:{post.id}"
    return tag_uri(site, post.picked_up, post.id)


def too_long(site: Site, post: Post) -> bool:
    """A body the feeds cut short (pages keep it whole): only one shown whole at all."""
    limit, body = site.config.feed.max_content_kb * 1024, post.body_html
    # a character is at most 4 bytes of UTF-8: most bodies are known short unencoded
    if len(body) * 4 <= limit or len(body.encode()) <= limit:
        return False
    return republish_of(site.config, post) is Republish.FULL


def feed_content(site: Site, post: Post, shown: Showing | None = None) -> str:
    """The entry's HTML (`_entry_html`) with its relative URLs made absolute against the
    post's page: a feed reader shows the entry far from it, where "/about/" or
    "photo.jpg" would point nowhere. (A captured article's own links were made absolute
    against the original at intake; what is left relative is the curator's, on our site.)

    Made once per post and build: a post is in several feeds (the site's, its tags',
    its source's, an archive page), each in three formats. Kept by post id for this very
    site and post object, so nothing stale is ever served; `forget()` drops it all.
    `shown`: the post's `showing`, when the caller has it (asked once an entry)."""
    made = _contents.get(post.id)
    if made is not None and made[0] is site and (made[1] is post or made[1] == post):
        return made[2]
    content = absolute_html(_entry_html(site, post, shown), post_url(site, post))
    _contents[post.id] = (site, post, content)
    return content


_contents: dict[str, tuple[Site, Post, str]] = {}


def forget(ids: Iterable[str] | None = None) -> None:
    """Drop the entries' contents and feedgen entries made for the last build; with
    `ids`, only those posts' (an archive page's, done with: the window posts' stay
    for their feeds, made after the archive pages)."""
    if ids is None:
        _contents.clear()
        _entries.clear()
        return
    for post_id in ids:
        _contents.pop(post_id, None)
        _entries.pop(post_id, None)


def entry_summary(site: Site, post: Post, shown: Showing | None = None) -> str:
    """The entry's summary: plain text, at most SUMMARY_CHARS cut at a word; the post's
    own summary, else the start of its text; for a post not shown whole, never more than
    its rule allows (`feeds.showing`: the teaser). `shown`: as `feed_content`'s."""
    shown = shown or showing(site, post)
    if shown.rule is not Republish.FULL:
        return shown.teaser
    return summarize(post.summary or html_to_text(post.body_html), SUMMARY_CHARS)


def _entry_html(site: Site, post: Post, shown: Showing | None = None) -> str:
    """The credit line, then the body as the post's republishing rule allows
    (`feeds.showing`: whole, an excerpt or only a link to the original); with a curator's
    comment: the comment, the credit, then the source's words as a quotation. A whole body
    over `feed.max_content_kb` is cut, repaired (nh3 closes its tags) and ends with a
    link to the whole post on its page."""
    shown = shown or showing(site, post)
    body = str(shown.body_html)
    if too_long(site, post):
        cut = body.encode()[: site.config.feed.max_content_kb * 1024].decode(errors="ignore")
        before, bracket, after = cut.rpartition("<")
        if bracket and ">" not in after:  # drop a tag cut in half
            cut = before
        body = (
            f"{clean_html(cut)}\n"
            f'<p><a href="{escape(post_url(site, post))}">Read the whole post</a></p>'
        )
    credit = credit_html(post)
    head = f'<p class="credit"><em>{credit}</em></p>\n' if credit else ""
    if not post.comment:
        return head + body
    if shown.rule is Republish.LINK:  # nothing of the source's to quote
        return f'<div class="comment">{post.comment}</div>\n{head}{body}'
    # the curator's words first, then the source's, marked as quoted text
    cite = f' cite="{escape(post.attribution.url)}"' if post.attribution.url else ""
    return (
        f'<div class="comment">{post.comment}</div>\n{head}'
        f'<blockquote class="source"{cite}>\n{body}\n</blockquote>'
    )


def _author(post: Post) -> str:
    """Who to name as the entry's author: the writer, else the publication, else nobody."""
    return one_line(post.attribution.author or post.attribution.source or "")


def _terms(post: Post) -> list[str]:
    """The post's tags as feed categories: one line each, none empty."""
    return [term for term in map(one_line, post.tags) if term]


def _updated(feed: FeedSet) -> datetime:
    """The newest change among the feed's posts: never "now", so output is deterministic."""
    return max((p.updated for p in feed.posts), default=feed.since)


def feed_head(
    site: Site, folder: str, title: str, name: str, media_type: str, home: str
) -> FeedGenerator:
    """A feed with what every postroom feed says of itself: id, title, self link, `home`
    (its HTML page) as the alternate, language, the curator as author. No dates, no entries."""
    config = site.config
    fg = FeedGenerator()
    fg.id(f"{site.base_url}{folder}")
    fg.title(title)
    fg.subtitle(one_line(config.site.description) or title)
    fg.link(href=f"{site.base_url}{folder}{name}", rel="self", type=media_type)
    if hub := config.site.websub_hub:  # WebSub: before the alternate, RSS's <link> (the last)
        fg.link(href=hub, rel="hub")
        fg.register_extension("websub", lambda: _RssHub(hub), atom=False)
    fg.link(href=home, rel="alternate", type="text/html")
    fg.language(config.site.language)
    # not feedgen's own name and version: an upgrade of it would rewrite every feed,
    # archive pages that must never change among them
    fg.generator("postroom")
    curator = {"name": one_line(config.curator.name) or title}
    if config.curator.email:
        curator["email"] = one_line(config.curator.email)
    fg.author(curator)
    return fg


class _RssHub(BaseExtension):
    """RSS's `<atom:link rel="hub">` beside its `rel="self"` (WebSub 4): feedgen writes
    only the first self link of a feed's links into RSS, so the hub is added here."""

    def __init__(self, hub: str) -> None:
        self.hub = hub

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        me = feed.find(f"channel/{ATOM}link[@rel='self']")
        if me is not None:
            me.addnext(etree.Element(f"{ATOM}link", href=self.hub, rel="hub"))
        return feed


def _generator(site: Site, feed: FeedSet, name: str, media_type: str) -> FeedGenerator:
    fg = feed_head(site, feed.folder, feed.title, name, media_type, home=site.base_url)
    # by class, as `_entry` registers them on entries (`load_extension` first tries to
    # import a module feedgen does not have, a search of sys.path for every document)
    fg.register_extension("dc", DcExtension, _DcCreator, atom=False)  # RSS's dc:creator
    fg.register_extension("media", MediaExtension, MediaEntryExtension)  # lead images
    fg.updated(_updated(feed))
    fg.lastBuildDate(_updated(feed))
    # `entry()` hands out the feed's own list of entries: appended to as `add_entry`
    # would, without its trying to register each of the feed's extensions on an entry
    # that has them all (`_entry`): an ImportError raised and caught per extension and
    # entry in every document (~3% of rendering an archive page)
    fg.entry().extend(_entry(site, post) for post in feed.posts)
    return fg


def _entry(site: Site, post: Post) -> FeedEntry:
    """The post's feedgen entry, filled once per post and build and shared by every
    document it is in: a window post is in its feed set's Atom and RSS, its tags' and
    its source's, and was made once already when `selection.Vetting` tried it
    (`check_entry`); an archived post is on one archive page in two formats. Filling
    an entry (ids, sanitized one-line fields, content, summary, links) was over half of
    rendering a feed document, and feedgen only reads an entry when it serializes it,
    so one object serves all. Its extensions are those `_generator` registers, in its order
    (dc for RSS only, then media): `add_entry` keeps an entry's own (it skips those
    already loaded), so the entry writes the same XML as one the feed made itself.
    Kept by post id for this very site and post object, as `feed_content`; an entry
    that raises is not kept; `forget()` drops them all."""
    made = _entries.get(post.id)
    if made is not None and made[0] is site and (made[1] is post or made[1] == post):
        return made[2]
    fe = _Entry()
    # as `_generator` registers them, by class: `load_extension` first tries to import a
    # module feedgen does not have (feedgen.ext.dc_entry), a search of sys.path each time
    fe.register_extension("dc", _DcCreator, atom=False)  # dc:creator for RSS only
    fe.register_extension("media", MediaEntryExtension)
    _fill_entry(fe, site, post)
    _entries[post.id] = (site, post, fe)
    return fe


_entries: dict[str, tuple[Site, Post, _Entry]] = {}


class _Entry(FeedEntry):
    """A feedgen entry that can hold the Atom and RSS elements `check_entry` made of it,
    for the first feed document that takes it (rather than thrown away and made again:
    most window posts are in one feed set only). Feeds after it make their own, as
    feedgen does; an element is handed out once, as the feed takes it as its child."""

    kept: dict[str, etree._Element] | None = None  # "atom", "rss" -> its element

    def atom_entry(self, extensions: bool = True) -> etree._Element:
        made = self._taken("atom", extensions)
        return super().atom_entry(extensions) if made is None else made

    def rss_entry(self, extensions: bool = True) -> etree._Element:
        made = self._taken("rss", extensions)
        return super().rss_entry(extensions) if made is None else made

    def _taken(self, stem: str, extensions: bool) -> etree._Element | None:
        """The element kept for `stem`, handed out once (only one made with extensions,
        as `check_entry`'s are)."""
        return self.kept.pop(stem, None) if extensions and self.kept else None


#: Dublin Core's namespace, for an RSS item's `dc:creator`
DC_NS = "http://purl.org/dc/elements/1.1/"
_DC_CREATOR = f"{{{DC_NS}}}creator"


class _DcCreator(DcEntryExtension):
    """feedgen's Dublin Core entry extension writing only `dc:creator`, the one DC
    element postroom sets (`_fill_entry`): feedgen's own looks each of the fifteen DC
    elements up by name for every RSS item, ~7% of rendering the archive pages. The
    same element in the same place: the item's last child, written by the extension."""

    def extend_rss(self, item: etree._Element) -> etree._Element:
        for creator in self._dcelem_creator or ():
            etree.SubElement(item, _DC_CREATOR).text = creator
        return item


def _fill_entry(fe: FeedEntry, site: Site, post: Post) -> None:
    """One post as a feedgen entry (`fe` has the dc and media extensions loaded)."""
    a = post.attribution
    # the post as shown, asked once for its content, summary and image (~2.5 us a time)
    shown = showing(site, post)
    fe.id(entry_id(site, post))  # also the RSS guid, isPermaLink="false"
    fe.title(one_line(post.title))
    # its links given to feedgen in one call, in this order (each call checks its dicts)
    links = [{"href": post_url(site, post), "rel": "alternate", "type": "text/html"}]
    if a.url:
        links.append({"href": a.url, "rel": "via"})
    fe.published(post.picked_up)  # new to readers when we add it; its own date is in the credit
    fe.updated(post.updated)
    fe.content(feed_content(site, post, shown), type="html")
    if summary := entry_summary(site, post, shown):
        fe.summary(summary)  # not description(): in Atom that replaces the content
    if image := shown.image:
        # Media RSS, in Atom and RSS alike; right in the entry, where every reader looks
        fe.media.thumbnail(url=image.url, group=None)
        if image.media_type and image.length:
            # RSS requires an enclosure's length and type, and the W3C validator refuses
            # length="0" (the "unknown" some feeds write): only when both are known
            links.append(
                {
                    "href": image.url,
                    "rel": "enclosure",
                    "type": image.media_type,
                    "length": str(image.length),
                }
            )
    fe.link(links)
    if author := _author(post):
        fe.author(name=author)
        fe.dc.dc_creator(author)
    if terms := _terms(post):
        fe.category([{"term": term} for term in terms])


def check_entry(site: Site, post: Post) -> None:
    """Raise what feedgen would raise on this post in any feed, at a tenth of the cost
    of rendering a feed: the entry alone, made both ways. The entry and its two
    elements are kept (`_Entry`): the first feed that takes the post uses them."""
    fe = _entry(site, post)  # kept: the feeds that take the post use it as it is
    fe.kept = {"atom": fe.atom_entry(), "rss": fe.rss_entry()}


def atom_bytes(fg: FeedGenerator) -> bytes:
    """fg as Atom, with the entry link attributes feedgen 1.0.0 drops (python-feedgen#135)
    put back (`_tree`)."""
    return _serialized(_tree(fg, "atom"))


def _tree(fg: FeedGenerator, stem: str) -> etree._Element:
    """fg as Atom or RSS (`stem`), as a tree `finished` completes and serializes once.

    Atom is feedgen's tree under a root of our own. feedgen writes Atom's namespace as
    a plain `xmlns` attribute on an element in no namespace, so its elements are in no
    namespace; the root put in its place declares Atom's as the default (after the
    extensions' namespaces, in feedgen's order), and under it they are written as the
    same bytes the tree read back from feedgen's would be (a serializer adds no
    `xmlns=""`; feedgen writes no Atom element with empty text): no serialization and
    parse per document. Only their tags are bare: `finished` looks for the feed's own
    links by either name. The entry link attributes feedgen 1.0.0 drops
    (python-feedgen#135) are put back: without them a page link and a `via` link to
    the original would both be bare links, i.e. two rel="alternate" links of one type,
    which RFC 4287 forbids.

    RSS is the tree feedgen builds and would serialize (`rss_str` is `_create_rss` and
    a `tostring`; feedgen is pinned at 1.0.0 and tests hold the bytes to those of its
    public call), which spares a serialization and a parse per document. What a parse
    would change is changed here too: an element with empty text (an item whose
    content is "", the only text feedgen writes empty) is read back as one with none,
    written `<x/>`, not `<x></x>`."""
    if stem == "atom":
        made, _ = fg._create_atom()
        root = etree.Element(f"{ATOM}feed", nsmap={**made.nsmap, None: ATOM_NS})
        for key, value in made.attrib.items():
            if key != "xmlns":
                root.set(key, value)
        root.extend(made)
        for element, entry in zip(root.iterfind("entry"), fg.entry(), strict=True):
            for link, wanted in zip(element.iterfind("link"), entry.link(), strict=True):
                for key in _LINK_ATTRIBUTES:
                    if value := wanted.get(key):
                        link.set(key, value)
        return root
    root, _ = fg._create_rss()
    # feedgen writes every other text of the document only when it is not empty: an
    # empty one is an item's content (the post's HTML being ""), so only the items of
    # such entries are looked at, not every element's text read (~3% of a document)
    empty = [i for i, entry in enumerate(fg.entry()) if not (entry.content() or {}).get("content")]
    if empty:
        items = root.findall("channel/item")
        for i in empty:
            for element in items[i]:
                if element.text == "":
                    element.text = None
    return root


def _serialized(root: etree._Element) -> bytes:
    return etree.tostring(
        root.getroottree(), xml_declaration=True, encoding="UTF-8", pretty_print=True
    )


def archive_name(stem: str, number: int) -> str:
    """Archive page `number` (1 holds the oldest posts) of the `stem` ("atom", "rss")
    feed, under the feed's folder."""
    return f"archive/{stem}-{number}.xml"


def stylesheet() -> bytes:
    """The XSL that shows a feed to a browser as a page (feeds/static/feed.xsl)."""
    return (files("postroom.feeds") / "static" / XSL_NAME).read_bytes()


def stylesheet_href(path: str) -> str:
    """XSL_NAME relative to the document at `path` under public/: relative, so that it
    holds at any depth, under a base_url with a path, behind `postroom serve`'s preview
    rewrite, and stays same-origin (browsers apply no cross-origin XSLT)."""
    return "../" * path.count("/") + XSL_NAME


def finish(
    data: bytes, path: str, links: Sequence[tuple[str, str]] = (), archive: bool = False
) -> bytes:
    """An Atom or RSS document as written to `path` under public/: the xml-stylesheet
    instruction right after the XML declaration (browsers show the feed as a page; feed
    readers ignore it), the RFC 5005 `links` ((rel, href): atom:link in RSS too) after
    the document's own links, and `<fh:archive/>` on an archive page."""
    return finished(etree.fromstring(data), path, links, archive)


def finished(
    root: etree._Element, path: str, links: Sequence[tuple[str, str]] = (), archive: bool = False
) -> bytes:
    """`finish` of a document's tree (`document_tree`), which it changes: the same bytes
    as `finish` of the document's bytes, with no parse. (Pretty-printed once at the
    end, the tree comes out as the bytes `finish` wrote after copying the indentation
    of the element it inserts after: lxml indents an element whose children carry no
    text, and copies as is one whose children do.)"""
    head = root if root.tag == f"{ATOM}feed" else root.find("channel")
    assert head is not None, "finish() takes Atom or RSS 2.0"
    if links or archive:
        own = head.findall(f"{ATOM}link")
        if head is root:  # feedgen's own Atom elements are bare (`_tree`)
            own += head.findall("link")
        anchor = own[-1] if own else head[0]
        made = []
        for rel, href in links:
            link = etree.SubElement(head, f"{ATOM}link", href=href, rel=rel)
            link.set("type", MEDIA_TYPES["atom" if head is root else "rss"])
            made.append(link)
        if archive:
            made.append(etree.SubElement(head, f"{{{FH_NS}}}archive"))
        for element in reversed(made):
            element.tail = anchor.tail
            anchor.addnext(element)
        etree.cleanup_namespaces(root, top_nsmap={"fh": FH_NS} if archive else None)
    href = stylesheet_href(path)
    root.addprevious(
        etree.ProcessingInstruction("xml-stylesheet", f'type="text/xsl" href="{href}"')
    )
    return _serialized(root)


def history_links(site: Site, feed: FeedSet, stem: str) -> list[tuple[str, str]]:
    """The subscription document's link to its newest archive page, if it has any."""
    if not feed.archives:
        return []
    return [("prev-archive", f"{site.base_url}{feed.folder}{archive_name(stem, feed.archives)}")]


def document_tree(site: Site, feed: FeedSet, stem: str, name: str) -> etree._Element:
    """`feed` rendered as Atom or RSS (`stem`) with its self link at `name` under its
    folder: the tree `finished` then completes."""
    return _tree(_generator(site, feed, name, MEDIA_TYPES[stem]), stem)


def atom(site: Site, feed: FeedSet) -> bytes:
    root = document_tree(site, feed, "atom", "atom.xml")
    return finished(root, f"{feed.folder}atom.xml", history_links(site, feed, "atom"))


def rss(site: Site, feed: FeedSet) -> bytes:
    root = document_tree(site, feed, "rss", "rss.xml")
    return finished(root, f"{feed.folder}rss.xml", history_links(site, feed, "rss"))


def _json_item(site: Site, post: Post) -> dict[str, Any]:
    a = post.attribution
    item: dict[str, Any] = {
        "id": entry_id(site, post),
        "url": post_url(site, post),
    }
    if a.url:
        item["external_url"] = a.url
    item["title"] = one_line(post.title)
    shown = showing(site, post)
    item["content_html"] = feed_content(site, post, shown)
    if summary := entry_summary(site, post, shown):
        item["summary"] = summary
    if image := shown.image:
        item["image"] = image.url
        if image.media_type and image.length:  # as the Atom and RSS enclosure
            item["attachments"] = [
                {"url": image.url, "mime_type": image.media_type, "size_in_bytes": image.length}
            ]
    item["date_published"] = post.picked_up.isoformat()
    item["date_modified"] = post.updated.isoformat()
    if author := _author(post):
        item["authors"] = [{"name": author}]
    if terms := _terms(post):
        item["tags"] = terms
    item["_postroom"] = {  # JSON Feed's place for extensions: what no standard field holds
        "source": a.source,
        "author_role": a.author_role,
        "original_date": post.date.isoformat(),
        "date_source": post.date_source.value,
    }
    return item


def json_feed(site: Site, feed: FeedSet) -> bytes:
    """JSON Feed 1.1, keys in a fixed order, UTF-8 as is, one trailing newline."""
    config = site.config
    document = {
        "version": JSON_FEED_VERSION,
        "title": feed.title,
        "home_page_url": site.base_url,
        "feed_url": f"{site.base_url}{feed.folder}feed.json",
        "description": one_line(config.site.description),
        "language": config.site.language,
        "authors": [{"name": one_line(config.curator.name) or feed.title}],
        **({"hubs": [{"type": "WebSub", "url": hub}]} if (hub := config.site.websub_hub) else {}),
        "items": [_json_item(site, post) for post in feed.posts],
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode() + b"\n"


#: file name -> renderer, for every feed folder
FORMATS: dict[str, Callable[[Site, FeedSet], bytes]] = {
    "atom.xml": atom,
    "rss.xml": rss,
    "feed.json": json_feed,
}
