"""One issue's MIME message, built once; per recipient only the personal bytes are spliced in.

The frozen HTML and text parts are quoted-printable encoded once, cut at the
personal placeholders (ADDRESS, UNSUBSCRIBE_URL, PREFERENCES_URL). Each piece ends in a soft line
break, so a recipient's value goes on lines of its own and every line stays
under 78 octets, whatever the value: the splice can never break the encoding,
and the message is 7-bit clean (no 8BITMIME needed). The per-recipient headers
(To, Message-ID, List-Unsubscribe) are written as the `email` package folds them
(which refuses CR/LF in a value; subjects and names were made one line before): a
plain one (a dot-atom address, a display name of plain words, a msg-id) that fits a
line is written directly, the byte-same text; anything else goes through it.

For SMTP the message is also made as DATA carries it (`Envelope.wire`): lines that
begin with "." doubled (RFC 5321 4.5.2), then CRLF.CRLF. Every piece, common or
personal, starts at a line's start and ends with CRLF, so each is dot-stuffed on its
own: the issue's pieces once, a recipient's few short ones per message. smtplib would
search all 35 KB with a regex for every recipient.

Internationalised addresses: an IDN domain goes out as its A-labels (punycode) in
the To header and the envelope, so `q7@exämple.org` needs nothing of the server;
a non-ASCII local part (RFC 6531) can only be written as raw UTF-8, in the To
header and the envelope, and goes only where the server offers SMTPUTF8 (the
transport refuses that one message otherwise).
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import idna
from postroom.core.config import ConfigError, Site
from postroom.core.sanitize import one_line
from postroom.emails.render import ADDRESS, PREFERENCES_URL, UNSUBSCRIBE_URL
from postroom.emails.tokens import Purpose, make_token
from postroom.store.digests import Issue

_SLOT = re.compile(
    "(" + "|".join(map(re.escape, (ADDRESS, UNSUBSCRIBE_URL, PREFERENCES_URL))) + ")"
)
_LONE_LF = re.compile(rb"(?<!\r)\n")
_SOFT_BREAK = b"=\r\n"
_LEADING_DOT = re.compile(rb"(?m)^\.")  # smtplib's own (_quote_periods)
_END_OF_DATA = b".\r\n"
# A header value the email package writes back as it is, when it fits one line: an
# address as a dot-atom (with a display name of plain words, or in angle brackets, as a
# msg-id is). tests/test_mail_wire.py holds it to `_folded` over many values.
_DOT_ATOM = r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*"
_PLAIN_ADDRESS = rf"{_DOT_ATOM}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
#: an address every tool writes as it is (smtplib's quoteaddr too: emails.transports)
PLAIN_ADDRESS = re.compile(_PLAIN_ADDRESS)
_PLAIN_VALUE = re.compile(
    rf"{_PLAIN_ADDRESS}|<{_PLAIN_ADDRESS}>|[A-Za-z0-9]+(?: [A-Za-z0-9]+)* <{_PLAIN_ADDRESS}>"
)
_MAX_LINE = 78  # policy.SMTP's max_line_length


@dataclass(frozen=True)
class Recipient:
    subscriber_id: int
    address: str  # normalised by email-validator: no CR/LF can be in it
    name: str = ""


@dataclass(frozen=True)
class Envelope:
    """What a transport needs: SMTP envelope and the message's bytes (CRLF lines)."""

    issue: int
    subscriber_id: int  # 0 for a test copy, which no ledger row stands behind
    sender: str
    recipient: str
    message_id: str
    data: bytes
    kind: str = "digest"  # or "confirm": a double opt-in message, no ledger row behind it
    # `data` as SMTP's DATA carries it (see `smtp_wire`), made from pieces stuffed once
    # per issue; empty when not made (the transport makes it from `data`)
    wire: bytes = b""

    @property
    def needs_smtputf8(self) -> bool:
        return not (self.sender.isascii() and self.recipient.isascii())


