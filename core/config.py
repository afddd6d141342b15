"""A site is a folder: postroom.toml, content/, public/ and postroom.db.

The config is read once into frozen dataclasses; every key has a default, and
an unknown key or a bad value is refused with the key and the file named, so a
typo never silently falls back to a default. A key with a fixed set of values is
read into a StrEnum (the TOML holds its value: "starttls").

`mail.transport` names a transport: "files" and "smtp" ship, whose keys are [mail]'s
own; another registers here (through `emails.transports.register_transport`, since
this layer knows nothing of email) its name and the schema of its own table,
`[mail.<name>]`, which is checked as strictly as the rest.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import secrets
import socket
import string
import tomllib
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from postroom.core.model import Cadence, Republish, brief
from postroom.core.sanitize import one_line
from postroom.core.schedule import monthly_error, parse_monthly, parse_schedule, schedule_error

DATABASE_URL_ENV = "POSTROOM_DATABASE_URL"

CONFIG_NAME = "postroom.toml"

# Regions that write dates month-first; everyone else reads 03/04 as 3 April.
_MONTH_FIRST_REGIONS = frozenset({"US", "PH", "FM", "MH", "PW", "CA"})


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and key."""


@dataclass(frozen=True)
class SiteSection:
    title: str = "postroom"
    description: str = "Articles worth reading, with their sources."
    base_url: str = "http://localhost:8000/"
    language: str = "en-GB"
    timezone: str = "Europe/London"
    # the authority of every feed entry's id (tag:<it>,<day>:<post>): written once by
    # `init`, so a new base_url never makes readers see every entry again; empty (a site
    # made before the key existed) means base_url's host, as it always was
    id_authority: str = ""
    # how much of a post from another publication feeds, pages and the digest show:
    # full, excerpt (~80 words, the credit, a link to the original) or link (title,
    # credit, comment, link). The curator's own posts (no source) are shown whole;
    # [sources."Name"] and a post's own `republish` override it (core.republish)
    republish: Republish = Republish.EXCERPT
    # a WebSub hub (https://www.w3.org/TR/websub/): feeds name it as rel="hub", and each
    # build that changed a feed tells it so; empty: no hub
    websub_hub: str = ""


@dataclass(frozen=True)
class SourceSection:
    """One `[sources."Name"]` table: what the curator settled with that publication."""

    name: str = ""  # as the table writes it
    republish: Republish | None = None  # None: the site's `republish`


@dataclass(frozen=True)
class CuratorSection:
    name: str = "The curator"
    email: str = ""


@dataclass(frozen=True)
class FeedSection:
    window: int = 50  # latest N posts by pick-up time
    max_content_kb: int = 100  # longer bodies are cut in feeds, whole on pages


@dataclass(frozen=True)
class DigestSection:
    max_posts: int = 20  # shown in full (title, attribution, excerpt); the rest as linked titles
    full_text: bool = False  # the whole post instead of its excerpt
    schedule: str = "mon 07:00"  # weekday name and time in the site's timezone
    late_limit_hours: int = 72  # an issue this late (the service was down) is skipped
    # an issue's subject: {lead} the lead post's title, {more} how many others (the site's
    # name is in From already); with one post, the lead's title alone
    subject: str = "{lead} + {more} more"
    # this long before each slot the curator (curator.email) gets a proof of the issue,
    # frozen then, with links to hold, skip or send it now; 0: no proofs
    proof_hours: int = 24
    # the email's HTML, filled for the longest address, stays under this: Gmail clips a
    # message past 102 KB (the unsubscribe link with it); posts that do not fit are cut
    max_html_kb: int = 90
    # readers who chose monthly get everything since their last digest at these slots:
    # "first mon 07:00" (first, second, third, fourth or last, then the weekday and time
    # of `schedule`, so a monthly digest is always one of the weekly slots); "": no
    # monthly digest offered
    monthly: str = ""
    # the cadence of readers who never chose one (weekly, monthly or off)
    cadence: Cadence = Cadence.WEEKLY
    # the topics (tags) the subscribe form and the preferences page offer; empty: the
    # site's most used tags (core.selection.OFFERED of them)
    topics: tuple[str, ...] = ()


class Security(StrEnum):
    """How an SMTP connection is protected (`mail.security`)."""

    STARTTLS = "starttls"  # a plain connection upgraded before anything is said (port 587)
    TLS = "tls"  # TLS from the first byte (port 465)
    NONE = "none"


class Bounce(StrEnum):
    """Which permanent (5xx) refusals mark a subscriber bounced (`mail.bounce`)."""

    RCPT = "rcpt"  # only the server refusing the recipient itself
    ANY = "any"  # any 5xx, whatever the stage
    NEVER = "never"  # a permanent failure fails the message, never the subscriber


