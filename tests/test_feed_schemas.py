"""Every feed postroom writes, held to its format's own rules: the W3C feed validator
cannot run here (it is not on PyPI), so each format's specification is checked directly.

- Atom 1.0: RFC 4287's RELAX NG schema (Appendix B, tests/schemas/atom.rnc, in the XML
  syntax in tests/schemas/atom.rng, validated by lxml), the Schematron rules the RFC
  embeds in it, and the few MUSTs of the RFC's prose the schema cannot say (dates with a
  zone, absolute ids, one alternate link per type) plus RFC 5005's for archive pages.
- RSS 2.0 (rssboard.org's specification): the channel's and items' required elements,
  enclosures, guids, dates, and the Atom and Media RSS elements it carries.
- JSON Feed 1.1 (jsonfeed.org/version/1.1): required keys, item content, image and
  attachment shapes, no key the spec does not define unless it starts with "_".

One realistic site (every republish rule, tags, sources, comments, lead images, archive
pages, a digest issue, a WebSub hub) and the bundled example site are built for real,
and every feed file under public/ is checked. The last tests break a real feed on
purpose, one rule at a time, so each check is shown able to fail."""

from __future__ import annotations

import copy
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import etree, isoschematron
from postroom.core.model import Attribution, LeadImage, Republish
from postroom.emails.render import render_digest
from postroom.feeds import ArchivedIssue, build
from postroom.scheduler import main
from support import make_post, make_site

pytestmark = pytest.mark.once  # files only: the same on either store, SQLite pass only

ROOT = Path(__file__).resolve().parent.parent
ATOM_NS = "http://www.w3.org/2005/Atom"
A = f"{{{ATOM_NS}}}"
MEDIA = "{http://search.yahoo.com/mrss/}"
FH = "{http://purl.org/syndication/history/1.0}"
OLD_SCHEMATRON = "http://www.ascc.net/xml/schematron"  # the namespace RFC 4287 uses
ISO_SCHEMATRON = "http://purl.oclc.org/dsdl/schematron"
BASE = "https://notes.example.org/"
HUB = "https://hub.example.net/"


# --- Atom: RFC 4287 ---


def atom_rng() -> etree._Element:
    """RFC 4287's schema as RELAX NG XML (tests/schemas/atom.rng, converted from the RNC
    the RFC prints: its first comment says how).

    The schema is used as the RFC prints it. Where it is stricter than XML, it refuses
    xml:lang="" (its atomLanguageTag needs one subtag; RFC 5023's schema later made it
    optional); postroom never writes that, as the config refuses an empty
    site.language, so nothing is relaxed here."""
    return etree.parse(str(ROOT / "tests/schemas/atom.rng")).getroot()


def test_the_converted_schema_holds_every_definition_of_the_rfcs():
    """atom.rng against atom.rnc: the same named patterns, and the RFC's three rules."""
    rnc = (ROOT / "tests/schemas/atom.rnc").read_text("utf-8")
    named = set(re.findall(r"^(\w+)\s*=", rnc, re.MULTILINE)) - {"namespace", "start"}
    rng = atom_rng()
    defined = {d.get("name") for d in rng.iter("{http://relaxng.org/ns/structure/1.0}define")}
    assert named and named == defined
    assert len(list(rng.iter(f"{{{OLD_SCHEMATRON}}}rule"))) == 3


def rfc_schematron(rng: etree._Element) -> isoschematron.Schematron:
    """The RFC's three Schematron rules (an author for every entry; a link or content in
    every entry), taken from the schema as printed, each in a pattern of its own (a
    pattern fires only its first rule matching a node, and two share a context). They
    are Schematron 1.5 (ascc.net); the ISO namespace lets lxml.isoschematron run them,
    as libxml2's own 1.5 support is deprecated."""
    schema = etree.Element(f"{{{ISO_SCHEMATRON}}}schema", nsmap={"s": ISO_SCHEMATRON})
    etree.SubElement(schema, f"{{{ISO_SCHEMATRON}}}ns", prefix="atom", uri=ATOM_NS)
    rules = rng.iter(f"{{{OLD_SCHEMATRON}}}rule")
    for rule in rules:
        pattern = etree.SubElement(schema, f"{{{ISO_SCHEMATRON}}}pattern")
        rule = copy.deepcopy(rule)
        for node in rule.iter(f"{{{OLD_SCHEMATRON}}}*"):
            node.tag = f"{{{ISO_SCHEMATRON}}}{etree.QName(node).localname}"
        pattern.append(rule)
    assert len(schema) == 4, "RFC 4287 has three rules"
    return isoschematron.Schematron(schema, store_report=True)


