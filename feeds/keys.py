"""What each output of a build is made from, as a short key: an output whose key is the
one its file was written with (`writer.OutputWriter.fresh`) is not rendered again.

A key hashes everything the output's bytes can depend on:
- the code: the source of the packages that render (core, feeds) and their templates,
  and the versions of the libraries that write the bytes (feedgen, lxml, Jinja2,
  MarkupSafe), so an upgrade renders everything once;
- the site: its whole config and the contents of its page templates
  (`templates/pages/`), so a change to either renders everything that uses them;
- the posts the output shows: each one's id and content fingerprint (the store's:
  everything intake read from its files), with its pick-up and update times where a
  feed shows them.

Keys are made per build from the posts' heads alone, so deciding what to render
costs a hash per output, not a render. Wider than needed on purpose: a config key
no page reads (a mail setting) renders every page once, which is slow but right;
a key that missed an input would leave a stale page, which is fast but wrong.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterable
from functools import cache
from importlib import metadata
from pathlib import Path

from postroom.core.config import Site
from postroom.core.model import Post, PostHead
from postroom.feeds.theme import MAX_TEMPLATE_BYTES, theme_folder

#: packages whose code shapes what a build writes
_RENDERING = ("core", "feeds")
_LIBRARIES = ("feedgen", "lxml", "Jinja2", "MarkupSafe", "nh3")


def digest(*parts: object) -> str:
    """A short stable hash of `parts` (their str, separated): 24 hex characters."""
    text = "\x1f".join(map(str, parts))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


@cache
def code_key() -> str:
    """The rendering code and its libraries, read once per process."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.blake2b(digest_size=12)
    for package in _RENDERING:
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and path.suffix in {".py", ".html", ".xsl", ".txt", ".css"}:
                h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    for name in _LIBRARIES:
        h.update(f"{name}={metadata.version(name)}".encode())
    return h.hexdigest()


def _overrides(folder: Path) -> str:
    """The names and contents of a site's template overrides (none: ""). Only what the
    theme would read is read: a link is hashed by where it points, a file over
    MAX_TEMPLATE_BYTES by its size and mtime (the theme refuses both)."""
    if not folder.is_dir():
        return ""
    h = hashlib.blake2b(digest_size=12)
    for path in sorted(folder.rglob("*")):
        h.update(str(path.relative_to(folder)).encode() + b"\0")
        try:
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                h.update(b"link:" + os.readlink(path).encode("utf-8", "surrogateescape"))
            elif stat.S_ISREG(st.st_mode) and st.st_size <= MAX_TEMPLATE_BYTES:
                h.update(path.read_bytes())
            else:
                h.update(f"{st.st_mode}:{st.st_size}:{st.st_mtime_ns}".encode())
        except OSError as exc:  # unreadable: its error is what the theme will say
            h.update(repr(exc).encode())
    return h.hexdigest()


def site_key(site: Site) -> str:
    """The code, the site's config and its page templates: the base of every key."""
    overrides = _overrides(theme_folder(site, "pages"))
    # the root resolved: `--site .` and `--site /srv/site` are one site, not two that
    # would each render everything the other built
    return digest(code_key(), site.root.resolve(), repr(site.config), overrides)


def post_key(post: Post | PostHead) -> str:
    """A post as a feed or list shows it: its content and its pick-up and update times.
    Made once per post object while it lives (`forget` drops them): a head is asked for
    by its page of posts/, its topics' pages, windows and archive page."""
    made = _post_keys.get(id(post))
    if made is not None and made[0] is post:
        return made[1]
    # a digest, not the parts joined: ~240 bytes a post, held for every post of a build
    moments = post.picked_up.isoformat(), post.updated.isoformat()
    key = digest(post.id, fingerprint_of(post), *moments)
    _post_keys[id(post)] = (post, key)
    return key


_post_keys: dict[int, tuple[object, str]] = {}


def page_keys(base: str) -> Callable[[PostHead], str]:
    """The key of a post's page, for the heads of one site (`base`): `digest(base,
    "post", head.id, head.fingerprint)`, the site's part hashed once and copied for each
    head (10,000 heads: 5.5 ms against 10.9). Not kept as `post_key` is: a build asks it
    once per page."""
    site = hashlib.blake2b(f"{base}\x1fpost\x1f".encode("utf-8", "surrogatepass"), digest_size=12)

    def key(head: PostHead) -> str:
        h = site.copy()
        h.update(f"{head.id}\x1f{head.fingerprint}".encode("utf-8", "surrogatepass"))
        return h.hexdigest()

    return key


def forget(keep: Iterable[object] = ()) -> None:
    """Drop the keys made for the last build's posts, but those of `keep` (the heads a
    `cache.BuildCache` holds for the next build)."""
    kept = {id(post): _post_keys[id(post)] for post in keep if id(post) in _post_keys}
    _post_keys.clear()
    _post_keys.update(kept)


def fingerprint_of(post: Post | PostHead) -> str:
    """The store's fingerprint of a head; for a whole `Post` given in memory (tests,
    benches), a hash of everything in it."""
    if isinstance(post, PostHead):
        return post.fingerprint
    return digest(repr(post))
