"""The double opt-in message: "confirm your subscription", with a signed link.

Sent when someone subscribes on the web page. The link opens a page with a
button; only that button's POST activates the subscription, because mail
scanners follow every GET link in a message. The token expires after a week.
"""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from urllib.parse import urlsplit

from postroom.core.config import Site
from postroom.core.sanitize import one_line
from postroom.emails.message import Envelope, dkim_signer
from postroom.emails.tokens import make_token

CONFIRM_MAX_AGE = 7 * 24 * 3600  # seconds a confirmation link stays good


def confirm_url(site: Site, secret: bytes, address: str, now: datetime) -> str:
    token = make_token(secret, "confirm", address, int(now.timestamp()))
    return f"{site.base_url}confirm?token={token}"


def confirmation(site: Site, secret: bytes, address: str, now: datetime) -> Envelope:
    """The message, ready for any transport."""
    title = one_line(site.config.site.title)
    return short_message(
        site,
        address,
        f"Confirm your subscription to {title}",
        f"Someone, probably you, asked to receive the weekly email digest of {title}"
        f" at this address.\n\nTo confirm, open this link and press the button:\n\n"
        f"{confirm_url(site, secret, address, now)}\n\n"
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
    package, which refuses CR and LF in a header."""
    config = site.config
    host = urlsplit(site.base_url).hostname or "localhost"
    message = EmailMessage(policy=SMTP)
    sender_name = one_line(config.mail.from_name or config.site.title)
    message["From"] = Address(display_name=sender_name, addr_spec=config.mail.from_address)
    message["To"] = address  # bare: a stranger's form must not put words in our mail
    message["Subject"] = one_line(subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(kind, domain=host)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    data = message.as_bytes()
    sign = dkim_signer(site)
    if sign:
        data = sign(data) + data
    return Envelope(0, 0, config.mail.from_address, address, message["Message-ID"], data, kind)
