"""The double opt-in message: "confirm your subscription", with a signed link.

Sent when someone subscribes on the web page. The link opens a page with a
button; only that button's POST activates the subscription, because mail
scanners follow every GET link in a message. The token expires after a week.
"""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, make_msgid
from urllib.parse import urlsplit

from postroom.core.config import Site
from postroom.core.sanitize import one_line
from postroom.emails.message import Envelope, dkim_signer, mailbox
from postroom.emails.tokens import Purpose, make_token
from postroom.store.subscribers import Subscriber

CONFIRM_MAX_AGE = 7 * 24 * 3600  # seconds a confirmation link stays good


def confirm_url(site: Site, secret: bytes, subscriber: Subscriber, now: datetime) -> str:
    token = make_token(
        secret, Purpose.CONFIRM, subscriber.id, subscriber.address, int(now.timestamp())
    )
    return f"{site.base_url}confirm?token={token}"


def confirmation(site: Site, secret: bytes, subscriber: Subscriber, now: datetime) -> Envelope:
    """The message, ready for any transport."""
    title = one_line(site.config.site.title)
    return short_message(
        site,
        subscriber.address,
        f"Confirm your subscription to {title}",
        f"Someone, probably you, asked to receive the weekly email digest of {title}"
        f" at this address.\n\nTo confirm, open this link and press the button:\n\n"
        f"{confirm_url(site, secret, subscriber, now)}\n\n"
        "The link works for seven days. If you did not ask, ignore this message:"
        " nothing will be sent to you.\n",
        now,
        "confirm",
    )


def short_message(
    site: Site, address: str, subject: str, body: str, now: datetime, kind: str
) -> Envelope:
    """A short plain-text message from the site to one address (a confirmation, a note to
    the curator), signed when DKIM is set up. Names and titles go through the `email`
    package, which refuses CR and LF in a header. The To is the bare address (a
    stranger's form must not put words in our mail), its domain as A-labels; a
    non-ASCII local part makes it an SMTPUTF8 message (see `message.mailbox`)."""
    config = site.config
    box = mailbox(address)
    host = urlsplit(site.base_url).hostname or "localhost"
    message = EmailMessage(policy=SMTPUTF8 if box.smtputf8 else SMTP)
    sender_name = one_line(config.mail.from_name or config.site.title)
    message["From"] = Address(display_name=sender_name, addr_spec=config.mail.from_address)
    message["To"] = box.header
    message["Subject"] = one_line(subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(kind, domain=host)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    data = message.as_bytes()
    sign = dkim_signer(site)
    if sign:
        data = sign(data) + data
    sender, message_id = config.mail.from_address, message["Message-ID"]
    return Envelope(0, 0, sender, box.envelope, message_id, data, kind)
