"""A site is a folder: postroom.toml, content/, public/ and postroom.db.

The config is read once into frozen dataclasses; every key has a default, and
an unknown key or a bad value is refused with the key and the file named, so a
typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


@dataclass(frozen=True)
class DatesSection:
    locale: str = "en-GB"  # decides whether 03/04/2016 is 3 April or 4 March


@dataclass(frozen=True)
class StoreSection:
    url: str = ""  # any SQLAlchemy URL; empty means sqlite:///<site>/postroom.db


@dataclass(frozen=True)
class Config:
    site: SiteSection = field(default_factory=SiteSection)
    curator: CuratorSection = field(default_factory=CuratorSection)
    feed: FeedSection = field(default_factory=FeedSection)
    dates: DatesSection = field(default_factory=DatesSection)
    digest: DigestSection = field(default_factory=DigestSection)
    store: StoreSection = field(default_factory=StoreSection)

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
        return self.config.store.url or f"sqlite:///{(self.root / 'postroom.db').resolve()}"

    @property
    def base_url(self) -> str:
        return self.config.site.base_url


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
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return f"must be an http(s) URL with a host, not {value!r}"
        if not value.endswith("/"):
            return f"must end with '/', as in {value + '/'!r}"
    elif name in ("feed.window", "feed.max_content_kb", "digest.max_posts") and value < 1:
        return f"must be at least 1, not {value}"
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

[store]
url = ""               # any SQLAlchemy URL; empty: sqlite in postroom.db beside this file
"""


def init_site(root: Path) -> Site:
    """Make a new site folder; refuses to overwrite an existing config."""
    config = root / CONFIG_NAME
    if config.exists():
        raise ConfigError(f"{config}: already exists")
    (root / "content").mkdir(parents=True, exist_ok=True)
    config.write_text(STARTER_CONFIG, encoding="utf-8")
    return open_site(root)
