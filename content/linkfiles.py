"""Files of links in content/: `links.txt` and `*.url`, for a curator who drops links into
a synced folder from a phone rather than running `postroom add`.

One URL a line; blank lines and `# comments` are skipped, and a Windows Internet Shortcut
(`[InternetShortcut]` then `URL=...`, what dragging a link out of a browser makes) reads
as its URL. The service fetches each link until it works once (service.follow); these
files are never posts themselves (content.readers leaves them alone).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from postroom.content.safe_read import Unreadable, read_regular
from postroom.core.model import Problem
from postroom.core.sanitize import one_line

LINKS_TXT = "links.txt"
URL_SUFFIX = ".url"
MAX_URL_CHARS = 2000  # what browsers and servers take; longer is a paste gone wrong
_MAX_BYTES = 1024 * 1024  # a list of links, not a dump: a larger file is not read
_PROBLEMS_SAID = 5  # lines of one file reported by number; the rest counted
_SKIPPED_FOLDERS = ("_digest",)  # the next issue's intro (content.intake's INTRO_FOLDER)


def _is_link(line: str) -> bool:
    try:
        parts = urlsplit(line)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in line
    except ValueError:  # "http://a]b/", a port out of range
        return False


def is_link_file(name: str) -> bool:
    return name.lower() == LINKS_TXT or name.lower().endswith(URL_SUFFIX)


@dataclass(frozen=True)
class LinkFile:
    path: str  # inside content/, with / separators
    urls: tuple[str, ...]  # as written, in order, each once
    problems: tuple[str, ...]  # lines that are not links, by number


def find_link_files(root: Path) -> list[str]:
    """Every links file under `root` (dot folders skipped, as the scan skips them)."""
    found = []
    skip = len(str(root)) + 1
    for folder, dirs, names in os.walk(root):
        prefix = folder[skip:].replace(os.sep, "/")
        dirs[:] = [
            d for d in dirs if not d.startswith(".") and (prefix or d not in _SKIPPED_FOLDERS)
        ]
        found += [f"{prefix}/{n}" if prefix else n for n in names if is_link_file(n)]
    return sorted(found)


def read_link_file(root: Path, path: str) -> LinkFile:
    """The links in one file; OSError or Unreadable (content.safe_read: a FIFO, a link out
    of the folder, over 1 MB) when it cannot be read at all."""
    data = read_regular(root, path, _MAX_BYTES, "a links file's")
    problems: list[str] = []
    text = data.decode("utf-8", errors="replace")
    urls: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip().lstrip("\ufeff")
        if not line or line.startswith(("#", ";")) or line.lower() == "[internetshortcut]":
            continue
        key, equals, value = line.partition("=")
        if equals and key.strip().lower() == "url":
            line = value.strip()
        elif equals and "://" not in key:  # another Internet Shortcut key (IconIndex=0)
            continue
        if len(line) > MAX_URL_CHARS:
            problems.append(f"line {number} is longer than {MAX_URL_CHARS:,} characters")
        elif _is_link(line):
            if line not in urls:
                urls.append(line)
        else:
            problems.append(f"line {number} is not an http(s) link: {one_line(line)[:80]}")
    if len(problems) > _PROBLEMS_SAID:  # a binary file is not a thousand warnings
        more = len(problems) - _PROBLEMS_SAID
        problems = [*problems[:_PROBLEMS_SAID], f"and {more} more lines that are not links"]
    return LinkFile(path, tuple(urls), tuple(problems))


def listed_links(root: Path) -> tuple[dict[str, str], list[Problem]]:
    """Every link listed under `root`, as written, with the file that lists it first; and
    the problems of the files (lines that are no links, a file that cannot be read)."""
    listed: dict[str, str] = {}
    problems = []
    for path in find_link_files(root):
        try:
            found = read_link_file(root, path)
        except (OSError, Unreadable) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            problems.append(Problem(path, f"cannot be read: {why}"))
            continue
        problems += [Problem(path, why) for why in found.problems]
        for url in found.urls:
            listed.setdefault(url, path)
    return listed, problems
