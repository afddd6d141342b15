"""The welcome email, sent once to someone who has just confirmed their subscription.

It says what they will get and when (the digest's schedule and the next issue's
day), where the past issues are, and how to leave: the unsubscribe link, signed as
the digest's is, also in `List-Unsubscribe`. Its words are the templates
`welcome.txt` and `welcome.html`, which a curator may override in the site's
templates/emails/ (feeds.theme). Sent at most once per address (store.welcomes).
"""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, make_msgid
from urllib.parse import quote, urlsplit

from postroom.core.config import Site
from postroom.core.sanitize import one_line
from postroom.core.schedule import next_slot, parse_schedule
from postroom.emails.message import Envelope, dkim_signer, mailbox
from postroom.emails.render import render_email
from postroom.emails.tokens import Purpose, make_token
from postroom.store.subscribers import Subscriber

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def schedule_words(site: Site, now: datetime) -> tuple[str, str]:
    """("every Monday at 07:00 (Europe/London)", "Monday 8 December 2026"): when issues
    come, and the day of the next one, in the site's timezone."""
    config = site.config
    weekday, at = parse_schedule(config.digest.schedule)
    when = f"every {_DAYS[weekday]} at {at:%H:%M} ({config.site.timezone})"
    due = next_slot(config.digest.schedule, config.tz, now).astimezone(config.tz)
    return when, f"{_DAYS[due.weekday()]} {due.day} {due:%B %Y}"


def welcome(site: Site, secret: bytes, subscriber: Subscriber, now: datetime) -> Envelope:
    """The message, ready for any transport. Header values go through the `email`
    package, which refuses CR and LF in a header; the To as `message.mailbox` writes it
    (IDN domains as A-labels, SMTPUTF8 for a non-ASCII local part)."""
    address = subscriber.address
    box = mailbox(address)
    config = site.config
    title = one_line(config.site.title)
    host = urlsplit(site.base_url).hostname or "localhost"
    token = make_token(secret, Purpose.UNSUBSCRIBE, subscriber.id, address, int(now.timestamp()))
    unsubscribe_url = f"{site.base_url}unsubscribe?token={token}"
    when, next_issue = schedule_words(site, now)
    what = (
        "Each issue brings every new post in full, with its source"
        if config.digest.full_text
        else "Each issue brings every new post, with its source and a link to read it whole"
    )
    values = {
        "site": site,
        "title": title,
        "address": address,
        "what": what,
        "when": when,
        "next_issue": next_issue,
        "archive_url": f"{site.base_url}digests/",
        "site_url": site.base_url,
        "unsubscribe_url": unsubscribe_url,
    }
    mail = config.mail
    mailto = mail.unsubscribe_mailto or mail.from_address
    message = EmailMessage(policy=SMTPUTF8 if box.smtputf8 else SMTP)
    sender_name = one_line(mail.from_name or title)
    message["From"] = Address(display_name=sender_name, addr_spec=mail.from_address)
    message["To"] = box.header
    if reply_to := mail.reply_to or config.curator.email:
        message["Reply-To"] = reply_to
    message["Subject"] = f"Welcome to {title}"
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid("welcome", domain=host)
    message["Auto-Submitted"] = "auto-generated"
    message["List-Id"] = f"{title} <digest.{host}>"
    mailto_url = f"mailto:{mailto}?subject={quote('unsubscribe ' + token)}"
    if unsubscribe_url.startswith("https:"):  # RFC 8058 one-click wants HTTPS
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(render_email(site, "welcome.txt", values))
    message.add_alternative(render_email(site, "welcome.html", values), subtype="html")
    # URLs must stay whole (the `email` package folds a long one into encoded words, which
    # no client reads as a mailto:): one per line, folded between them, as a digest's
    unsubscribe = f"List-Unsubscribe: <{unsubscribe_url}>,\r\n <{mailto_url}>\r\n"
    data = unsubscribe.encode() + message.as_bytes()
    sign = dkim_signer(site)
    if sign:
        data = sign(data) + data
    return Envelope(0, 0, mail.from_address, box.envelope, message["Message-ID"], data, "welcome")
