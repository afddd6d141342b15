"""Lines a capture carries that are not any post's words.

Three kinds, told apart because they mean different things for the layout:
furniture (junk wherever it stands: banners, skip links, share widgets, image
credits, counters), a post's end (a comment section or a related-articles
widget opens: nothing after it belongs to the post), and a "read more" link
(a listing's teaser ends here, so the next headline starts a new item).
Listing headings ("Tag Archives: …", "Showing posts from …") are furniture
that also says the page is a listing.
"""

from __future__ import annotations

import re

# Page furniture is short; a long paragraph that mentions cookies is prose.
_MAX_JUNK_LINE = 240

_FURNITURE = re.compile(
    r"""^(?:
      cookie\ consent\b.*
    | .*\bcookies?\b.*\b(?:disabled|consent|enable|accept|use\ of|on\ your\ device|turn)\b.*
    | .*\b(?:consent|agree)\ to\ (?:the\ |our\ |this\ )?(?:use\ (?:of\ )?)?cookies\b.*
    | (?:accept|reject|manage)\ (?:all\ )?cookies
    | .*\byour\ (?:web\ )?browser\ (?:is\ no\ longer\ supported|is\ out\ of\ date
        |appears\ to\ have).*
    | for\ the\ best\ (?:possible\ )?experience\b.*
    | (?:upgrade|update)\ your\ browser.*
    | .*\b(?:enable|turn\ on)\ javascript\b.* | .*\bjavascript\ (?:is\ )?(?:disabled|required)\b.*
    | connecting\ to\ \S+
    | (?:skip|jump)\ to\ (?:main\ )?(?:content|navigation|search|footer)
    | (?:back|return)\ to\ (?:top|blog|home).* | top\ of\ page
    | learn\ more | advertisement | sponsored(?:\ content)? | image | video | play\ video.*
    | space\ to\ play\ or\ pause.* | duration:.*
    | (?:shutterstock|getty\ images|alamy|istock(?:photo)?|dreamstime)(?:\s+\S+){0,3}
    | .{0,60}(?:/|\|)\s*(?:shutterstock|getty\ images|alamy|istock(?:photo)?|dreamstime)
    | (?:photo|image|picture|credit|pic)s?\s*(?:credit)?\s*[:/]\s*(?:\S+\s*){1,4} | [-–]\s*credit:.*
    | (?:photo|image|picture|illustration)\s+(?:by|from|via|courtesy\ of)\ .* | .*\s/\s?unsplash
    | .{0,80}(?:/\s?flickr|wikimedia\ commons|creative\ commons
        |\bcc\ by(?:-[a-z]{2})*(?:\ \d\.\d)?)\W*
    | .*\.(?:jpe?g|png|gif|webp)\b.* | .*\b\d{3,4}w
    | (?:\S+\s+){0,5}0\d\d | (?:img|dsc|dscn|dcim)[_\ -]?\d{2,6}
    | [•·*\-]?\s*(?:\d+\ )?comments? | \d[\d,]*\ (?:shares?|likes?|views?|reads?)
    | share(?:\ this)?(?:\ (?:article|post|story|page))?\s*:? | share\ button
    | (?:tweet|email|print|facebook|twitter|linkedin|whatsapp|pinterest|reddit|x|rss)
    | (?:share|follow\ us|find\ us)\ on\ .* | like\ this:?
    | \(\d[\d,]*\ posts?\) | \d[\d,]*\ (?:items?|results?|posts?|articles?|stories)\ found
    | (?:\S+\s+[・|•·–-]\s+)?\d+\ (?:seconds?|minutes?|mins?|hours?|days?|weeks?|months?|years?)
        \ ago
    | (?:\S+\s+){0,4}\d+\ (?:seconds?|minutes?|mins?|hours?|days?|weeks?)\ ago
    | \d+\ min(?:ute)?s?\ read | reading\ time:.*
    | (?:sign\ up|subscribe)\b.{0,40}\bnewsletter.* | get\ (?:our|the\ latest)\b.{0,40}\binbox.*
    | enter\ your\ email.* | subscribe(?:\ now)? | sign\ (?:up|in) | log\ ?in | register(?:\ now)?
    | (?:already\ a\ )?subscriber\?.* | subscribe\ to\ (?:read|continue).* | to\ continue\ reading.*
    | search | menu | home | close | next | previous | older\ posts | newer\ posts
    | home\s*[>»/|].* | (?:proudly\ )?powered\ by\ .* | blog\ at\b.* | up\ ↑
    )$""",
    re.IGNORECASE | re.VERBOSE,
)

# "Social Care and Support Icon", "Banner picture of Hawks players": alt text left behind
_ALT_TEXT = re.compile(
    r"^(?:\S+\s+){0,5}(?:icon|logo|thumbnail|avatar|banner)$|^(?:\S+\s+){1,2}(?:photo|picture)$"
    r"|^(?:banner|header)\s+(?:image|picture|photo)\b.*",
    re.IGNORECASE,
)

_LISTING_HEADING = re.compile(
    r"""^(?:
      (?:(?:tag|category|author|date|monthly|yearly|blog|news)\s+)?archives?(?:\s*(?:for\b|:).*)?
    | (?:tag|category|topic|filed\ under|tagged):\ .* | showing\ posts\ (?:from|with|for)\ .*
    | latest\ (?:posts|news|articles|stories|updates)\b.* | (?:blog\ )?posts | news
    | (?:all\ )?(?:blog|news|media|press)\ (?:posts|releases|announcements|articles|stories)
    | page\ \d+(?:\ of\ \d+)? | posts\ tagged\ .* | results\ for\ .*
    | (?:all\ )?(?:posts|articles|stories|entries)\ (?:by|from|in|about)\ .{1,40}
    )$""",
    re.IGNORECASE | re.VERBOSE,
)