@dataclass(frozen=True)
class Mailbox:
    """An address as it goes into a message: its To header and its envelope."""

    header: str  # the To header's value: the name (if any) and the address
    envelope: str  # for RCPT TO: the domain as A-labels
    smtputf8: bool  # a non-ASCII local part: only a server offering SMTPUTF8 takes it


def mailbox(address: str, name: str = "") -> Mailbox:
    """`address` (as the list keeps it, normalised by email-validator: an IDN domain in
    Unicode) ready for a header and an envelope. The domain is always written as its
    A-labels (IDNA 2008, UTS 46), which every server and client reads; only a non-ASCII
    local part needs SMTPUTF8 (and is written raw, as RFC 6532 has it: no encoding of an
    address exists). Raises ValueError (idna.IDNAError) for a domain IDNA refuses."""
    local, at, domain = address.rpartition("@")
    if not (local and at and domain):
        raise ValueError(f"not an address: {address!r}")
    ascii_domain = domain if domain.isascii() else idna.encode(domain, uts46=True).decode()
    # username/domain, not addr_spec: Address would refuse a non-ASCII local part outright
    shown = Address(one_line(name)[:200], username=local, domain=ascii_domain)
    return Mailbox(str(shown), f"{local}@{ascii_domain}", not local.isascii())


def spellings(address: str) -> set[str]:
    """The ways mail names the address, lower case: as the list keeps it (an IDN domain in
    Unicode) and as envelopes and headers carry it (its A-labels). A bounce report and a
    mail file may hold either."""
    found = {address.lower()}
    with contextlib.suppress(ValueError):
        found.add(mailbox(address).envelope.lower())
    return found


def _qp(text: str) -> bytes:
    """Quoted-printable with CRLF lines: hard breaks where the text has them."""
    crlf = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    return _LONE_LF.sub(b"\r\n", binascii.b2a_qp(crlf.encode(), istext=True))


def _pieces(text: str) -> list[bytes | str]:
    """The part encoded, with each placeholder left as a str slot between byte pieces."""
    out: list[bytes | str] = []
    for i, chunk in enumerate(_SLOT.split(text)):
        if i % 2:
            out.append(chunk)
        elif chunk:
            encoded = _qp(chunk)
            out.append(encoded if encoded.endswith(b"\r\n") else encoded + _SOFT_BREAK)
    return out