@dataclass(frozen=True)
class MailSection:
    """Who the digest comes from and how it leaves; secrets are named here, kept in the env."""

    from_address: str = "digest@localhost"
    from_name: str = ""  # empty: the site's title
    reply_to: str = ""  # empty: the curator's email, if any
    unsubscribe_mailto: str = ""  # where mailto: unsubscribes go; empty: from_address
    # a registered transport's name: files (<site>/outbox/<issue>/<id>.eml), smtp (a real
    # server; the keys from host to timeout are its), or one registered by a plugin
    transport: str = "files"
    host: str = "localhost"
    port: int = 587
    security: Security = Security.STARTTLS
    username: str = ""
    password_env: str = "POSTROOM_SMTP_PASSWORD"  # the variable holding the password
    connections: int = 1  # SMTP connections used at once
    rate: int = 0  # messages per second over all connections; 0: no limit
    timeout: int = 30  # seconds for one SMTP command
    retry_after: int = 300  # seconds before the first retry of a 4xx; doubles each time
    max_attempts: int = 8  # a 4xx this many times is a failure
    bounce: Bounce = Bounce.RCPT
    dkim_key: str = ""  # PEM private key file; empty: no DKIM signature
    dkim_selector: str = ""
    dkim_domain: str = ""  # empty: the from_address's domain
    # an issue whose hard bounces (complaints) pass this share of the messages attempted
    # pauses sending until `postroom digest resume`: 0.3% is the complaint rate past
    # which Gmail rejects bulk mail
    pause_bounce_rate: float = 0.05
    pause_complaint_rate: float = 0.003
    # the sender's postal address, shown in every issue's footer when set (commercial
    # senders must show one: CAN-SPAM); lines as written, at most 500 characters
    postal_address: str = ""
    # Feedback-ID (Gmail's feedback loop): "<issue number>:<this>", e.g. "digest:notes"
    # gives "12:digest:notes"; up to three colon-separated fields, the last naming the
    # sender. Empty: no Feedback-ID header
    feedback_id: str = ""
    # (transport name, its [mail.<name>] table read into its schema): every such table
    # the file has, and the chosen transport's defaults when it has a schema and no table
    tables: tuple[tuple[str, Any], ...] = field(default=(), metadata={"key": False})

    def table(self, transport: str) -> Any:
        """A transport's own section, `[mail.<transport>]`; None when it has none."""
        return dict(self.tables).get(transport)


class MailboxSecurity(StrEnum):
    """How the IMAP connection to the bounce mailbox is protected (`bounces.imap_security`)."""

    TLS = "tls"  # TLS from the first byte (port 993)
    STARTTLS = "starttls"  # a plain connection upgraded before logging in (port 143)
    NONE = "none"


@dataclass(frozen=True)
class BouncesSection:
    """Where reports that come back later are read (`postroom bounces`): an IMAP mailbox
    (`imap_host` set) or a Maildir folder (`maildir` set), never both. The password is
    read from the environment variable `imap_password_env`, never from the file."""

    imap_host: str = ""
    imap_port: int = 993
    imap_security: MailboxSecurity = MailboxSecurity.TLS
    imap_user: str = ""
    imap_password_env: str = "POSTROOM_IMAP_PASSWORD"
    mailbox: str = "INBOX"
    maildir: str = ""  # a Maildir folder, relative to the site
    poll_seconds: int = 300  # the service reads the mailbox this often


@dataclass(frozen=True)
class DatesSection:
    locale: str = "en-GB"  # decides whether 03/04/2016 is 3 April or 4 March


@dataclass(frozen=True)
class ContentSection:
    """Limits on what one file in content/ may cost to read."""

    # a larger file is reported and skipped: one stray video or dump must not stall
    # every scan and swell the database (a real post is a few hundred KB at most)
    max_file_kb: int = 5120


@dataclass(frozen=True)
class StoreSection:
    # any SQLAlchemy URL (postgresql://... for PostgreSQL); empty means
    # sqlite:///<site>/postroom.db; $POSTROOM_DATABASE_URL overrides it
    url: str = ""


@dataclass(frozen=True)
class ServiceSection:
    """How `postroom run` (the service) watches the content folder."""

    poll_seconds: int = 2  # a full stat of the folder this often, inotify or not
    quiet_seconds: int = 1  # a file is read once unwritten for this long
    tick_seconds: int = 60  # the digest job also runs this often: retries, missed slots


@dataclass(frozen=True)
class FetchSection:
    """What postroom may fetch for the curator (pages to add, feeds to follow)."""

    # false: a URL whose host resolves to a loopback, private, link-local, multicast or
    # reserved address is refused, at every redirect (no request forgery against the
    # machine's own network); true for an intranet, and for tests on 127.0.0.1
    allow_private: bool = False


