"""Reports that come back after a message was accepted, read, matched and acted on.

Real mail servers accept a message and bounce it later (RFC 3464 delivery status
notifications), and mailbox providers send complaints when a reader presses "spam"
(RFC 5965 abuse reports). Both quote the message they are about, whose Message-ID is
postroom's own (emails.message: one per issue and subscriber). A report is acted on
only when that Message-ID is one of a message a server accepted from us, and (for a
DSN, which names its recipient) the recipient is the one it went to: anything else,
a forged or foreign report, is counted as unmatched and changes nothing.

Readers who use the `mailto:` of List-Unsubscribe write to the same mailbox, with the
subject "unsubscribe <token>"; a valid token unsubscribes them as the link would.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from enum import StrEnum

from postroom.core.config import Site
from postroom.emails.mailbox import Mailbox
from postroom.emails.message import IssueMessage, Recipient, spellings
from postroom.emails.tokens import Purpose, TokenError, read_token
from postroom.store import Store
from postroom.store.bounces import Kind, Limits, Matched, record, sent_to
from postroom.store.consent import How
from postroom.store.digests import issue_by_number
from postroom.store.holds import Pause
from postroom.store.subscribers import AddressError, Status, SubscriberList


class Found(StrEnum):
    """What a message in the bounce mailbox turned out to be."""

    BOUNCE = "bounce"  # a delivery status notification that something failed or waits
    COMPLAINT = "complaint"  # an ARF abuse report
    UNSUBSCRIBE = "unsubscribe"  # "unsubscribe <token>", from List-Unsubscribe's mailto:
    OTHER = "other"  # an auto-reply, a "delivered" DSN, a non-abuse feedback report, mail


@dataclass(frozen=True)
class Report:
    """One message of the bounce mailbox, as read (nothing matched yet)."""

    found: Found
    key: str = ""  # the report's identity, for recording it once
    message_id: str = ""  # of the message it is about, "<...>"
    recipient: str = ""  # the failed recipient a DSN names ("" in an ARF report)
    kind: Kind | None = None  # hard, soft, complaint
    status: str = ""  # RFC 3463 status code of a DSN, "5.1.1"
    detail: str = ""  # the diagnostic, or the feedback type
    token: str = ""  # an unsubscribe's token


_STATUS = re.compile(r"\b([245])\.\d{1,3}\.\d{1,3}\b")
_SMTP_CODE = re.compile(r"\b([245])\d\d\b")
_UNSUBSCRIBE = re.compile(r"unsubscribe\s+(\S+)", re.IGNORECASE)
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def read_report(data: bytes) -> Report:
    """What a message is: a DSN, an ARF report, a mailto: unsubscribe, or something else.
    Never raises on malformed mail: what cannot be read is OTHER."""
    try:
        message = email.message_from_bytes(data, policy=email.policy.default)
        return _read(message, data)
    except Exception:  # malformed beyond what the email package tolerates
        return Report(Found.OTHER)


def _read(message: EmailMessage, data: bytes) -> Report:
    kind = message.get_content_type()
    report_type = (message.get_param("report-type") or "").lower()
    own = _first_id(str(message.get("Message-ID", "")))
    key = hashlib.sha256((own or data.decode("latin-1")).encode()).hexdigest()
    if kind == "multipart/report" and report_type == "delivery-status":
        return _dsn(message, key)
    if kind == "multipart/report" and report_type == "feedback-report":
        return _arf(message, key)
    subject = str(message.get("Subject", "")).strip()
    if (found := _UNSUBSCRIBE.fullmatch(subject)) is not None:
        return Report(Found.UNSUBSCRIBE, key=key, token=found.group(1))
    return Report(Found.OTHER)


def _dsn(message: EmailMessage, key: str) -> Report:
    """RFC 3464: per-recipient fields (Final-Recipient, Action, Status, Diagnostic-Code)
    and the original message or its headers. A failed 5.x.x is hard; a delay or 4.x.x is
    soft; "delivered", "relayed" and "expanded" are no bounce at all."""
    status_part = _part(message, "message/delivery-status")
    blocks = status_part.get_payload() if status_part is not None else []
    original = _original_id(message)
    for block in blocks[1:] if isinstance(blocks, list) else []:  # [0]: per-message fields
        action = str(block.get("Action", "")).strip().lower()
        recipient = _address(block.get("Final-Recipient") or block.get("Original-Recipient"))
        diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
        status = _STATUS.search(str(block.get("Status", ""))) or _STATUS.search(diagnostic)
        code = status.group(0) if status else ""
        klass = code[:1] or (m.group(1) if (m := _SMTP_CODE.search(diagnostic)) else "")
        if action == "failed":
            kind = Kind.SOFT if klass == "4" else Kind.HARD
        elif action == "delayed":
            kind = Kind.SOFT
        else:
            continue
        detail = diagnostic or f"{action} {code}".strip()
        return Report(Found.BOUNCE, key, original, recipient, kind, code, detail)
    return Report(Found.OTHER)


def _arf(message: EmailMessage, key: str) -> Report:
    """RFC 5965: a message/feedback-report part (Feedback-Type: abuse is a complaint; the
    others, such as auth-failure or not-spam, are not) and the original message."""
    feedback = _part(message, "message/feedback-report")
    fields = feedback.get_payload() if feedback is not None else None
    if not isinstance(fields, list) or not fields:
        return Report(Found.OTHER)
    kind = str(fields[0].get("Feedback-Type", "")).strip().lower()
    if kind != "abuse":
        return Report(Found.OTHER)
    return Report(Found.COMPLAINT, key, _original_id(message), "", Kind.COMPLAINT, "", kind)


def _part(message: Message, content_type: str) -> Message | None:
    return next((p for p in message.walk() if p.get_content_type() == content_type), None)


def _original_id(message: EmailMessage) -> str:
    """The Message-ID of the message a report quotes: from its message/rfc822 part, or
    text/rfc822-headers (headers only), else the report's own In-Reply-To/References."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if inner is not None and (found := _first_id(str(inner.get("Message-ID", "")))):
                return found
        elif kind in ("text/rfc822-headers", "text/global-headers"):
            raw = part.get_payload(decode=True) or b""
            headers = BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
            if found := _first_id(str(headers.get("Message-ID", ""))):
                return found
    return _first_id(str(message.get("In-Reply-To", "")))