def _part(content_type: str, pieces: list[bytes | str], boundary: bytes) -> list[bytes | str]:
    head = (
        b"--" + boundary + b"\r\n"
        b"Content-Type: " + content_type.encode() + b"; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    return [head, *pieces]


def _folded(name: str, value: str, utf8: bool) -> bytes:
    rules = policy.SMTPUTF8 if utf8 else policy.SMTP
    return rules.header_factory(name, value).fold(policy=rules).encode()


def _header(name: str, value: str, utf8: bool) -> bytes:
    """`_folded`'s bytes; a plain value that fits a line written directly (the email
    package's parse and fold were a fifth of a message's CPU, for the same text)."""
    if len(name) + 2 + len(value) <= _MAX_LINE and _PLAIN_VALUE.fullmatch(value):
        return f"{name}: {value}\r\n".encode()
    return _folded(name, value, utf8)


def _stuffed(piece: bytes) -> bytes:
    """A piece that starts at a line's start, its lines beginning with "." doubled."""
    if piece.startswith(b".") or b"\n." in piece:
        return _LEADING_DOT.sub(b"..", piece)
    return piece


def smtp_wire(data: bytes) -> bytes:
    """A message as SMTP's DATA carries it, byte for byte what smtplib's `data()` sends:
    lines beginning with "." doubled, a CRLF added if the last line has none, then
    ".\r\n" (RFC 5321 4.5.2)."""
    stuffed = _LEADING_DOT.sub(b"..", data)
    return stuffed + (b"" if stuffed.endswith(b"\r\n") else b"\r\n") + _END_OF_DATA


class IssueMessage:
    """Everything common to one issue's messages, encoded once."""

    def __init__(
        self,
        site: Site,
        issue: Issue,
        secret: bytes,
        sign: Callable[[bytes], bytes] | None = None,
    ) -> None:
        mail = site.config.mail
        self.site, self.issue, self.secret, self.sign = site, issue, secret, sign
        self.sender = mail.from_address
        self.host = urlsplit(site.base_url).hostname or "localhost"
        self.mailto = mail.unsubscribe_mailto or mail.from_address
        seed = hashlib.sha256(f"{site.base_url}|{issue.number}".encode()).hexdigest()[:24]
        boundary = f"=_postroom_{seed}".encode()  # "=_" never occurs in quoted-printable
        self._head = self._common_headers(boundary)
        self._body: list[bytes | str] = [
            b"\r\n",
            *_part("text/plain", _pieces(issue.text), boundary),
            b"\r\n",
            *_part("text/html", _pieces(issue.html), boundary),
            b"\r\n--" + boundary + b"--\r\n",
        ]
        # the same, dot-stuffed once for every recipient (each piece starts a line)
        self._head_wire = _stuffed(self._head)
        self._body_wire = [p if isinstance(p, str) else _stuffed(p) for p in self._body]

    @property
    def one_click(self) -> bool:
        """Whether the messages offer RFC 8058 one-click unsubscribe: only for an https
        link (RFC 8058 section 3.1; Gmail and Yahoo ignore it otherwise)."""
        return urlsplit(self.site.base_url).scheme == "https"

    def _common_headers(self, boundary: bytes) -> bytes:
        config = self.site.config
        mail = config.mail
        name = one_line(mail.from_name or config.site.title)
        feedback = f"{self.issue.number}:{mail.feedback_id}" if mail.feedback_id else ""
        headers = [
            ("From", str(Address(display_name=name, addr_spec=mail.from_address))),
            ("Reply-To", mail.reply_to or config.curator.email),
            ("Subject", one_line(self.issue.subject)),
            ("Date", format_datetime(datetime.fromisoformat(self.issue.created_at))),
            ("MIME-Version", "1.0"),
            ("List-Id", f"{one_line(config.site.title)} <digest.{self.host}>"),
            ("List-Archive", f"<{self.site.base_url}digests/>"),
            ("List-Post", "NO"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click" if self.one_click else ""),
            # bulk mail, sent by no person (RFC 3834): no vacation or out-of-office replies
            ("Precedence", "list"),
            ("Auto-Submitted", "auto-generated"),
            # Gmail's feedback loop groups complaints by it: the issue, then the site's value
            ("Feedback-ID", feedback),
            ("Content-Type", f'multipart/alternative; boundary="{boundary.decode()}"'),
        ]
        return b"".join(_folded(key, value, False) for key, value in headers if value)

    def message_id(self, recipient: Recipient) -> str:
        """The same for every attempt at this (issue, subscriber): retries are recognisable.
        Keyed with the secret: a bounce or complaint is believed only when it names a
        Message-ID we sent (emails.bounces), so nobody who knows an address (and could
        guess its id) may make one up and have that reader marked as complaining."""
        key = f"{self.issue.number}|{recipient.subscriber_id}|{recipient.address.lower()}"
        digest = hmac.new(self.secret, key.encode(), hashlib.sha256).hexdigest()[:20]
        return f"<digest-{self.issue.number}.{digest}@{self.host}>"

    def unsubscribe_url(self, recipient: Recipient) -> tuple[str, str]:
        """(the signed HTTPS link, its token); the same token on every retry."""
        issued = int(datetime.fromisoformat(self.issue.created_at).timestamp())
        who = recipient.subscriber_id
        token = make_token(self.secret, Purpose.UNSUBSCRIBE, who, recipient.address, issued)
        return f"{self.site.base_url}unsubscribe?token={token}", token

    def preferences_url(self, recipient: Recipient) -> str:
        """The signed link to the reader's own preferences page; the same on every retry."""
        issued = int(datetime.fromisoformat(self.issue.created_at).timestamp())
        who = recipient.subscriber_id
        token = make_token(self.secret, Purpose.PREFERENCES, who, recipient.address, issued)
        return f"{self.site.base_url}preferences?token={token}"

    def for_recipient(self, recipient: Recipient) -> Envelope:
        url, token = self.unsubscribe_url(recipient)
        values = {
            ADDRESS: recipient.address,
            UNSUBSCRIBE_URL: url,
            PREFERENCES_URL: self.preferences_url(recipient),
        }
        box = mailbox(recipient.address, recipient.name)
        utf8 = box.smtputf8
        message_id = self.message_id(recipient)
        mailto = f"mailto:{self.mailto}?subject={quote('unsubscribe ' + token)}"
        personal = b"".join(
            (
                _header("To", box.header, utf8),
                _header("Message-ID", message_id, utf8),
                # URLs must stay whole (no encoded words): one per line, folded between them
                f"List-Unsubscribe: <{url}>,\r\n <{mailto}>\r\n".encode(),
            )
        )
        spliced = {slot: _qp(value) + _SOFT_BREAK for slot, value in values.items()}
        body = b"".join(
            piece if isinstance(piece, bytes) else spliced[piece] for piece in self._body
        )
        data = personal + self._head + body
        signature = self.sign(data) if self.sign else b""
        # the same pieces as DATA carries them: the common ones stuffed in __init__
        stuffed = {slot: _stuffed(piece) for slot, piece in spliced.items()}
        wire = b"".join(
            (
                _stuffed(signature),
                _stuffed(personal),
                self._head_wire,
                *(p if isinstance(p, bytes) else stuffed[p] for p in self._body_wire),
                _END_OF_DATA,  # the body's last piece ends with CRLF
            )
        )
        return Envelope(
            self.issue.number,
            recipient.subscriber_id,
            self.sender,
            box.envelope,
            message_id,
            signature + data,
            wire=wire,
        )


def dkim_signer(site: Site) -> Callable[[bytes], bytes] | None:
    """A function giving the DKIM-Signature header for a message, or None when not set up."""
    mail = site.config.mail
    if not mail.dkim_key:
        return None
    import dkim  # dkimpy: only needed by sites that sign

    path = site.root / Path(mail.dkim_key).expanduser()
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"mail.dkim_key: cannot read {path}: {exc.strerror}") from None
    domain = (mail.dkim_domain or mail.from_address.rpartition("@")[2]).encode()
    selector = mail.dkim_selector.encode()

    def sign(message: bytes) -> bytes:
        return dkim.sign(
            message,
            selector,
            domain,
            key,
            include_headers=list(SIGNED_HEADERS),
            canonicalize=(b"relaxed", b"relaxed"),
        )

    return sign


# What the DKIM signature covers. Every header a receiver or a list filter acts on is
# signed, the list headers (RFC 2369, 2919, 8058) included: a relay that adds or
# changes one breaks the signature (RFC 8058 section 4 asks for List-Unsubscribe and
# -Post to be signed). A header named once more than the message holds it is
# "over-signed": its absence is signed, so a second From, Subject or Reply-To added on
# the way (a display trick) fails verification. Headers a message does not have
# (Feedback-ID unset, a confirmation's list headers) are signed as absent, the same way.
_OVERSIGNED = (b"from", b"subject", b"reply-to")
SIGNED_HEADERS: tuple[bytes, ...] = (
    *_OVERSIGNED,
    *_OVERSIGNED,
    b"to",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"list-id",
    b"list-archive",
    b"list-post",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"precedence",
    b"auto-submitted",
    b"feedback-id",
)