@dataclass(frozen=True)
class FollowSection:
    """One `[[follow]]` table: another site's feed, whose new entries become posts."""

    url: str = ""  # required: the feed's address (RSS, Atom or JSON Feed)
    name: str = ""  # the posts' source; empty: the feed's own title
    tags: tuple[str, ...] = ()  # given to every post from this feed
    # keywords (any case, whole words) in an entry's title, text or categories: an entry
    # is picked up if it has one of `include` (when any are given) and none of `exclude`
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    # true: each entry's page is fetched and read as `postroom add` reads it (for feeds
    # that carry only summaries); false: the entry's own text is the post
    full_text: bool = False
    poll_minutes: float = 60.0  # how often the feed is asked; polite is an hour
    # the first poll picks up entries published in the last this many days (one digest's
    # worth); older ones are only noted as seen. 0: only entries that appear later
    backfill_days: int = 7

    def source(self, title: str) -> str:
        """The posts' source: the configured name, else the feed's title, else its host."""
        return one_line(self.name) or one_line(title) or (urlsplit(self.url).hostname or self.url)


@dataclass(frozen=True)
class Config:
    site: SiteSection = field(default_factory=SiteSection)
    curator: CuratorSection = field(default_factory=CuratorSection)
    feed: FeedSection = field(default_factory=FeedSection)
    dates: DatesSection = field(default_factory=DatesSection)
    content: ContentSection = field(default_factory=ContentSection)
    digest: DigestSection = field(default_factory=DigestSection)
    store: StoreSection = field(default_factory=StoreSection)
    mail: MailSection = field(default_factory=MailSection)
    service: ServiceSection = field(default_factory=ServiceSection)
    bounces: BouncesSection = field(default_factory=BouncesSection)
    fetch: FetchSection = field(default_factory=FetchSection)
    follow: tuple[FollowSection, ...] = ()
    # (source_key of the source's name, its table): "Community Care" and
    # "community care" are one source
    sources: tuple[tuple[str, SourceSection], ...] = ()

    def source(self, name: str | None) -> SourceSection | None:
        """The `[sources."…"]` table for a post's source, if the config has one."""
        if not name or not self.sources:
            return None
        return dict(self.sources).get(source_key(name))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)

    @property
    def day_first(self) -> bool:
        region = self.dates.locale.replace("_", "-").split("-")[-1].upper()
        return region not in _MONTH_FIRST_REGIONS


@dataclass(frozen=True)
class Site:
    root: Path
    config: Config

    @property
    def content_dir(self) -> Path:
        return self.root / "content"

    @property
    def public_dir(self) -> Path:
        return self.root / "public"

    @property
    def store_url(self) -> str:
        """$POSTROOM_DATABASE_URL, else [store] url, else postroom.db beside the config.
        The environment wins: a URL with a password belongs there, not in a file."""
        url = os.environ.get(DATABASE_URL_ENV, "").strip() or self.config.store.url
        return url or f"sqlite:///{(self.root / 'postroom.db').resolve()}"

    @property
    def base_url(self) -> str:
        return self.config.site.base_url

    @cached_property
    def id_authority(self) -> str:
        """The name feed entry ids are minted under: `site.id_authority`, pinned at init;
        for a site made before that key, base_url's host, so its ids stay as they were.
        Worked out once per site (a `urlsplit`: a cold build asks twice per entry)."""
        return self.config.site.id_authority or str(urlsplit(self.base_url).hostname)


def is_local_url(url: str) -> bool:
    """A URL only this machine can follow: localhost, *.localhost or a loopback address."""
    return is_local_host(urlsplit(url).hostname or "")


