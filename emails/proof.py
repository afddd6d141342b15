"""A proof before every automatic issue: the curator sees the issue as it will go out, and
may hold it, skip it or send it now.

`digest.proof_hours` before a slot (when `curator.email` is set), the service freezes
the slot's issue: its posts and its rendered parts are kept then (the slot's outcome
PROOF), so what the curator sees is exactly what subscribers get, and posts picked up
after it go in the next issue. The curator gets it with "[Proof]" before its subject and
three signed links, each to a page with one button (mail scanners follow GET links; only
the button's POST acts):

    Hold      the issue does not go out at its slot (HELD) until "Send now" or
              `postroom digest send`
    Skip      no issue at this slot (SKIPPED): the issue is unmade, its posts roll into
              the next one
    Send now  issued at once (ISSUED): queued for every subscriber active now; the
              service sends it at its next tick

At the slot, an issue still at PROOF is issued as frozen (emails.issues.decide_slot). A
slot reached without a proof (the service was down all through its proof window) is
decided as it always was. Every move is a compare-and-set on the slot's row, so the
curator's answer and the slot's time cannot both win, and the service, which decides
from these states and not from events, does the right thing after any restart.

The curator is also told, in a short note, when a slot passes with no issue: late,
empty or held.

Links are tokens of `emails.tokens`, one purpose per action ("proof-hold", ...), made
for the issue's number and the slot's time: a link names one issue of one slot, and it
expires `PROOF_LINK_DAYS` after the slot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from html import escape

from postroom.core.config import Site
from postroom.core.sanitize import one_line
from postroom.core.schedule import next_slot
from postroom.emails.confirm import short_message
from postroom.emails.issues import announce, issue_waiting, make_proof_issue
from postroom.emails.message import Envelope, IssueMessage, Recipient, dkim_signer
from postroom.emails.tokens import Purpose, TokenHolder, make_token
from postroom.store import Store
from postroom.store.digests import (
    Issue,
    RaceLost,
    SlotIssue,
    SlotOutcome,
    any_slot_decided,
    hold_issue,
    slot_issue,
    unmake_issue,
)

PROOF_LINK_SECONDS = 7 * 86_400  # a proof's links work until this long after its slot
#: slot outcomes the curator is told of: the slot passed and nothing went out
NOTICED = (SlotOutcome.LATE, SlotOutcome.EMPTY, SlotOutcome.HELD)
_BODY = re.compile(r"<body[^>]*>", re.I)
_PROOF_BINDING = "a proof to the curator"


class ProofAction(StrEnum):
    """What a proof's links ask for; each is a page (`/proof/<action>`) and a token purpose."""

    HOLD = "hold"
    SKIP = "skip"
    SEND = "send"

    @property
    def purpose(self) -> Purpose:
        return Purpose(f"proof-{self.value}")


_BUTTONS = {ProofAction.HOLD: "Hold", ProofAction.SKIP: "Skip", ProofAction.SEND: "Send now"}


def proofs_on(site: Site) -> bool:
    """Proofs need hours before the slot and someone to send them to."""
    config = site.config
    return config.digest.proof_hours > 0 and bool(config.curator.email)


def proof_slot(site: Site, now: datetime) -> datetime | None:
    """The coming slot, if its proof is due now (within `digest.proof_hours` of it)."""
    if not proofs_on(site):
        return None
    config = site.config
    slot = next_slot(config.digest.schedule, config.tz, now)
    return slot if slot - now <= timedelta(hours=config.digest.proof_hours) else None


def prepare_proof(site: Site, store: Store, now: datetime) -> SlotIssue | None:
    """The coming slot, its issue frozen for the proof once its window has opened: None
    before the window, with proofs off, on a site that has decided no slot yet (its first
    slot is `before-start`), and while there is nothing new to send (asked again at the
    next tick, so a post picked up later in the window still gets its proof)."""
    slot = proof_slot(site, now)
    if slot is None or not any_slot_decided(store):
        return None
    found = slot_issue(store, slot)
    if found is None:
        try:
            if make_proof_issue(site, store, slot, now) is None:
                return None
        except RaceLost:  # another process made an issue or decided the slot: read again
            pass
        found = slot_issue(store, slot)
    return found