class AtomCheck:
    """RFC 4287 as lxml can check it: the schema, its rules, and what the schema leaves
    to the prose."""

    def __init__(self) -> None:
        rng = atom_rng()
        self.relaxng = etree.RelaxNG(rng)
        self.rules = rfc_schematron(rng)

    def problems(self, doc: etree._ElementTree, url: str) -> list[str]:
        found = []
        if not self.relaxng.validate(doc):
            found += [f"RELAX NG: line {e.line}: {e.message}" for e in self.relaxng.error_log]
        if not self.rules.validate(doc):
            report = self.rules.validation_report
            for text in report.iterfind(".//{http://purl.oclc.org/dsdl/svrl}text"):
                found.append(f"RFC 4287 rule: {' '.join(text.text.split())}")
        return found + atom_prose(doc.getroot(), url)


# RFC 3339 (RFC 4287 3.3): a zone is required; xsd:dateTime, the schema's type, allows none
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)\Z")


def atom_prose(feed: etree._Element, url: str) -> list[str]:
    """RFC 4287's MUSTs the schema does not express (its atomUri is any text, its date
    any xsd:dateTime), WebSub's one for a feed naming a hub, and RFC 5005's for archive
    pages; `url` is where the file is served, which its rel="self" must name."""
    found = []
    for date in feed.iter(f"{A}updated", f"{A}published"):
        if not RFC3339.match(date.text or ""):
            name = etree.QName(date).localname
            found.append(f"atom:{name} {date.text!r} is not an RFC 3339 date-time with a zone")
    for ident in feed.iter(f"{A}id"):
        if not urlsplit((ident.text or "").strip()).scheme:
            found.append(f"atom:id {ident.text!r} is not an absolute IRI (4.2.6)")
    for node in (feed, *feed.iterfind(f"{A}entry")):
        alternates = [
            (link.get("type"), link.get("hreflang"))
            for link in node.iterfind(f"{A}link")
            if link.get("rel", "alternate") == "alternate"
        ]
        if len(alternates) != len(set(alternates)):
            name = etree.QName(node).localname
            found.append(f"atom:{name}: two alternate links of one type and hreflang (4.1)")
    found += feed_links(
        {link.get("rel"): link.get("href") for link in feed.iterfind(f"{A}link")},
        feed.find(f"{FH}archive") is not None,
        url,
    )
    return found


def feed_links(links: dict[str | None, str | None], archive: bool, url: str) -> list[str]:
    """The feed-level links Atom and RSS share: rel="self" names the file itself (RFC 4287
    4.2.7.2; a validator flags a mismatch), WebSub (4) requires it beside rel="hub", and
    an RFC 5005 archive page (fh:archive) links its subscription feed as rel="current"."""
    found = []
    if links.get("self") != url:
        found.append(f'rel="self" is {links.get("self")!r}, not the file\'s URL {url!r}')
    if "hub" in links and "self" not in links:
        found.append('rel="hub" without rel="self" (WebSub 4)')
    if archive and "current" not in links:
        found.append('an archive page (fh:archive) without rel="current" (RFC 5005 4)')
    return found


# --- RSS 2.0 ---

RSS_CHANNEL = {
    *("title", "link", "description", "language", "copyright", "managingEditor"),
    *("webMaster", "pubDate", "lastBuildDate", "category", "generator", "docs", "cloud"),
    *("ttl", "image", "rating", "textInput", "skipHours", "skipDays", "item"),
}
RSS_ITEM = {
    *("title", "link", "description", "author", "category", "comments", "enclosure"),
    *("guid", "pubDate", "source"),
}