def is_local_host(host: str) -> bool:
    """localhost, *.localhost (RFC 6761), or a loopback or unspecified address (127.0.0.0/8,
    ::1, 0.0.0.0, ::, and IPv4 ones mapped into IPv6), in brackets or not, and in the short
    IPv4 forms resolvers accept (127.1, 2130706433): a name that means this machine
    wherever it is read."""
    host = host.lower().rstrip(".").removeprefix("[").removesuffix("]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not host or not all(c in "0123456789abcdefx." for c in host):
            return False
        try:  # inet_aton reads what a resolver would: 127.1, 0x7f.1, 2130706433
            address = ipaddress.ip_address(socket.inet_aton(host))
        except (OSError, ValueError):
            return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def local_base_url_warning(site: Site) -> str | None:
    """Said before a site publishes links nobody else can follow (the default base_url)."""
    if not is_local_url(site.base_url):
        return None
    return (
        f"site.base_url is {site.base_url}: feeds, pages and emails link to this machine"
        f" only; set it in {site.root / CONFIG_NAME} to the address readers use"
    )


def id_authority_advice(site: Site) -> str | None:
    """For a site made before `site.id_authority`: the line that pins its entry ids."""
    if site.config.site.id_authority:
        return None
    return (
        f"feed entry ids take their name from site.base_url's host; to keep them if"
        f" base_url ever changes, add under [site] in {site.root / CONFIG_NAME}:"
        f' id_authority = "{site.id_authority}"'
    )


_DAY = 86_400
_WEEK = 7 * _DAY
_ANY = 2**63 - 1  # what TOML can hold: only the lower bound matters
# Every integer key's range. A value outside it is refused: below, it silently disables
# something (a negative digest.late_limit_hours skipped every issue); above, a timer or a
# timedelta overflows in the service, weeks after the config was accepted.
_RANGES: dict[str, tuple[int, int]] = {
    "content.max_file_kb": (1, _ANY),
    "feed.window": (1, _ANY),
    "feed.max_content_kb": (1, _ANY),
    "digest.max_posts": (1, _ANY),
    "digest.late_limit_hours": (1, 10 * 366 * 24),
    # under a week: a slot's proof never comes before the slot before it
    "digest.proof_hours": (0, 7 * 24 - 1),
    # the frame and a list of 20 titles need ~16 KB; past 95 the quoted-printable part
    # can pass Gmail's 102 KB, which the budget is there to prevent
    "digest.max_html_kb": (16, 95),
    "mail.port": (0, 65535),
    "mail.connections": (1, 100),
    "mail.rate": (0, 65535),
    "mail.timeout": (1, _DAY),
    "mail.retry_after": (1, _WEEK),
    "mail.max_attempts": (1, _ANY),
    "service.poll_seconds": (1, _DAY),
    "service.quiet_seconds": (0, _DAY),
    "service.tick_seconds": (1, _DAY),
    "bounces.imap_port": (0, 65535),
    "bounces.poll_seconds": (1, _WEEK),
    "follow.backfill_days": (0, 3660),
}
_SHARES = {"mail.pause_bounce_rate", "mail.pause_complaint_rate"}  # 0 to 1
# RFC 4151's authorityName: a DNS name or an email address, here in lower case
_DNS_NAME = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
# RFC 4151's tagging entity: a domain name or an email address, and optionally the date
# it was the site's ("x.org,2026-12-02"); with the date, entry ids are minted from it
# and the post's id alone, nothing a rebuild of the database could change
_TAG_AUTHORITY = re.compile(
    rf"(?:[a-z0-9._-]+@)?{_DNS_NAME}(?:,\d{{4}}(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]))?)?)?"
)
# Gmail's Feedback-ID is at most four colon-separated fields; the issue number is the first
_FEEDBACK_ID = re.compile(r"[A-Za-z0-9._-]{1,40}(?::[A-Za-z0-9._-]{1,40}){0,2}")
_ADDRESSES = {"mail.from_address", "mail.unsubscribe_mailto", "mail.reply_to", "curator.email"}

# mail.transport's allowed values: each transport's name and the schema (a frozen
# dataclass, every field with a default) of its own table [mail.<name>], or None
_TRANSPORTS: dict[str, type | None] = {"files": None, "smtp": None}
_TRANSPORT_NAME = re.compile(r"[a-z][a-z0-9_-]*")


def register_transport_section(name: str, schema: type | None = None) -> None:
    """Make `name` a value `mail.transport` accepts, with `schema` its table's keys.

    Called by `emails.transports.register_transport`; here only so that the config can
    be checked whole when it is read, by a layer that cannot import emails."""
    if not _TRANSPORT_NAME.fullmatch(name) or name in _MAIL_KEYS:
        raise ValueError(f"a transport name is a lower-case word not a [mail] key, not {name!r}")
    if schema is not None:
        if not dataclasses.is_dataclass(schema) or not isinstance(schema, type):
            raise TypeError(f"a transport's schema is a dataclass, not {schema!r}")
        for f in dataclasses.fields(schema):  # a key's type is its default's
            if not isinstance(_default(f), str | int | float):
                raise TypeError(f"{schema.__name__}.{f.name} needs a str, number or bool default")
    _TRANSPORTS[name] = schema


def unregister_transport_section(name: str) -> None:
    _TRANSPORTS.pop(name, None)


def _plain_address(value: str) -> bool:
    """An address that can stand in a header and a mailto: URL as it is."""
    local, at, domain = value.partition("@")
    return (
        bool(local and at and domain)
        and value.isascii()
        and value.isprintable()
        and (not any(c in value for c in ' <>,;"\\'))
    )


def _check_value(section: str, key: str, value: Any) -> str | None:
    """Why a well-typed value is still unusable, or None."""
    name = f"{section}.{key}"
    if name == "site.timezone":
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            return f"unknown IANA timezone {value!r}"
    elif name == "site.base_url":
        parts = urlsplit(value)
        if not value.isascii() or not value.isprintable() or " " in value:
            return f"must be a plain ASCII URL (punycode hosts, %-escaped paths), not {value!r}"
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return f"must be an http(s) URL with a host, not {value!r}"
        if not value.endswith("/"):
            return f"must end with '/', as in {value + '/'!r}"
    elif name == "site.websub_hub" and value and _has_credentials(value):
        return "must not carry a user name or password: every feed shows the hub's address"
    elif name == "site.websub_hub" and value and not (_plain_url(value) and _web_url(value)):
        return f"must be the hub's http(s) URL, plain ASCII with no spaces, not {value!r}"
    elif name == "site.id_authority" and value and not _TAG_AUTHORITY.fullmatch(value):
        return f"must be a lower-case domain name or email address you own, not {value!r}"
    elif name in _RANGES:
        return _range_error(value, *_RANGES[name])
    elif name in _SHARES and not 0 < value <= 1:
        return f"must be a share above 0 and at most 1 (0.05 is 5%), not {value}"
    elif name == "mail.transport" and value not in _TRANSPORTS:
        return _choice_error(tuple(_TRANSPORTS), value)
    elif (
        name in _ADDRESSES and (value or name == "mail.from_address") and not _plain_address(value)
    ):
        return f"must be an email address, not {value!r}"
    elif (check := _TEXT_CHECKS.get(name)) and (why := check(value)):
        return why
    elif name in ("dates.locale", "site.language") and not value.replace("-", "").isalpha():
        return f"must be a language tag such as 'en-GB', not {value!r}"
    return None


#: the placeholders `digest.subject` may use
SUBJECT_FIELDS = ("lead", "more")


def subject_template_error(template: str) -> str | None:
    """Why `template` cannot make a subject, or None. Only bare `{lead}` and `{more}`: no
    other name, no `{}`, no attribute, index, conversion or format (str.format would
    otherwise read `{lead.__class__}` or fail on `{lead:d}` at the first issue, weeks after
    the config was accepted); `{{` and `}}` are braces."""
    try:
        fields = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(template)]
    except ValueError:
        return f"has an unmatched brace in {template!r} (write {{{{ or }}}} for a brace)"
    allowed = " and ".join(f"{{{name}}}" for name in SUBJECT_FIELDS)
    for found, spec, conversion in fields:
        if found is None:
            continue
        if found not in SUBJECT_FIELDS:
            return f"has an unknown placeholder {{{found}}} in {template!r}: use {allowed}"
        if spec or conversion:
            return f"has {{{found}}} with a format in {template!r}: write {{{found}}} alone"
    if not template.isprintable() or not template.strip():  # a header: one line, not empty
        return f"must be one line of text, not {template!r}"
    return None