def proof_due(found: SlotIssue | None, now: datetime) -> Issue | None:
    """The issue whose proof should go out now: frozen for its slot, not yet proofed, and
    its slot still to come (a proof after the issue went out would ask too late)."""
    if (
        found is None
        or found.outcome is not SlotOutcome.PROOF
        or found.issue is None
        or found.proof_sent_at
        or now >= found.slot
    ):
        return None
    return found.issue


def proof_url(site: Site, secret: bytes, action: ProofAction, slot: datetime, number: int) -> str:
    """The signed link to `action`'s page for issue `number` of `slot`."""
    slot_time = int(slot.timestamp())
    token = make_token(secret, action.purpose, number, _PROOF_BINDING, slot_time)
    return f"{site.base_url}proof/{action.value}?token={token}"


def proof_binding(_number: int) -> str:
    """What a proof token's signature binds beside its bytes (`tokens.read_token`'s
    `address_of`): a subscriber's token binds their address; a proof's names an issue,
    whose number, purpose and slot its bytes hold already."""
    return _PROOF_BINDING


def proof_target(holder: TokenHolder) -> tuple[int, datetime]:
    """(issue number, slot) of a proof link's verified token (what `proof_url` put in)."""
    assert holder.subscriber_id is not None  # proof tokens are all of the opaque format
    return holder.subscriber_id, datetime.fromtimestamp(holder.issued, UTC)


def _when(site: Site, slot: datetime) -> str:
    local = slot.astimezone(site.config.tz)
    return f"{local:%A} {local.day} {local:%B %Y} at {local:%H:%M} ({local:%Z})"


def proof_message(site: Site, secret: bytes, slot: datetime, issue: Issue) -> Envelope:
    """The issue as its subscribers will get it, to the curator: "[Proof]" before its
    subject, and above its parts a note with the links that hold, skip or send it now."""
    links = {a: proof_url(site, secret, a, slot, issue.number) for a in ProofAction}
    when = _when(site, slot)
    note = (
        f"Proof of issue {issue.number} ({len(issue.post_ids)} posts): it goes to every"
        f" subscriber on {when}, as you see it below."
    )
    names = _BUTTONS
    anchors = " &middot; ".join(
        f'<a href="{escape(links[a])}" style="color:#1a4d8f;font-weight:bold">{names[a]}</a>'
        for a in ProofAction
    )
    banner = (
        '<div style="max-width:600px;margin:0 auto;padding:12px 16px;background:#fff4d6;'
        'color:#222222;font:15px/1.5 Georgia,serif;border-bottom:1px solid #e0c97a">'
        f'<p style="margin:0 0 6px">{escape(note)}</p><p style="margin:0">{anchors}</p></div>'
    )
    html, count = _BODY.subn(lambda m: f"{m.group(0)}\n{banner}\n", issue.html, count=1)
    if not count:
        html = banner + issue.html
    text = (
        f"{note}\n\n"
        + "".join(f"{names[a]}: {links[a]}\n" for a in ProofAction)
        + "\n"
        + "-" * 72
        + "\n\n"
        + issue.text
    )
    proof = replace(issue, subject=one_line(f"[Proof] {issue.subject}"), html=html, text=text)
    envelope = IssueMessage(site, proof, secret, dkim_signer(site)).for_recipient(
        Recipient(0, site.config.curator.email, site.config.curator.name)
    )
    return replace(envelope, kind="proof")