def rss_problems(doc: etree._ElementTree, url: str) -> list[str]:
    """RSS 2.0 (https://www.rssboard.org/rss-specification) as far as it is checkable:
    the spec has no schema, so its requirements are spelled out here one by one."""
    rss = doc.getroot()
    found = []
    if rss.tag != "rss" or rss.get("version") != "2.0":
        return [f'root is <{rss.tag} version="{rss.get("version")}">, not <rss version="2.0">']
    channels = rss.findall("channel")
    if len(channels) != 1:
        return [f"{len(channels)} <channel> elements, not one"]
    [channel] = channels
    for name in ("title", "link", "description"):  # required, and link is a URL
        if channel.find(name) is None:
            found.append(f"channel without <{name}>")
    if not urlsplit(channel.findtext("link", "")).scheme:
        found.append(f"channel <link> {channel.findtext('link')!r} is not a URL")
    found += unknown_children(channel, RSS_CHANNEL, "channel")
    for name in ("pubDate", "lastBuildDate"):
        found += rfc822(channel.find(name))
    for n, item in enumerate(channel.iterfind("item"), 1):
        where = f"item {n}"
        if item.find("title") is None and item.find("description") is None:
            found.append(f"{where}: neither <title> nor <description>")
        found += unknown_children(item, RSS_ITEM, where)
        found += rfc822(item.find("pubDate"))
        for enclosure in item.iterfind("enclosure"):
            for name in ("url", "length", "type"):
                if not enclosure.get(name):
                    found.append(f"{where}: <enclosure> without {name}")
            if not re.fullmatch(r"[1-9][0-9]*", enclosure.get("length") or ""):
                found.append(f"{where}: enclosure length {enclosure.get('length')!r}")
        for guid in item.iterfind("guid"):
            permalink = guid.get("isPermaLink", "true")  # the spec's default
            if permalink not in ("true", "false"):
                found.append(f"{where}: isPermaLink={permalink!r}")
            elif permalink == "true" and urlsplit(guid.text or "").scheme not in ("http", "https"):
                found.append(f"{where}: a permalink guid that is no URL: {guid.text!r}")
    for thumbnail in rss.iter(f"{MEDIA}thumbnail"):
        if not thumbnail.get("url"):
            found.append("<media:thumbnail> without url")
    for link in rss.iter("{*}link"):
        if etree.QName(link).namespace is None:  # RSS's own <link>: a URL, no attributes
            if link.attrib:
                found.append(f"<link {dict(link.attrib)}> outside the Atom namespace")
        elif etree.QName(link).namespace != ATOM_NS:
            found.append(f"{link.tag} is not atom:link")
        elif not (link.get("rel") and link.get("href")):
            found.append(f"atom:link {dict(link.attrib)} without rel and href")
    found += feed_links(
        {link.get("rel"): link.get("href") for link in channel.iterfind(f"{A}link")},
        channel.find(f"{FH}archive") is not None,
        url,
    )
    return found


def unknown_children(node: etree._Element, known: set[str], where: str) -> list[str]:
    """Elements outside any namespace that RSS 2.0 does not define (namespaced ones are
    modules, allowed): a typo, or a module element whose namespace was lost."""
    return [
        f"{where}: <{child.tag}> is not an RSS 2.0 element"
        for child in node
        if isinstance(child.tag, str)
        and etree.QName(child).namespace is None
        and child.tag not in known
    ]


def rfc822(date: etree._Element | None) -> list[str]:
    if date is None:
        return []
    try:
        parsed = parsedate_to_datetime(date.text or "")
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        return [f"<{date.tag}> {date.text!r} is not an RFC 822 date with a zone"]
    return []


# --- JSON Feed 1.1 ---

JSON_TOP = {
    *("version", "title", "home_page_url", "feed_url", "description", "user_comment"),
    *("next_url", "icon", "favicon", "authors", "author", "language", "expired", "hubs"),
    "items",
}
JSON_ITEM = {
    *("id", "url", "external_url", "title", "content_html", "content_text", "summary"),
    *("image", "banner_image", "date_published", "date_modified", "authors", "author"),
    *("tags", "language", "attachments"),
}
JSON_ATTACHMENT = {"url", "mime_type", "title", "size_in_bytes", "duration_in_seconds"}


