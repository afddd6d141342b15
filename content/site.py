"""A site is a folder: postroom.toml, content/, public/ and postroom.db.

The config is read once into frozen dataclasses; every key has a default, and
an unknown key or a bad value is refused with the key and the file named, so a
typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from content.schedule import schedule_error

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


@dataclass(frozen=True)
class MailSection:
    """Who the digest comes from and how it leaves; secrets are named here, kept in the env."""

    from_address: str = "digest@localhost"
    from_name: str = ""  # empty: the site's title
    reply_to: str = ""  # empty: the curator's email, if any
    unsubscribe_mailto: str = ""  # where mailto: unsubscribes go; empty: from_address
    transport: str = "files"  # files: <site>/outbox/<issue>/<id>.eml; smtp: a real server
    host: str = "localhost"
    port: int = 587
    security: str = "starttls"  # starttls, tls (implicit, port 465) or none
    username: str = ""
    password_env: str = "POSTROOM_SMTP_PASSWORD"  # the variable holding the password
    connections: int = 1  # SMTP connections used at once
    rate: int = 0  # messages per second over all connections; 0: no limit
    timeout: int = 30  # seconds for one SMTP command
    retry_after: int = 300  # seconds before the first retry of a 4xx; doubles each time
    max_attempts: int = 8  # a 4xx this many times is a failure
    bounce: str = "rcpt"  # which 5xx make a subscriber bounced: rcpt, any or never
    dkim_key: str = ""  # PEM private key file; empty: no DKIM signature
    dkim_selector: str = ""
    dkim_domain: str = ""  # empty: the from_address's domain


@dataclass(frozen=True)
class DatesSection:
    locale: str = "en-GB"  # decides whether 03/04/2016 is 3 April or 4 March


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
class Config:
    site: SiteSection = field(default_factory=SiteSection)
    curator: CuratorSection = field(default_factory=CuratorSection)
    feed: FeedSection = field(default_factory=FeedSection)
    dates: DatesSection = field(default_factory=DatesSection)
    digest: DigestSection = field(default_factory=DigestSection)
    store: StoreSection = field(default_factory=StoreSection)
    mail: MailSection = field(default_factory=MailSection)
    service: ServiceSection = field(default_factory=ServiceSection)

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


_AT_LEAST_ONE = {
    "feed.window",
    "feed.max_content_kb",
    "digest.max_posts",
    "mail.connections",
    "mail.timeout",
    "mail.retry_after",
    "mail.max_attempts",
    "service.poll_seconds",
    "service.tick_seconds",
}
_ADDRESSES = {"mail.from_address", "mail.unsubscribe_mailto", "mail.reply_to", "curator.email"}
_CHOICES = {
    "mail.transport": ("files", "smtp"),
    "mail.security": ("starttls", "tls", "none"),
    "mail.bounce": ("rcpt", "any", "never"),
}


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
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return f"must be an http(s) URL with a host, not {value!r}"
        if not value.endswith("/"):
            return f"must end with '/', as in {value + '/'!r}"
    elif name in _AT_LEAST_ONE and value < 1:
        return f"must be at least 1, not {value}"
    elif name in _CHOICES and value not in _CHOICES[name]:
        return f"must be one of {', '.join(_CHOICES[name])}, not {value!r}"
    elif name == "service.quiet_seconds" and value < 0:
        return f"must be 0 or more, not {value}"
    elif name in ("mail.port", "mail.rate") and not 0 <= value <= 65535:
        return f"must be between 0 and 65535, not {value}"
    elif (
        name in _ADDRESSES and (value or name == "mail.from_address") and not _plain_address(value)
    ):
        return f"must be an email address, not {value!r}"
    elif name == "digest.schedule" and (why := schedule_error(value)):
        return why
    elif name in ("dates.locale", "site.language") and not value.replace("-", "").isalpha():
        return f"must be a language tag such as 'en-GB', not {value!r}"
    return None


def _section(cls: type, raw: Any, section: str, path: Path) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [{section}] must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in raw.items():
        if key not in fields:
            raise ConfigError(f"{path}: unknown key '{section}.{key}'")
        expected = type(fields[key].default)
        if type(value) is not expected:
            raise ConfigError(
                f"{path}: '{section}.{key}' must be {expected.__name__}, not {type(value).__name__}"
            )
        if why := _check_value(section, key, value):
            raise ConfigError(f"{path}: '{section}.{key}' {why}")
        values[key] = value
    return cls(**values)


def load_config(path: Path) -> Config:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found (run 'postroom init DIR' to make a site)") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    sections = {f.name: f.default_factory for f in dataclasses.fields(Config)}
    parts = {}
    for name, value in raw.items():
        if name not in sections:
            raise ConfigError(f"{path}: unknown key '{name}'")
        parts[name] = _section(sections[name], value, name, path)
    return Config(**parts)


def open_site(root: Path) -> Site:
    return Site(root=root, config=load_config(root / CONFIG_NAME))


STARTER_CONFIG = """\
# postroom site configuration. Every key is optional; the values shown are the defaults.

[site]
title = "postroom"
description = "Articles worth reading, with their sources."
base_url = "http://localhost:8000/"   # where public/ is served; feeds link here
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

[store]
url = ""               # empty: sqlite in postroom.db beside this file; or postgresql://...
                       # ($POSTROOM_DATABASE_URL wins: keep a password there)

[mail]
from_address = "digest@localhost"
from_name = ""         # empty: the site title
reply_to = ""          # empty: the curator's email
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
"""


def init_site(root: Path) -> Site:
    """Make a new site folder; refuses to overwrite an existing config."""
    config = root / CONFIG_NAME
    if config.exists():
        raise ConfigError(f"{config}: already exists")
    (root / "content").mkdir(parents=True, exist_ok=True)
    config.write_text(STARTER_CONFIG, encoding="utf-8")
    return open_site(root)
