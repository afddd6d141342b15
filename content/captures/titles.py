"""Which heading of a post's opening block is its headline.

A block holds the headline among a section label, a caption, a name and
the like. The headline is the one that reads most like a headline and stands
beside the post's date, byline or credit line, on the side this page puts
its headlines (learned from the page's other posts: a blog archive puts the
date above, a news listing below).
"""

from __future__ import annotations

from postroom.content.captures.kinds import TITLE_MIN, Info, Kind
from postroom.content.captures.layout import Block, Segment


def _anchors(infos: list[Info]) -> list[int]:
    """Where a block's date, byline or credit lines are: a headline stands beside one."""
    dated = [n for n, i in enumerate(infos) if i.meta is not None]
    if dated:
        return dated
    return [
        n
        for n, i in enumerate(infos)
        if i.kind is Kind.META and (i.person or i.credit or i.empty_date)
    ]


def candidates(head: Block) -> list[Info]:
    return [i for i in head.infos if i.kind is Kind.HEAD and i.title_score >= TITLE_MIN]


def title_side(segments: list[Segment]) -> bool | None:
    """True if this page puts headlines after their date line, False if before, None if
    it does not show (each post's block is read alone then)."""
    votes = 0
    for seg in segments:
        if seg.head is None:
            continue
        infos = seg.head.infos
        anchors = _anchors(infos)
        if not anchors:
            continue
        found = [infos.index(c) for c in candidates(seg.head)]
        before = any(n < anchors[0] for n in found)
        after = any(n > anchors[0] for n in found)
        votes += (after and not before) - (before and not after)
    return None if votes == 0 else votes > 0


def pick_title(head: Block, title_after: bool | None) -> Info | None:
    """The headline of a post whose opening block is `head`, or None."""
    infos = head.infos
    found = candidates(head)
    if not found:
        return None
    anchors = _anchors(infos)
    after = title_after if title_after is not None else bool(anchors and anchors[0] == 0)
    if title_after is not None and anchors:
        # the page puts its headlines on one side of the date: a heading on the other
        # side is a label or a caption, and a headline with a full stop reads as prose
        found = [i for i in found if (infos.index(i) > anchors[0]) == after] or (
            [] if any(i.meta for i in infos) else found
        )
        if not found:
            return None
    best, best_score = None, -1.0
    for info in found:
        n = infos.index(info)
        score = info.title_score
        if anchors:
            distance = min(abs(n - a) for a in anchors)
            score += 0.3 if distance == 1 else 0.15 if distance == 2 else 0.0
            if (n > anchors[0]) == after:
                score += 0.15
        elif info is found[0]:
            score += 0.1  # with nothing to stand beside, a headline comes first
        if info.person is not None and info.person.known:
            score -= 0.3
        if n + 1 < len(infos) and infos[n + 1].line.glued:
            score -= 0.5  # a caption the text ran into: "… Sam FosterThe hard work …"
        score += min(len(info.text.split()), 12) * 0.005
        if score > best_score:
            best, best_score = info, score
    return best


def title_from_meta(head: Block) -> str | None:
    """'One Sentence Journal 9/29/09' under a date header: a headline holding a date."""
    dated = [i for i in head.infos if i.meta is not None and not i.credit]
    for info in dated[1:]:
        if len(info.meta.before.split()) >= 2 and info.meta.author is None:
            return info.text
    return None