def _first_id(value: str) -> str:
    found = _MESSAGE_ID.search(value)
    return found.group(0) if found else ""


def _address(field: object) -> str:
    """The address of a recipient field: "rfc822; bob@example.org" -> bob@example.org."""
    value = str(field or "")
    kind, _, address = value.partition(";")
    if not address:
        address = kind
    return address.strip().strip("<>").strip()


@dataclass
class Outcome:
    """What one pass over the bounce mailbox did; `summary` is the line the CLI and the
    service's log print."""

    read: int = 0
    hard: int = 0
    soft: int = 0
    complaints: int = 0
    unsubscribed: int = 0
    repeated: int = 0  # matched, but recorded by an earlier pass
    unmatched: int = 0  # a report of no message we sent (forged, foreign, too old)
    other: int = 0  # not a report at all
    pauses: list[Pause] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.read} messages read: {self.hard} hard bounces, {self.soft} soft,"
            f" {self.complaints} complaints, {self.unsubscribed} unsubscribed,"
            f" {self.unmatched} unmatched, {self.repeated} seen before, {self.other} other"
        )

    def counts(self) -> dict[str, int]:
        names = ("read", "hard", "soft", "complaints", "unsubscribed", "repeated", "unmatched")
        return {name: getattr(self, name) for name in (*names, "other")}


_ID_ISSUE = re.compile(r"<digest-(\d+)\.")