# A related-articles or recommendations widget: what follows are other pages' teasers.
_WIDGET = re.compile(
    r"""^(?:related\ (?:articles|posts|stories|content|reading|news|links)
      | you\ (?:might|may)\ also\ (?:like|enjoy) | read\ next | more\ (?:stories|articles)\b.*
      | most\ (?:read|popular|viewed) | recommended(?:\ for\ you)? | latest\ (?:stories|articles)
      | (?:other|more)\ (?:news|posts)\ (?:from|in|like)\b.*
      )\W*$""",
    re.IGNORECASE | re.VERBOSE,
)
_POST_END = re.compile(
    r"""^(?:have\ your\ say|you\ must\ (?:sign|log)\ in\ to\ (?:make|post|leave)\ a\ comment.*
      | leave\ a\ (?:comment|reply) | post\ a\ comment | add\ (?:a|your)\ comment
      | no\ comments:? | \d+\ (?:comments|responses|replies)(?:\ (?:on|to)\ .*)?
      | comments?\ (?:are\ )?closed.* | join\ the\ (?:discussion|conversation)
      | related(?:\ (?:articles|posts|stories|content|reading|news))? | read\ next
      | you\ (?:might|may)\ also\ (?:like|enjoy) | more\ (?:stories|articles)\ (?:from|like\ this).*
      | filed\ under\b.* | share\ this:? | send\ your\ stories\ to\b.* | most\ (?:read|popular)
      | recommended(?:\ for\ you)? | references(?:\ used\ in\ this\ \w+)?:?
      )\W*$""",
    re.IGNORECASE | re.VERBOSE,
)

_MORE = re.compile(
    r"""^(?:read\ more\b(?!\s*[-–—:]\s*\w).* | continue\ reading\b.* | keep\ reading.*
      | view\ (?:the\ )?original\ post\b.* | read\ (?:the\ )?full\ (?:story|article|post|report)\b.*
      | read\ the\ (?:report|story|article) | more\ info | find\ out\ more | see\ more
      )$""",
    re.IGNORECASE | re.VERBOSE,
)

# "… Read more »", "... Continue Reading →", "[…]": a teaser's end on its last line
_TEASER_TAIL = re.compile(
    r"\s*(?:\[(?:…|\.\.\.)\]|…|\.\.\.)?\s*(?:(?:read\ more|continue\ reading|read\ full\ story)"
    r"\W*)?$|\s*(?:\[(?:…|\.\.\.)\]|…|\.\.\.)\s*$",
    re.IGNORECASE | re.VERBOSE,
)
_TEASER_MARK = re.compile(
    r"(?:\[(?:…|\.\.\.)\]|…|\.\.\.|\bread\ more\W*|\bcontinue\ reading\W*|\bread\ full\ story\W*)$",
    re.IGNORECASE | re.VERBOSE,
)

# "C7521 A40553 Ed23 D02 Dc01960583 E27 E": file names of images, left as text.
_HASH_TOKEN = re.compile(r"^(?:[A-Za-z]{0,3}\d[A-Za-z\d]*|[A-Z])$")
_ONLY_MARKS = re.compile(r"^[\W_]+$")


def _is_hash_line(line: str) -> bool:
    tokens = line.split()
    if len(tokens) < 3 or not all(_HASH_TOKEN.match(t) for t in tokens):
        return False
    return sum(any(c.isdigit() for c in t) for t in tokens) * 2 >= len(tokens)


def is_junk(line: str) -> bool:
    """True for a line that is page furniture wherever it stands."""
    if len(line) > _MAX_JUNK_LINE:
        return False
    return bool(
        _ONLY_MARKS.match(line)
        or _FURNITURE.match(line)
        or _ALT_TEXT.match(line)
        or _is_hash_line(line)
        or is_listing_heading(line)
    )


def is_listing_heading(line: str) -> bool:
    """'Tag Archives: Geneva', 'Showing posts from April, 2020': the page lists posts."""
    return len(line) <= 80 and bool(_LISTING_HEADING.match(line))


def ends_post(line: str) -> bool:
    """True for a line after which a post has only comments, widgets and terms."""
    return len(line) <= 120 and bool(_POST_END.match(line))


def opens_widget(line: str) -> bool:
    """True for the heading of a related-articles widget: nothing after it is this page's."""
    return len(line) <= 80 and bool(_WIDGET.match(line))


def is_more_link(line: str) -> bool:
    """'Read more »', 'Continue reading →', 'View original post 375 more words'."""
    return len(line) <= 160 and bool(_MORE.match(line))


_EXPLICIT_MORE = re.compile(
    r"(?:\[(?:…|\.\.\.)\]|\bread\ more\W*|\bcontinue\ reading\W*)$", re.I | re.X
)


def says_read_more(line: str) -> bool:
    """A paragraph ending "… Read more »" or "[…]": a teaser, whatever its words look like."""
    return bool(_EXPLICIT_MORE.search(line))


def teaser_tail(line: str) -> tuple[str, bool]:
    """A paragraph without its "… Read more" end, and whether it had one."""
    if not _TEASER_MARK.search(line):
        return line, False
    return _TEASER_TAIL.sub("", line).rstrip(), True
