"""Where each post of a capture begins and ends.

Lines are grouped into blocks: runs of short lines (headings and meta lines)
and runs of prose. A heading block followed by prose may start a post, or be
a subheading inside one; the choice rests on what the block holds and what
the page is:

- a publication date, or a byline beside a headline, starts a post;
- so does a headline after a teaser that ended ("… Read more", "[…]");
- on a listing page (an archive or tag URL, a listing heading, a run of
  one-paragraph items) whose posts carry no dates, any headline does;
- otherwise a heading inside an article is a subheading.

After a comment section opens, only a block with a headline and a date,
byline or credit starts anything again; after a related-articles widget
opens, nothing does (its items are other pages').
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from postroom.content.captures import junk
from postroom.content.captures.kinds import TITLE_MIN, Info, Kind
from postroom.content.captures.lines import capital_ratio
from postroom.content.captures.meta import opening_date

_PREAMBLE_PROSE = 3  # this much prose before the first headline is the post itself
# ?page=2, ?start=20, ?cat=8: a page of a listing
_LISTING_QUERY = re.compile(r"(?:^|&)(?:page|paged|start|offset|cat|p|ym|year)=", re.IGNORECASE)
# the folder a listing's own name sits in: /tag/geneva/, /category/news/, /t/social-care
_TAXONOMY = frozenset(
    [
        "tag",
        "tags",
        "category",
        "categories",
        "topic",
        "topics",
        "label",
        "labels",
        "hashtag",
        "author",
        "authors",
        "t",
        "theme",
        "themes",
        "archive",
        "archives",
        "section",
        "sections",
        "series",
        "subject",
    ]
)
# a listing's own name: /news/, /blog/, /press-releases/
_LISTING_NAME = re.compile(
    r"^(?:news|blogs?|posts|articles|stories|updates|releases|press|press-releases|"
    r"media-releases|newsroom|research|all-research|insights|events|journal|diary|search)$",
    re.IGNORECASE,
)
_PAGED = re.compile(r"^(?:p|page)?\d{1,5}$", re.IGNORECASE)
_DATE_PATH = re.compile(r"/(?:19|20)\d\d(?:/\d\d){0,2}/?$")
# an article's own name: three or more words, as most sites write them in URLs
_ARTICLE_SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+){2,}(?:\.s?html?|\.php|\.aspx?)?$", re.I)


@dataclass
class Block:
    heading: bool  # True: headings and meta lines; False: prose
    infos: list[Info] = field(default_factory=list)
    ended: bool = False  # prose that ended as a teaser does ("…", "Read more")
    closed: bool = False  # a comment section or widget opened after it

    @property
    def titles(self) -> list[Info]:
        """Its headings that could be a headline (a person's name is none)."""
        return [
            i
            for i in self.infos
            if i.kind is Kind.HEAD
            and i.title_score >= TITLE_MIN
            and not (i.person and i.person.known)
        ]

    @property
    def dated(self) -> bool:
        return any(i.published for i in self.infos)

    @property
    def bylined(self) -> bool:
        """A byline, or a known person's name beside a headline that is not that name."""
        titles = self.titles
        return any(
            # a dashed name ("— Jack Kerouac") signs an epigraph or a sign-off, not a post
            (
                i.kind is Kind.META
                and not i.line.dash
                and (i.person or (i.credit and i.credit.author))
            )
            or (
                i.kind is Kind.HEAD
                and i.person is not None
                and i.person.known
                and any(t is not i for t in titles)
            )
            or i.title_author is not None
            for i in self.infos
        )

    @property
    def credited(self) -> bool:
        return any(i.credit and i.credit.source for i in self.infos)

    @property
    def listed(self) -> bool:
        """Two or more of its headings are list items: a list in the text, not a post's top."""
        return sum(1 for i in self.infos if i.kind is Kind.HEAD and i.line.bullet) >= 2

    @property
    def templated(self) -> bool:
        """An item's empty "Posted on" slot: the page lost the date but kept the item."""
        return any(i.empty_date for i in self.infos)


@dataclass
class Segment:
    """One post's lines: its opening block (None for a post with no heading) and the rest."""

    head: Block | None
    blocks: list[Block] = field(default_factory=list)
    tail: list[Block] = field(default_factory=list)  # heading blocks after the last prose
    reblog: bool = False  # a "View original post" link: the text quotes another blog


def url_says_listing(url: str | None) -> bool | None:
    """True for an archive, tag or paged URL, False for an article's, None if it cannot tell."""
    if not url:
        return None
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if not segments and not parts.query:
        return True  # a site's home page lists its latest posts
    if _LISTING_QUERY.search(parts.query):
        return True
    if not segments:
        return None
    last = segments[-1]
    if len(segments) >= 2 and segments[-2].lower() in _TAXONOMY:
        return True
    if _PAGED.match(last) and len(segments) >= 2:
        return True
    if _ARTICLE_SLUG.match(last):
        return "archive" in last.lower()
    if _DATE_PATH.search(parts.path) or _LISTING_NAME.match(last):
        return True
    return None


def blocks(infos: list[Info]) -> list[Block]:
    """Runs of heading lines and of prose; junk dropped, ends and "read more" noted."""
    out: list[Block] = []
    for info in infos:
        if info.kind is Kind.JUNK:
            continue
        if info.kind in (Kind.MORE, Kind.END):
            if out:
                out[-1].ended = True
                out[-1].closed = out[-1].closed or info.kind is Kind.END
            out.append(Block(heading=True, infos=[info]))
            continue
        heading = info.kind is not Kind.PROSE
        if not out or out[-1].heading != heading or out[-1].infos[-1].kind in (Kind.MORE, Kind.END):
            out.append(Block(heading=heading))
        out[-1].infos.append(info)
        if not heading:
            out[-1].ended = info.teaser_end
    return out


def _is_marker(block: Block) -> bool:
    return block.heading and block.infos[0].kind in (Kind.MORE, Kind.END)


def _rhythm(units: list[tuple[Block, Block | None]]) -> bool:
    """Three or more headline-and-one-paragraph items in a row: a listing."""
    run = best = 0
    for head, text in units:
        strong = any(i.title_score >= 0.6 for i in head.titles)
        if strong and text is not None and len(text.infos) == 1:
            run += 1
            best = max(best, run)
        else:
            run = 0
    return best >= 3


def _demote(infos: list[Info]) -> list[Info]:
    """Unpunctuated teasers and standfirsts that look like headings, read as prose.

    A listing's teaser may drop its full stop ("Council actions at odds with
    stated desires; City conducted …"), a standfirst under a headline often
    has none, and a capture's last line is often cut mid-sentence; each would
    otherwise pass for a heading, and a headline with no text under it.
    """
    kept = [n for n, i in enumerate(infos) if i.kind is not Kind.JUNK]
    out = list(infos)
    for k, n in enumerate(kept):
        info = infos[n]
        words = len(info.text.split())
        if info.kind is not Kind.HEAD or words < 6:
            continue
        after = infos[kept[k + 1]] if k + 1 < len(kept) else None
        before = infos[kept[k - 1]] if k > 0 else None
        under_title = (
            before is not None and before.kind is Kind.HEAD and before.title_score >= TITLE_MIN
        )
        sentence_case = capital_ratio(info.text) < 0.5
        if after is None and words >= 8:
            out[n] = replace(info, kind=Kind.PROSE)
        elif under_title and sentence_case and words >= 15:
            out[n] = replace(info, kind=Kind.PROSE)  # a standfirst or a teaser
        elif (
            under_title
            and sentence_case
            and re.search(r"[;,]\s", info.text)
            and (after is None or (after.kind is Kind.HEAD and capital_ratio(after.text) >= 0.5))
            and capital_ratio(before.text) >= 0.5
        ):
            out[n] = replace(info, kind=Kind.PROSE)  # a teaser that lost its full stop
    return out


def _strength(block: Block, text: Block | None) -> float:
    best = max((i.title_score for i in block.titles), default=0.0)
    return (
        best + 0.5 * block.dated + 0.3 * block.bylined + 0.1 * min(len(text.infos), 3)
        if text
        else 0.0
    )


def segment(infos: list[Info], url: str | None = None) -> list[Segment]:
    """The capture's posts as segments of blocks, in page order."""
    all_blocks = blocks(_demote(infos))
    units: list[tuple[Block, Block | None]] = []
    for n, block in enumerate(all_blocks):
        if _is_marker(block) and block.infos[0].kind is Kind.END:
            break  # a comment form's rows are no listing
        if block.heading and not _is_marker(block):
            following = all_blocks[n + 1] if n + 1 < len(all_blocks) else None
            units.append((block, following if following and not following.heading else None))
    dated_heads = sum(1 for head, text in units if text is not None and head.dated)
    listing = bool(url_says_listing(url)) or _rhythm(units)
    listing = listing or any(junk.is_listing_heading(i.text) for i in infos if i.kind is Kind.JUNK)
    undated_listing = listing and dated_heads < 2

    segments: list[Segment] = []
    preamble: list[Block] = []
    closed = False
    previous_ended = False
    for n, block in enumerate(all_blocks):
        if _is_marker(block):
            if junk.opens_widget(block.infos[0].text) and segments:
                break  # other pages' teasers from here on
            if block.infos[0].kind is Kind.END:
                closed = True
            elif segments and "original post" in block.infos[0].text.lower():
                segments[-1].reblog = True
            previous_ended = True
            continue
        following = all_blocks[n + 1] if n + 1 < len(all_blocks) else None
        has_text = following is not None and not following.heading
        if not block.heading:
            if segments and not closed:
                segments[-1].blocks.append(block)
            elif not segments:
                preamble.append(block)
            previous_ended = block.ended
            continue
        starts = has_text and (
            _starts_post(block, previous_ended, closed, undated_listing)
            or (bool(block.titles) and opening_date(following.infos[0].text) is not None)
        )
        if (
            not segments
            and not starts
            and has_text
            and (block.titles or block.dated or block.bylined)
        ):
            starts = not closed and not _outshone(all_blocks, n)
        if starts:
            prose_before = sum(len(b.infos) for b in preamble if not b.heading)
            if not segments and prose_before >= _PREAMBLE_PROSE and not listing:
                # the page opened straight into its text: this heading is inside the post
                untitled = Segment(None, [b for b in preamble if not b.heading])
                untitled.blocks.append(block)
                segments.append(untitled)
                preamble = []
                continue
            segments.append(Segment(block))
            closed = False
        elif segments and not closed:
            target = segments[-1]
            (target.tail if not has_text else target.blocks).append(block)
        elif not segments:
            preamble.append(block)
        previous_ended = False
    if not segments:
        prose = [b for b in preamble if not b.heading]
        if not prose:
            return []
        # an untitled page: what follows its last paragraph ("Published: …") closes it
        last = max(preamble.index(b) for b in prose)
        return [Segment(None, prose, tail=[b for b in preamble[last + 1 :] if b.heading])]
    return segments


def _trailing_credit(info: Info) -> bool:
    """'© 2024 TechCrunch …', 'Full story: The Guardian': a credit closing the item above.
    'Michael Arrington / TechCrunch:' ends in a colon: it introduces the item below."""
    return bool(info.credit and info.credit.source) and not info.text.rstrip().endswith(":")


def move_trailers(segments: list[Segment]) -> None:
    """Give back what a post's heading block took from the post above it.

    A credit line after a teaser closes that teaser's item even though the next
    headline follows at once; and on a page whose first item has no date line
    while every later one opens with one, the dates close their items too.
    """
    for previous, current in itertools.pairwise(segments):
        head = current.head
        if head is None:
            continue
        titles = [n for n, i in enumerate(head.infos) if i in head.titles]
        lead = head.infos[: titles[-1]] if titles else []
        moved = [i for i in lead if _trailing_credit(i)]
        if moved:
            previous.tail.append(Block(heading=True, infos=moved))
            head.infos = [i for i in head.infos if i not in moved]
    heads = [s.head for s in segments]
    if len(heads) < 3 or heads[0] is None or heads[0].dated:
        return
    if all(h is not None and h.infos and h.infos[0].published for h in heads[1:]):
        for previous, head in zip(segments, heads[1:], strict=False):
            previous.tail.append(Block(heading=True, infos=[head.infos[0]]))
            head.infos = head.infos[1:]


def _outshone(all_blocks: list[Block], n: int) -> bool:
    """A weak first heading (a banner, a section name) with a clearly better one just after."""
    block, text = all_blocks[n], all_blocks[n + 1]
    if block.dated or block.bylined or len(text.infos) > 1 or text.ended:
        return False
    if max(i.title_score for i in block.titles) >= 0.8:
        return False
    mine = _strength(block, text)
    for later in range(n + 2, min(n + 7, len(all_blocks) - 1)):
        other, after = all_blocks[later], all_blocks[later + 1]
        if other.heading and not _is_marker(other) and not after.heading:
            return _strength(other, after) >= mine + 0.25
    return False


def _starts_post(block: Block, previous_ended: bool, closed: bool, undated_listing: bool) -> bool:
    titled = bool(block.titles) and not block.listed
    if closed:
        return titled and (block.dated or block.bylined or block.credited or undated_listing)
    if block.dated:
        return True
    if titled and (block.bylined or block.templated):
        return True
    return titled and (previous_ended or undated_listing)