class SentMessages:
    """Message-IDs of the messages servers accepted from us, issue by issue, made again
    from the ledger with emails.message's own rule (nothing else records them): each
    issue's are worked out once a pass, however many reports name it."""

    def __init__(self, site: Site, store: Store, secret: bytes) -> None:
        self.site, self.store, self.secret = site, store, secret
        self._issues: dict[int, dict[str, tuple[int, str]]] = {}

    def find(self, message_id: str) -> tuple[int, int, str] | None:
        """(issue, subscriber id, address) of the message we sent with this Message-ID."""
        number = _ID_ISSUE.match(message_id)
        if number is None:
            return None
        issue = int(number.group(1))
        if issue not in self._issues:
            self._issues[issue] = self._ids(issue)
        found = self._issues[issue].get(message_id)
        return (issue, *found) if found else None

    def _ids(self, number: int) -> dict[str, tuple[int, str]]:
        issue = issue_by_number(self.store, number)
        if issue is None:
            return {}
        message = IssueMessage(self.site, issue, self.secret)  # only for its Message-IDs
        return {
            message.message_id(Recipient(subscriber_id, address)): (subscriber_id, address)
            for subscriber_id, address in sent_to(self.store, number)
        }


def limits(site: Site) -> Limits:
    mail = site.config.mail
    return Limits(hard=mail.pause_bounce_rate, complaint=mail.pause_complaint_rate)


def process(
    site: Site,
    store: Store,
    mailbox: Mailbox,
    secret: bytes | None,
    now: datetime,
    on_pause: Callable[[Pause], None] | None = None,
) -> Outcome:
    """Read every unread message of `mailbox`, act on what matches, mark each read.
    `secret` None: nothing can be matched (our Message-IDs and tokens are keyed with
    it), so everything is left unread for a run that has it."""
    outcome = Outcome()
    if secret is None:
        return outcome
    sent, book, caps = SentMessages(site, store, secret), SubscriberList(store), limits(site)
    for ref, data in mailbox.unread():
        report = read_report(data)
        outcome.read += 1
        if report.found is Found.OTHER:
            outcome.other += 1
        elif report.found is Found.UNSUBSCRIBE:
            if _unsubscribe(book, secret, report.token):
                outcome.unsubscribed += 1
            else:
                outcome.unmatched += 1
        else:
            matched = _match(sent, report)
            if matched is None:
                outcome.unmatched += 1
            else:
                new, pause = record(store, matched, caps, now)
                if not new:
                    outcome.repeated += 1
                elif matched.kind is Kind.HARD:
                    outcome.hard += 1
                elif matched.kind is Kind.SOFT:
                    outcome.soft += 1
                else:
                    outcome.complaints += 1
                if pause is not None:
                    outcome.pauses.append(pause)
                    if on_pause:
                        on_pause(pause)
        mailbox.mark_read(ref)
    return outcome


def _match(sent: SentMessages, report: Report) -> Matched | None:
    """The report as one about a message we sent, or None: no Message-ID of ours, or a
    DSN naming another recipient than the one that message went to."""
    if report.kind is None or not report.message_id:
        return None
    found = sent.find(report.message_id)
    if found is None:
        return None
    issue, subscriber_id, address = found
    if report.found is Found.BOUNCE and report.recipient.lower() not in spellings(address):
        return None
    return Matched(
        report.key, issue, subscriber_id, address, report.kind, report.status, report.detail
    )


def _unsubscribe(book: SubscriberList, secret: bytes, token: str) -> bool:
    """A mailto: unsubscribe: True if the token was valid (the reader is unsubscribed, or
    already was not on the list)."""
    try:
        address = read_token(secret, token, Purpose.UNSUBSCRIBE, book.address_of).address
        book.set_status(address, Status.UNSUBSCRIBED, How.EMAIL)
    except (TokenError, AddressError):
        return False
    return True
