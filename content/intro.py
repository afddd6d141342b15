"""The curator's intro to the next digest issue: `content/_digest/next.md`.

Markdown with optional YAML front matter, whose only key is `subject` (the issue's
subject instead of `digest.subject`'s). It is no post: intake never lists
`content/_digest/`. It is read when an issue is made (and by `digest preview`),
rendered to sanitized HTML (its relative links and images made absolute against
site.base_url: "/about/" leads nowhere in an inbox) and frozen with the issue, with the sha256 of
the file's bytes: an issue is never introduced by a file another issue used already,
so an intro nobody edited since is not sent twice (`emails.issues.next_intro`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from postroom.content.intake import INTRO_FOLDER
from postroom.content.markdown import comment_html, front_matter
from postroom.content.readers import decode
from postroom.content.safe_read import Unreadable, read_regular
from postroom.core.config import Site, subject_template_error
from postroom.core.model import ReadError, brief
from postroom.core.sanitize import one_line, strip_illegal
from postroom.core.urls import absolute_html

#: the intro's file, relative to the content folder
#: an intro may take this share of the email's HTML budget at most (1/INTRO_SHARE)
INTRO_SHARE = 4
INTRO_PATH = f"{INTRO_FOLDER}/next.md"
INTRO_KEYS = frozenset({"subject"})


@dataclass(frozen=True)
class Intro:
    html: str  # sanitized; "" when the file has front matter only (a subject)
    subject: str | None  # one line, or None: `digest.subject` makes it
    sha256: str  # of the file's bytes, frozen with the issue that used it


def read_intro(site: Site) -> Intro | None:
    """The intro as the file says now; None when there is no file. ReadError (the reason)
    when it cannot be used: a link out of content/, not a file, too big, undecodable, bad
    front matter or an unknown key in it (a misspelt `subject` must not pass unseen)."""
    root = site.content_dir
    if not (root / INTRO_PATH).exists() and not (root / INTRO_PATH).is_symlink():
        return None
    limit = site.config.content.max_file_kb * 1024
    try:
        data = read_regular(Path(root), INTRO_PATH, limit, "content.max_file_kb")
    except (Unreadable, OSError) as exc:
        raise ReadError(str(exc) if isinstance(exc, Unreadable) else exc.strerror) from None
    text, _ = decode(data)
    meta, body = front_matter(strip_illegal(text)[0])
    if unknown := sorted(set(meta) - INTRO_KEYS):
        raise ReadError(f"unknown front matter key '{unknown[0]}' (only 'subject')")
    subject = meta.get("subject")
    if subject is not None and not isinstance(subject, str | int | float):
        raise ReadError(f"front matter 'subject' must be text, not {brief(subject)}")
    if subject is not None and (why := subject_template_error(str(subject))):
        raise ReadError(f"front matter 'subject' {why}")  # the rules of digest.subject
    # read far from the site (an inbox, a feed reader): "/about/" means the site's, so the
    # frozen copy the email, the archive and the issues feed all show is made absolute
    html = absolute_html(comment_html(body), site.base_url) if body.strip() else ""
    room = site.config.digest.max_html_kb * 1024 // INTRO_SHARE
    if len(html.encode()) > room:
        raise ReadError(
            f"{len(html.encode()) // 1024} KB of HTML: more than 1/{INTRO_SHARE} of"
            f" digest.max_html_kb ({room // 1024} KB), and the posts need the rest; shorten it"
        )
    return Intro(
        html=html,
        subject=one_line(str(subject)) or None if subject is not None else None,
        sha256=hashlib.sha256(data).hexdigest(),
    )