#: keys whose text has a grammar of its own: why a value is refused, or None
def feedback_id_error(value: str) -> str | None:
    if value and not _FEEDBACK_ID.fullmatch(value):
        return (
            "must be one to three fields of letters, digits, '.', '_' or '-' joined by ':'"
            f" (the issue number goes before them), as in 'digest:mysite', not {value!r}"
        )
    return None


def postal_address_error(value: str) -> str | None:
    if len(value) > 500 or not value.replace("\n", "").isprintable():
        return f"must be at most 500 printable characters (lines split by newlines): {value[:40]!r}"
    return None


_TEXT_CHECKS = {
    "digest.schedule": schedule_error,
    "digest.subject": subject_template_error,
    "digest.monthly": lambda rule: monthly_error(rule) if rule else None,
    "mail.postal_address": postal_address_error,
    "mail.feedback_id": feedback_id_error,
}


def _choice_error(allowed: tuple[str, ...], value: str) -> str:
    return f"must be one of {', '.join(allowed)}, not {value!r}"


def _range_error(value: int, low: int, high: int) -> str | None:
    if value < low:
        return f"must be at least {low}, not {value}"
    if value > high:
        return f"must be at most {high:,}, not {value:,}"
    return None


def _default(f: dataclasses.Field[Any]) -> Any:
    """A field's default (MISSING when it has none)."""
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def _keys(cls: type) -> dict[str, Any]:
    """A section's keys and their defaults (whose types are the keys' types)."""
    return {f.name: _default(f) for f in dataclasses.fields(cls) if f.metadata.get("key", True)}