def json_problems(data: bytes, url: str) -> list[str]:
    """JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/): its required keys and
    shapes, and no key it does not define unless it starts with "_" (its extensions)."""
    feed = json.loads(data)
    found = []
    if feed.get("version") != "https://jsonfeed.org/version/1.1":
        found.append(f"version {feed.get('version')!r}")
    if not isinstance(feed.get("title"), str) or not isinstance(feed.get("items"), list):
        return [*found, "no title (string) or no items (array)"]
    if feed.get("feed_url") != url:
        found.append(f"feed_url {feed.get('feed_url')!r} is not the file's URL {url!r}")
    found += unknown_keys(feed, JSON_TOP, "feed")
    found += authors(feed, "feed")
    for hub in feed.get("hubs", []):
        if not (isinstance(hub.get("type"), str) and isinstance(hub.get("url"), str)):
            found.append(f"hub {hub!r} without type and url")
    for n, item in enumerate(feed["items"], 1):
        where = f"item {n}"
        if not isinstance(item.get("id"), str) or not item["id"]:
            found.append(f"{where}: no id (string)")
        if not any(isinstance(item.get(k), str) for k in ("content_html", "content_text")):
            found.append(f"{where}: neither content_html nor content_text")
        found += unknown_keys(item, JSON_ITEM, where)
        found += authors(item, where)
        for key in ("url", "external_url", "image", "banner_image"):
            if key in item and urlsplit(str(item[key])).scheme not in ("http", "https"):
                found.append(f"{where}: {key} {item[key]!r} is not a URL")
        for key in ("date_published", "date_modified"):
            if key in item and not RFC3339.match(str(item[key])):
                found.append(f"{where}: {key} {item[key]!r} is not RFC 3339")
        if "tags" in item and not all(isinstance(t, str) for t in item["tags"]):
            found.append(f"{where}: tags are not strings")
        for attachment in item.get("attachments", []):
            found += unknown_keys(attachment, JSON_ATTACHMENT, f"{where} attachment")
            if not (isinstance(attachment.get("url"), str) and "/" in attachment.get("url")):
                found.append(f"{where}: attachment url {attachment.get('url')!r}")
            if "/" not in str(attachment.get("mime_type", "")):
                found.append(f"{where}: attachment mime_type {attachment.get('mime_type')!r}")
            size = attachment.get("size_in_bytes")
            if size is not None and (type(size) is not int or size < 1):
                found.append(f"{where}: attachment size_in_bytes {size!r}")
    return found


def unknown_keys(obj: dict, known: set[str], where: str) -> list[str]:
    return [
        f"{where}: key {k!r} is not JSON Feed 1.1" for k in obj if k not in known and k[0] != "_"
    ]


def authors(obj: dict, where: str) -> list[str]:
    found = []
    for author in obj.get("authors", []):
        if not any(isinstance(author.get(k), str) for k in ("name", "url", "avatar")):
            found.append(f"{where}: an author with no name, url or avatar")
    return found


# --- the sites ---


@pytest.fixture(scope="module")
def atom_check() -> AtomCheck:
    return AtomCheck()


CONFIG = f"""\
[site]
base_url = "{BASE}"
title = "Practice Notes"
websub_hub = "{HUB}"
republish = "excerpt"
[curator]
name = "Ann Curator"
email = "ann@example.org"
[feed]
window = 3
max_content_kb = 1
[sources."Community Care"]
republish = "link"
[sources."Council Blog"]
republish = "full"
"""


def realistic_posts() -> list:
    """Fourteen posts: the curator's own, and sourced ones under each republish rule
    (site default excerpt, a source's link and full, a post's own choice), with tags,
    comments, lead images with and without a known size, an anonymous source, a body the
    feeds cut short, and a title with markup characters in it."""
    posts = []
    for n in range(1, 15):
        post = make_post(n)
        kind = n % 4
        if kind == 0:  # the curator's own
            post = replace(post, attribution=Attribution(author="Ann Curator"))
        elif kind == 1:  # full, by the source's table
            post = replace(post, attribution=replace(post.attribution, source="Council Blog"))
        elif kind == 2:  # the site's excerpt, or the post's own choice
            own = {2: Republish.FULL, 6: Republish.LINK}.get(n)
            post = replace(
                post,
                attribution=replace(post.attribution, source="Social Work Weekly"),
                republish=own,
            )
        # kind 3: Community Care, link by its table
        if n % 3 == 0:
            image = LeadImage(f"https://img.example.net/{n}.jpg", "A photo", "image/jpeg", 52_000)
            post = replace(post, image=image)
        elif n % 3 == 1:
            post = replace(post, image=LeadImage(f"https://img.example.net/{n}.png"))
        if n % 2 == 0:
            post = replace(
                post, comment=f"<p>Worth reading for {n}.</p>", tags=("policy", "early help")
            )
        posts.append(post)
    posts[4] = replace(posts[4], attribution=Attribution(source="Council Blog"))  # no author
    posts[8] = replace(posts[8], body_html="<p>" + "long text " * 300 + "</p>")  # cut short
    posts[9] = replace(posts[9], title='Fees & "charges" <rising> — café')
    return posts


