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
from postroom.core.model import Cadence
from postroom.core.sanitize import one_line
from postroom.core.schedule import is_monthly_slot, next_slot, parse_schedule
from postroom.core.selection import cadence_of
from postroom.emails.message import Envelope, dkim_signer, mailbox
from postroom.emails.render import render_email
from postroom.emails.tokens import Purpose, make_token
from postroom.store.subscribers import Subscriber

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def schedule_words(site: Site, now: datetime, cadence: Cadence = Cadence.WEEKLY) -> str:
    """When this reader's digests come, in the site's timezone: "every Monday at 07:00
    (Europe/London); the first one you get is due on Monday 8 December 2026", the
    monthly one's week of the month, or that none come while they are off."""
    config = site.config
    digest = config.digest
    if cadence is Cadence.OFF:
        return "none come while your digests are off: your preferences page turns them on"
    weekday, at = parse_schedule(digest.schedule)
    day = f"{_DAYS[weekday]} at {at:%H:%M} ({config.site.timezone})"
    due = next_slot(digest.schedule, config.tz, now)
    if cadence is Cadence.MONTHLY and digest.monthly:  # without one, monthly is weekly
        for _ in range(6):  # a month's slots: one of them is the week named
            if is_monthly_slot(digest.monthly, config.tz, due):
                break
            due = next_slot(digest.schedule, config.tz, due)
        week = digest.monthly.split()[0].lower()
        when = f"on the {week} {day} of each month"
    else:
        when = f"every {day}"
    local = due.astimezone(config.tz)
    first = f"{_DAYS[local.weekday()]} {local.day} {local:%B %Y}"
    return f"{when}; the first one you get is due on {first}"


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
    cadence = cadence_of(config.digest, subscriber.cadence)
    chosen = subscriber.selection
    posts = "every new post" if chosen.everything else f"every new post of {chosen.describe()}"
    what = (
        f"Each issue brings {posts} in full, with its source"
        if config.digest.full_text
        else f"Each issue brings {posts}, with its source and a link to read it whole"
    )
    preferences = make_token(
        secret, Purpose.PREFERENCES, subscriber.id, address, int(now.timestamp())
    )
    values = {
        "site": site,
        "title": title,
        "address": address,
        "what": what,
        "when": schedule_words(site, now, cadence),
        "preferences_url": f"{site.base_url}preferences?token={preferences}",
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