_MAIL_KEYS = frozenset(_keys(MailSection))


def _section(cls: type, raw: Any, section: str, path: Path) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [{section}] must be a table")
    defaults = _keys(cls)
    values = {}
    for key, value in raw.items():
        if key not in defaults:
            raise ConfigError(f"{path}: unknown key '{section}.{key}'")
        expected = type(defaults[key])
        written = str if issubclass(expected, StrEnum) else expected  # the enum's value
        if written is tuple:  # a list of strings: `topics = ["Adoption", "Fostering"]`
            if type(value) is not list or not all(type(v) is str for v in value):
                raise ConfigError(
                    f"{path}: '{section}.{key}' must be a list of strings, as in"
                    f' ["Adoption", "Fostering"], not {brief(value)}'
                )
            value = tuple(value)
        if written is float and type(value) is int:  # `rate = 1` is a float to a reader
            value = float(value)
        if type(value) is not written:
            raise ConfigError(
                f"{path}: '{section}.{key}' must be {written.__name__}, not {type(value).__name__}"
            )
        if issubclass(expected, StrEnum):
            try:
                value = expected(value)
            except ValueError:
                why = _choice_error(tuple(expected), value)
                raise ConfigError(f"{path}: '{section}.{key}' {why}") from None
        if why := _check_value(section, key, value):
            raise ConfigError(f"{path}: '{section}.{key}' {why}")
        values[key] = value
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:  # a transport's schema refusing a combination
        raise ConfigError(f"{path}: [{section}] {exc}") from None


def _mail_section(raw: Any, path: Path) -> MailSection:
    """[mail]'s keys, and the transports' own tables under it ([mail.<name>])."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [mail] must be a table")
    scalars = {k: v for k, v in raw.items() if not isinstance(v, dict) or k in _MAIL_KEYS}
    mail = _section(MailSection, scalars, "mail", path)
    tables = []
    for name, table in raw.items():
        if name in scalars:
            continue
        if _TRANSPORTS.get(name) is None:  # not a transport, or one with no table
            raise ConfigError(f"{path}: unknown key 'mail.{name}'")
        tables.append((name, _section(_TRANSPORTS[name], table, f"mail.{name}", path)))
    chosen = _TRANSPORTS[mail.transport]
    if chosen is not None and mail.transport not in raw:
        tables.append((mail.transport, chosen()))
    return dataclasses.replace(mail, tables=tuple(tables))


_FOLLOW_LISTS = ("tags", "include", "exclude")


def _same_url(url: str) -> str:
    """A URL as it is compared for "followed twice": scheme and host in any case."""
    parts = urlsplit(url)
    return parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()).geturl()


def _has_credentials(url: str) -> bool:
    """A URL naming a user or password (`https://user:pw@host/`); checked before the URL
    itself so that no error message repeats the password."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "@" in url
    return parts.username is not None or parts.password is not None


def _plain_url(url: str) -> bool:
    """A URL as it goes into a feed's attribute: ASCII, printable, no spaces."""
    return url.isascii() and url.isprintable() and " " not in url