@pytest.fixture(scope="module")
def realistic(tmp_path_factory) -> Path:
    """The site built once for the module: 14 posts, window 3, archive pages of 4."""
    site = make_site(tmp_path_factory.mktemp("realistic"), config=CONFIG)
    posts = realistic_posts()
    sent = render_digest(site, 1, posts[:3])
    issue = ArchivedIssue(
        number=1,
        created_at=datetime(2026, 11, 3, 7, 0, tzinfo=UTC),
        subject=sent.subject,
        html=sent.html,
        post_ids=tuple(p.id for p in posts[:3]),
    )
    report = build(site, posts, [issue], page_size=4)
    assert not [p for p in report.problems if "cut" not in p.reason], report.problems
    return site.public_dir


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    """The bundled example site, copied and run once as `make demo` runs it."""
    site = tmp_path_factory.mktemp("example") / "site"
    shutil.copytree(ROOT / "examples/site", site, ignore=shutil.ignore_patterns("public", "*.db*"))
    assert main(["--site", str(site), "run", "--once", "--no-send"]) == 0
    return site / "public"


def feeds(public: Path, pattern: str) -> list[Path]:
    return sorted(public.rglob(pattern))


def url_of(public: Path, path: Path, base: str = BASE) -> str:
    return base + path.relative_to(public).as_posix()


def is_atom(path: Path) -> bool:
    return etree.parse(path).getroot().tag == f"{A}feed"


# --- the real feeds ---


def checked(public: Path, files: list[Path], check, base: str = BASE) -> dict[str, list[str]]:
    """Each file's problems by its path under public/; `check(path, url)`."""
    return {
        p.relative_to(public).as_posix(): found
        for p in files
        if (found := check(p, url_of(public, p, base)))
    }


def test_every_atom_file_of_a_realistic_site_is_valid_rfc_4287(realistic, atom_check):
    files = [p for p in feeds(realistic, "*.xml") if is_atom(p)]
    names = {p.relative_to(realistic).as_posix() for p in files}
    # every kind of Atom file postroom writes is here, so every kind is checked
    assert {"atom.xml", "digests/atom.xml", "tags/policy/atom.xml"} <= names, names
    assert {"sources/community-care/atom.xml", "sources/council-blog/atom.xml"} <= names
    assert len([n for n in names if re.fullmatch(r"archive/atom-\d+\.xml", n)]) >= 3, names
    problems = checked(realistic, files, lambda p, url: atom_check.problems(etree.parse(p), url))
    assert not problems, problems
    # the foreign markup the schema admits as extensions was really there to admit
    everything = b"".join(p.read_bytes() for p in files)
    for marker in (b"<media:thumbnail", b"<fh:archive/>", b'rel="hub"', b'rel="enclosure"'):
        assert marker in everything, marker
    for rel in (b"prev-archive", b"next-archive", b"current", b"via"):
        assert b'rel="' + rel + b'"' in everything, rel
    assert b'type="xhtml"' not in everything  # html content only: nothing unchecked there


def test_every_rss_file_of_a_realistic_site_follows_rss_2(realistic):
    files = feeds(realistic, "rss*.xml")
    assert len(files) >= 8, files  # site, 3 archive pages, tags, sources
    problems = checked(realistic, files, lambda p, url: rss_problems(etree.parse(p), url))
    assert not problems, problems
    everything = b"".join(p.read_bytes() for p in files)
    for marker in (b"<enclosure ", b"<media:thumbnail", b'rel="hub"', b"<fh:archive/>"):
        assert marker in everything, marker