def notice_message(site: Site, slot: datetime, outcome: SlotOutcome, now: datetime) -> Envelope:
    """A short note to the curator: the slot passed and no issue went out, and why."""
    when = _when(site, slot)
    why = {
        SlotOutcome.LATE: (
            "postroom was not running in time (later than digest.late_limit_hours):"
            " its posts go in the next issue."
        ),
        SlotOutcome.EMPTY: "there was nothing new since the last issue.",
        SlotOutcome.HELD: (
            "you held it. It waits: send it with the Send now link of its proof, or"
            " `postroom digest send`."
        ),
    }[outcome]
    title = one_line(site.config.site.title)
    return short_message(
        site,
        site.config.curator.email,
        f"[{title}] No issue on {when} ({outcome.value})",
        f"No issue of {title} went out on {when}: {why}\n",
        now,
        "notice",
    )


@dataclass(frozen=True)
class ProofPage:
    """What a proof link's page says: a question with its button, or why there is none."""

    heading: str
    message: str
    button: str = ""  # empty: nothing to press
    status: int = 200


def _gone(found: SlotIssue | None, number: int, when: str) -> ProofPage | None:
    """The page for a link whose issue is no longer waiting, or None if it is."""
    if found is None or found.issue is None or found.issue.number != number:
        return ProofPage(
            "Nothing to do",
            f"Issue {number} of {when} was not sent and is no more (skipped, or too late):"
            " its posts go in the next issue.",
            status=409,
        )
    if found.outcome is SlotOutcome.ISSUED:
        return ProofPage(
            "Already sent", f"Issue {number} has gone out ({found.issue.subject}).", status=409
        )
    return None


def describe(
    site: Site, store: Store, action: ProofAction, number: int, slot: datetime
) -> ProofPage:
    """The page a proof link opens: what its button would do to the issue as it is now."""
    found, when = slot_issue(store, slot), _when(site, slot)
    if gone := _gone(found, number, when):
        return gone
    assert found is not None and found.issue is not None
    held = found.outcome is SlotOutcome.HELD
    subject = found.issue.subject
    if action is ProofAction.HOLD:
        if held:
            return ProofPage("Already held", f"Issue {number} is held: it waits for you.")
        return ProofPage(
            f"Hold issue {number}?",
            f"“{subject}” goes to every subscriber on {when}. Held, it does not go out until"
            " you send it (Send now, or `postroom digest send`).",
            _BUTTONS[action],
        )
    if action is ProofAction.SKIP:
        return ProofPage(
            f"Skip issue {number}?",
            f"“{subject}” {'is held' if held else f'goes out on {when}'}. Skipped, it never"
            f" goes out, and its {len(found.issue.post_ids)} posts go in the next issue.",
            _BUTTONS[action],
        )
    return ProofPage(
        f"Send issue {number} now?",
        f"“{subject}” {'is held' if held else f'goes out on {when}'}. Press the button and it"
        " goes to every subscriber now.",
        _BUTTONS[action],
    )


def answer(
    site: Site, store: Store, action: ProofAction, number: int, slot: datetime, now: datetime
) -> ProofPage:
    """Do what the button says, if the issue is still where the page found it."""
    waiting = (SlotOutcome.PROOF, SlotOutcome.HELD)
    if action is ProofAction.HOLD:
        done = hold_issue(store, slot, number)
        said = f"Issue {number} is held: it does not go out until you send it."
    elif action is ProofAction.SKIP:
        done = unmake_issue(store, slot, number, waiting, SlotOutcome.SKIPPED)
        said = f"No issue goes out for {_when(site, slot)}: its posts go in the next issue."
    else:
        done = issue_waiting(site, store, slot, number, now, waiting)
        if done:
            announce(site, store, number)
        tick = site.config.service.tick_seconds
        said = f"Issue {number} is on its way: the service sends it within {tick} seconds."
    if done:
        return ProofPage({"hold": "Held", "skip": "Skipped", "send": "Sending"}[action], said)
    page = describe(site, store, action, number, slot)  # someone else moved it first
    return replace(page, button="", status=409)