def _web_url(url: str) -> bool:
    """An http(s) URL with a host, of a length servers take, that parses."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port out of range
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and len(url) <= 2000


_POLL_MINUTES = (0.05, 7 * 24 * 60.0)  # 3 s (a test on 127.0.0.1) to a week


def _follow_tables(raw: Any, path: Path) -> tuple[FollowSection, ...]:
    """`[[follow]]`: an array of tables, each with a `url` of its own. Lists of words are
    checked here (the generic reader knows scalars only) and kept as tuples."""
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise ConfigError(f"{path}: 'follow' must be an array of tables: [[follow]]")
    tables, urls = [], set()
    for number, table in enumerate(raw, 1):
        where = f"[[follow]] #{number}"
        lists = {}
        for key in _FOLLOW_LISTS:
            words = table.get(key, [])
            if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
                raise ConfigError(f"{path}: {where}: '{key}' must be a list of strings")
            lists[key] = tuple(w.strip() for w in words if w.strip())
        scalars = {k: v for k, v in table.items() if k not in _FOLLOW_LISTS}
        try:
            follow = _section(FollowSection, scalars, "follow", path)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace(f"{path}: ", f"{path}: {where}: ", 1)) from None
        if not _web_url(follow.url):
            raise ConfigError(f"{path}: {where}: 'url' must be an http(s) URL, not {follow.url!r}")
        same = _same_url(follow.url)
        if same in urls:
            raise ConfigError(f"{path}: {where}: {follow.url} is followed twice")
        low, high = _POLL_MINUTES
        if not low <= follow.poll_minutes <= high:
            raise ConfigError(
                f"{path}: {where}: 'poll_minutes' must be from {low} to {high:g},"
                f" not {follow.poll_minutes}"
            )
        urls.add(same)
        tables.append(dataclasses.replace(follow, **lists))
    return tuple(tables)


@lru_cache(maxsize=4096)  # a site has few sources, asked of on every page and entry
def source_key(name: str) -> str:
    """How a source's name is compared ([sources."…"] tables, the curator's own name):
    in any case and spacing, with the punctuation around it ignored ("Community Care",
    "community care."), but never through a slug, which would make "C# Weekly" the
    rule of "C++ Weekly" and one "Times" of every "Россия Times" and "日本語 Times"."""
    name = unicodedata.normalize("NFKC", one_line(name)).translate(_INVISIBLE)
    return " ".join(name.casefold().split()).strip(_AROUND)


_AROUND = " .,;:!?'\"()[]{}<>«»“”‘’"
# zero-width spaces and joiners, the soft hyphen and the BOM: unseen, but not equal
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\u00ad\ufeff"))


def _source_tables(raw: Any, path: Path) -> tuple[tuple[str, SourceSection], ...]:
    """`[sources."Community Care"]`: a table per publication, keyed by its name as posts
    give it (in any case: `source_key`)."""
    if not isinstance(raw, dict) or not all(isinstance(t, dict) for t in raw.values()):
        raise ConfigError(f"{path}: 'sources' must hold tables: [sources.\"Name\"]")
    tables: dict[str, SourceSection] = {}
    for name, table in raw.items():
        where = f'[sources."{name}"]'
        slug = source_key(name)
        if not slug:
            raise ConfigError(f"{path}: {where}: a source needs a name")
        if slug in tables:
            same = tables[slug].name
            raise ConfigError(f'{path}: {where}: the same source as [sources."{same}"]')
        for key, value in table.items():
            if key != "republish":
                raise ConfigError(f"{path}: {where}: unknown key '{key}'")
            if value not in tuple(Republish):
                why = _choice_error(tuple(Republish), value)
                raise ConfigError(f"{path}: {where}: 'republish' {why}")
        republish = Republish(table["republish"]) if "republish" in table else None
        tables[slug] = SourceSection(name=name, republish=republish)
    return tuple(sorted(tables.items()))


def _smtp_error(config: Config) -> str | None:
    """Why this config must not send through `smtp` (to other people's mailboxes), or None.
    Links to this machine would reach nobody: a one-click unsubscribe (RFC 8058) that
    cannot work is a reason to mark the mail as spam; and mail from @localhost is
    refused by receivers, its mailto: unsubscribes lost."""
    if config.mail.transport != "smtp":
        return None
    if is_local_url(config.site.base_url):
        return (
            f"'site.base_url' is {config.site.base_url}, this machine's address, and"
            " mail.transport is smtp: its unsubscribe and archive links would reach nobody;"
            ' set it to the address readers use (https), or send with transport = "files"'
        )
    for key in ("from_address", "unsubscribe_mailto"):
        address = getattr(config.mail, key)
        if address and is_local_host(address.rpartition("@")[2]):
            return (
                f"'mail.{key}' is {address}, at this machine, and mail.transport is smtp:"
                " receivers refuse mail from it and replies to it are lost; use an address"
                " at your own domain"
            )
    return None


def load_config(path: Path) -> Config:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found (run 'postroom init DIR' to make a site)") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not the site's config file") from None
    except OSError as exc:  # unreadable, a folder on the way, a FIFO's error
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    sections = {f.name: f.default_factory for f in dataclasses.fields(Config)}
    parts = {}
    for name, value in raw.items():
        if name not in sections:
            raise ConfigError(f"{path}: unknown key '{name}'")
        if name == "follow":
            parts[name] = _follow_tables(value, path)
        elif name == "sources":
            parts[name] = _source_tables(value, path)
        elif name == "mail":
            parts[name] = _mail_section(value, path)
        else:
            parts[name] = _section(sections[name], value, name, path)
    config = Config(**parts)
    if why := _smtp_error(config) or _monthly_error(config.digest):
        raise ConfigError(f"{path}: {why}")
    return config


def _monthly_error(digest: DigestSection) -> str | None:
    """A monthly digest is one of the weekly slots: the same weekday and time."""
    if not digest.monthly:
        return (
            "'digest.cadence' is monthly but 'digest.monthly' is not set"
            if (digest.cadence is Cadence.MONTHLY)
            else None
        )
    weekly = parse_monthly(digest.monthly)[1]
    if parse_schedule(weekly) != parse_schedule(digest.schedule):
        return (
            f"'digest.monthly' {digest.monthly!r} must name the weekday and time of"
            f" 'digest.schedule' ({digest.schedule!r}): a monthly digest goes at one of its slots"
        )
    return None


def open_site(root: Path) -> Site:
    return Site(root=root, config=load_config(root / CONFIG_NAME))


STARTER_CONFIG = """\
# postroom site configuration. Every key is optional; the values shown are the defaults.

[site]
title = "postroom"
description = "Articles worth reading, with their sources."
base_url = "http://localhost:8000/"   # where public/ is served; feeds link here
id_authority = "@ID_AUTHORITY@"  # names every feed entry's id; never change it
republish = "excerpt"   # posts from other publications: full, excerpt or link
websub_hub = ""         # a WebSub hub to ping when feeds change, e.g. https://pubsubhubbub.appspot.com/
language = "en-GB"
timezone = "Europe/London"            # IANA name: dates without a time are read here

[curator]
name = "The curator"
email = ""

[feed]
window = 50            # the latest N posts by pick-up time
max_content_kb = 100   # longer bodies are cut in feeds (pages keep them whole)

[dates]
locale = "en-GB"       # 03/04/2016 is 3 April in en-GB, March 4 in en-US

[digest]
max_posts = 20         # posts shown in full in the email; the rest are listed as links
full_text = false      # true: whole posts instead of excerpts
schedule = "mon 07:00" # when an issue is due: weekday name and time, site timezone
late_limit_hours = 72  # a due issue later than this (postroom was down) is skipped
subject = "{lead} + {more} more"  # {lead}: the lead post's title; {more}: how many others
proof_hours = 24       # a proof to curator.email this long before each issue; 0: none
max_html_kb = 90       # the email's HTML stays under this (Gmail clips past 102 KB)
monthly = ""           # e.g. "first mon 07:00": a monthly digest at that weekly slot
cadence = "weekly"     # for readers who never chose: weekly, monthly or off
topics = []            # topics offered to readers; empty: the site's most used tags

[store]
url = ""               # empty: sqlite in postroom.db beside this file; or postgresql://...
                       # ($POSTROOM_DATABASE_URL wins: keep a password there)

[mail]
from_address = "digest@localhost"
from_name = ""         # empty: the site title
reply_to = ""          # empty: the curator's email
postal_address = ""    # shown in every issue's footer when set (commercial senders need one)
transport = "files"    # files: write outbox/<issue>/<id>.eml; smtp: send through a server
host = "localhost"     # smtp only, like everything below
port = 587
security = "starttls"  # starttls, tls (implicit) or none
username = ""
password_env = "POSTROOM_SMTP_PASSWORD"  # the password is read from this variable
connections = 1
rate = 0               # messages per second; 0: no limit
bounce = "rcpt"        # 5xx that mark a subscriber bounced: rcpt, any or never
dkim_key = ""          # a PEM private key file signs every message (DKIM) when set
dkim_selector = ""

[service]
poll_seconds = 2       # `postroom run` stats the content folder this often (and on inotify)
quiet_seconds = 1      # a file is read once nothing has written to it for this long
tick_seconds = 60      # the digest job also runs this often: due retries, missed slots

[fetch]
allow_private = false  # true: `add`, links files and followed feeds may fetch from this network

# What you agreed with a publication overrides site.republish for its posts:
# [sources."Community Care"]
# republish = "link"

# Feeds to follow: each new entry becomes a post in content/follow/<feed>/. One table each:
# [[follow]]
# url = "https://www.example.org/feed/"
# name = "Example"          # the posts' source; empty: the feed's own title
# tags = ["practice"]
# include = []              # only entries with one of these words, when any are given
# exclude = []              # never entries with one of these
# full_text = false         # true: fetch each entry's page (for summary-only feeds)
# poll_minutes = 60
# backfill_days = 7         # the first poll takes entries of the last week
"""


def new_id_authority() -> str:
    """A name for a new site's entry ids that no other site has: a feed reader keying
    entries by id (as Atom allows, across feeds) never merges two sites' posts. Under
    .invalid, a name nobody can own; a curator may put their own domain before the
    first publish. With the day it was made: a whole tagging entity, so entry ids need
    no other date (`feeds.syndication.entry_id`)."""
    return f"{secrets.token_hex(6)}.postroom.invalid,{date.today().isoformat()}"


def init_site(root: Path) -> Site:
    """Make a new site folder; refuses to overwrite an existing config."""
    config = root / CONFIG_NAME
    if config.exists():
        raise ConfigError(f"{config}: already exists")
    (root / "content").mkdir(parents=True, exist_ok=True)
    config.write_text(STARTER_CONFIG.replace("@ID_AUTHORITY@", new_id_authority()), "utf-8")
    return open_site(root)