def test_every_json_feed_of_a_realistic_site_follows_json_feed_1_1(realistic):
    files = feeds(realistic, "feed.json")
    assert len(files) >= 6, files
    problems = checked(realistic, files, lambda p, url: json_problems(p.read_bytes(), url))
    assert not problems, problems
    items = [i for p in files for i in json.loads(p.read_bytes())["items"]]
    assert any("attachments" in i for i in items) and any("image" in i for i in items)


def test_the_example_sites_feeds_are_valid(example, atom_check):
    base = "http://localhost:8000/"  # examples/site/postroom.toml
    atoms = [p for p in feeds(example, "*.xml") if is_atom(p)]
    assert len(atoms) >= 4 and feeds(example, "rss*.xml") and feeds(example, "feed.json"), atoms
    problems = {
        **checked(example, atoms, lambda p, u: atom_check.problems(etree.parse(p), u), base),
        **checked(
            example, feeds(example, "rss*.xml"), lambda p, u: rss_problems(etree.parse(p), u), base
        ),
        **checked(
            example,
            feeds(example, "feed.json"),
            lambda p, u: json_problems(p.read_bytes(), u),
            base,
        ),
    }
    assert not problems, problems


# --- each check can fail: a real feed broken one rule at a time ---


def _drop(path: str) -> Callable[[etree._Element], None]:
    def mutate(root: etree._Element) -> None:
        node = root.xpath(path, namespaces=NS)[0]
        node.getparent().remove(node)

    return mutate


def _set(path: str, name: str | None, value: str) -> Callable[[etree._Element], None]:
    def mutate(root: etree._Element) -> None:
        for node in root.xpath(path, namespaces=NS):
            if name is None:
                node.text = value
            else:
                node.set(name, value)

    return mutate


def _add(path: str, tag: str, **attrib: str) -> Callable[[etree._Element], None]:
    def mutate(root: etree._Element) -> None:
        root.xpath(path, namespaces=NS)[0].append(etree.Element(tag, attrib))

    return mutate


def _drop_all(path: str) -> Callable[[etree._Element], None]:
    def mutate(root: etree._Element) -> None:
        for node in root.xpath(path, namespaces=NS):
            node.getparent().remove(node)

    return mutate


NS = {"a": ATOM_NS, "media": MEDIA[1:-1], "fh": FH[1:-1]}

ATOM_BREAKS = {
    "an entry without its id": (_drop("a:entry[1]/a:id"), "RELAX NG"),
    "a feed without its title": (_drop("a:title"), "RELAX NG"),
    "an element Atom does not define": (_add("a:entry[1]", f"{A}rating"), "RELAX NG"),
    "a link without href": (
        lambda root: root.find(f"{A}entry/{A}link").attrib.pop("href"),
        "RELAX NG",
    ),
    "a date that is not a date": (_set("a:updated", None, "yesterday"), "RELAX NG"),
    "an unknown text type": (_set("a:entry[1]/a:content", "type", "markdown"), "RELAX NG"),
    "a bad media type on a link": (_set("a:link[@rel='self']", "type", "atom"), "RELAX NG"),
    "no author anywhere": (_drop_all("//a:author"), "RFC 4287 rule"),
    "an entry without link or content": (
        lambda root: [_drop_all("a:entry[1]/a:link")(root), _drop("a:entry[1]/a:content")(root)],
        "atom:link element with a rel attribute of 'alternate'",
    ),
    "a date without a zone": (_set("a:entry[1]/a:updated", None, "2026-11-02T20:00:00"), "zone"),
    "a relative id": (_set("a:entry[1]/a:id", None, "post-12"), "absolute IRI"),
    "two alternates of one type": (
        _add("a:entry[1]", f"{A}link", href="https://x.example/", type="text/html"),
        "two alternate links",
    ),
    "a self link naming another file": (_set("a:link[@rel='self']", "href", BASE), "self"),
    "a hub without self": (_drop("a:link[@rel='self']"), "WebSub"),
}


@pytest.mark.parametrize("break_", ATOM_BREAKS, ids=list(ATOM_BREAKS))
def test_each_atom_check_fails_on_a_broken_feed(realistic, atom_check, break_):
    mutate, expected = ATOM_BREAKS[break_]
    doc = etree.parse(realistic / "atom.xml")
    assert not atom_check.problems(doc, f"{BASE}atom.xml")
    mutate(doc.getroot())
    found = atom_check.problems(doc, f"{BASE}atom.xml")
    assert any(expected in f for f in found), found


def test_an_archive_page_without_current_fails(realistic, atom_check):
    doc = etree.parse(realistic / "archive/atom-1.xml")
    url = f"{BASE}archive/atom-1.xml"
    assert not atom_check.problems(doc, url)
    _drop("a:link[@rel='current']")(doc.getroot())
    assert any("RFC 5005" in f for f in atom_check.problems(doc, url))


RSS_BREAKS = {
    "a channel without description": (_drop("channel/description"), "without <description>"),
    "an item without title and description": (
        lambda root: [
            _drop("channel/item[1]/title")(root),
            _drop("channel/item[1]/description")(root),
        ],
        "neither",
    ),
    "an enclosure of length 0": (_set("channel/item/enclosure", "length", "0"), "length"),
    "an enclosure without type": (
        lambda root: [e.attrib.pop("type") for e in root.iter("enclosure")],
        "without type",
    ),
    "a thumbnail without url": (
        lambda root: [t.attrib.pop("url") for t in root.iter(f"{MEDIA}thumbnail")],
        "media:thumbnail",
    ),
    "a permalink guid that is no URL": (
        lambda root: [g.attrib.pop("isPermaLink") for g in root.iter("guid")],
        "permalink guid",
    ),
    "an atom:link that lost its namespace": (
        _add("channel", "link", href=HUB, rel="hub"),
        "outside the Atom namespace",
    ),
    "an atom:link without rel": (
        lambda root: [root.find(f"channel/{A}link[@rel='hub']").attrib.pop("rel")],
        "without rel and href",
    ),
    "an element RSS does not define": (_add("channel/item[1]", "summary"), "not an RSS 2.0"),
    "a pubDate in ISO form": (_set("channel/item[1]/pubDate", None, "2026-11-02"), "RFC 822"),
}


@pytest.mark.parametrize("break_", RSS_BREAKS, ids=list(RSS_BREAKS))
def test_each_rss_check_fails_on_a_broken_feed(realistic, break_):
    mutate, expected = RSS_BREAKS[break_]
    doc = etree.parse(realistic / "rss.xml")
    assert not rss_problems(doc, f"{BASE}rss.xml")
    mutate(doc.getroot())
    found = rss_problems(doc, f"{BASE}rss.xml")
    assert any(expected in f for f in found), found


JSON_BREAKS: dict[str, tuple[Callable[[dict], object], str]] = {
    "no items": (lambda f: f.pop("items"), "no title"),
    "an item without id": (lambda f: f["items"][0].pop("id"), "no id"),
    "an item without content": (lambda f: f["items"][0].pop("content_html"), "neither"),
    "a size as a string": (
        lambda f: next(i for i in f["items"] if "attachments" in i)["attachments"][0].update(
            size_in_bytes="52000"
        ),
        "size_in_bytes",
    ),
    "an attachment without mime_type": (
        lambda f: next(i for i in f["items"] if "attachments" in i)["attachments"][0].pop(
            "mime_type"
        ),
        "mime_type",
    ),
    "an image that is an object": (
        lambda f: next(i for i in f["items"] if "image" in i).update(image={"url": "x"}),
        "image",
    ),
    "a key the spec does not define": (lambda f: f["items"][0].update(body="x"), "'body'"),
}


@pytest.mark.parametrize("break_", JSON_BREAKS, ids=list(JSON_BREAKS))
def test_each_json_feed_check_fails_on_a_broken_feed(realistic, break_):
    mutate, expected = JSON_BREAKS[break_]
    feed = json.loads((realistic / "feed.json").read_bytes())
    assert not json_problems(json.dumps(feed).encode(), f"{BASE}feed.json")
    mutate(feed)
    found = json_problems(json.dumps(feed).encode(), f"{BASE}feed.json")
    assert any(expected in f for f in found), found
