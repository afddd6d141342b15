"""A site's own templates: SITE/templates/pages/ and SITE/templates/emails/, before the
packaged ones.

A file there named as a packaged template (`pages/post.html`, `pages/base.html`,
`emails/welcome.txt`) is used instead of it, and `{% extends %}` / `{% include %}` look
there first too; a name with no file there falls back to the packaged template. Two
folders, not one, so a page and an email template of the same name never collide.

A curator's mistake never stops a build or a send: an override that is not a regular
file inside the folder (`..`, a symbolic link out of it, a pipe), is larger than
MAX_TEMPLATE_BYTES, is not UTF-8 or does not parse is logged once (`postroom.theme`)
and the packaged template is used. Overrides are seen without a restart: Jinja asks
`uptodate` before each use, and that notices an override written, changed or removed.
Within a build (`checked_once`) each template is looked at once, at its first use, not
before each of its 10,000 pages (a few `stat` calls a template a page were 7% of a
cold build's page rendering): the build's keys took the overrides as they were at its
start (`keys.site_key`), so its pages come from one version of them either way, and
the next build, or a page the web app renders outside a build, sees an edit.
Templates are autoescaped like the packaged ones, and post bodies are sanitised at
intake, so an override changes the design, never what content may run.
"""

from __future__ import annotations

import functools
import logging
import os
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ParamSpec, TypeVar

from jinja2 import BaseLoader, Environment, PackageLoader, TemplateSyntaxError
from jinja2.loaders import split_template_path
from postroom.core.config import Site

#: the site's folder of overrides, beside content/
THEMES = "templates"
#: a template larger than this is no template (a real one is a few KB)
MAX_TEMPLATE_BYTES = 1024 * 1024
_LOG = logging.getLogger("postroom.theme")

_Signature = tuple[int, int, int] | None
P = ParamSpec("P")
R = TypeVar("R")


def theme_folder(site: Site, kind: str) -> Path:
    """SITE/templates/<kind>: `pages` (feeds/templates) or `emails` (emails/templates)."""
    return _theme_folder(site.root, kind)


@functools.lru_cache(maxsize=64)
def _theme_folder(root: Path, kind: str) -> Path:
    """One Path a site and kind, made once: asked for each page rendered, and the
    templates' cache (`pages._environment`) hashes it each time (a Path keeps its hash)."""
    return root / THEMES / kind


def _signature(path: Path) -> _Signature:
    """What tells a file's versions apart (None: nothing there)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return (0, 0, 0) if os.path.lexists(path) else None  # a link to nothing
    except OSError:
        return (-1, 0, 0)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def fingerprint(folder: Path) -> tuple[tuple[str, _Signature], ...]:
    """Every file under `folder` and its signature: changes when any override does."""
    if not folder.is_dir():
        return ()
    return tuple(sorted((str(p.relative_to(folder)), _signature(p)) for p in folder.rglob("*")))


def render(
    environment: Callable[[Path | None], Environment], folder: Path, name: str, values: dict
) -> str:
    """Template `name` rendered with the overrides in `folder`; if an override fails while
    rendering (a `{% include %}` of what is not there, a filter that does not exist, a
    helper given what it cannot take: `shown(post)` on a list's post, which has no text),
    it is logged and the packaged templates alone render it. `environment(None)` is those."""
    try:
        return environment(folder).get_template(name).render(values)
    except Exception as exc:
        if not fingerprint(folder):
            raise  # a fault of the packaged templates: a bug, not the curator's
        reason = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"
        _LOG.warning(
            "templates in %s: %s rendering %s; the packaged ones are used",
            folder,
            reason,
            name,
            extra={"event": "problem", "fields": {"file": str(folder), "reason": reason}},
        )
        return environment(None).get_template(name).render(values)


#: per thread: the templates found up to date since its build began (`checked_once`);
#: no `checked`: outside a build, every use looks again
_builds = threading.local()


@contextmanager
def checked_once() -> Iterator[None]:
    """Within this block (in this thread), a template found up to date is not looked at
    again: the block is one build, whose pages all come from the templates as they were
    when it began. Other threads (the web app's) still look before each use."""
    previous = getattr(_builds, "checked", None)
    _builds.checked = set()
    try:
        yield
    finally:
        _builds.checked = previous


def checked_once_per_call(function: Callable[P, R]) -> Callable[P, R]:
    """`function`, each call of it run `checked_once` (`feeds.build`)."""

    @functools.wraps(function)
    def once(*args: P.args, **kwargs: P.kwargs) -> R:
        with checked_once():
            return function(*args, **kwargs)

    return once


def check_once_from_now() -> None:
    """`checked_once` for the rest of this thread: a worker process that renders for one
    build and ends with it (`feeds.parallel`)."""
    _builds.checked = set()


class _UpToDate:
    """A loaded template's `uptodate` for Jinja: `look()`, but once per build
    (`checked_once`) once it said yes."""

    __slots__ = ("look",)

    def __init__(self, look: Callable[[], bool]) -> None:
        self.look = look

    def __call__(self) -> bool:
        checked = getattr(_builds, "checked", None)
        if checked is None:
            return self.look()
        if self in checked:
            return True
        if self.look():
            checked.add(self)
            return True
        return False


class ThemeLoader(BaseLoader):
    """The site's overrides in `folder` (None: none), then the templates packaged with
    `package`."""

    def __init__(self, folder: Path | None, package: str) -> None:
        self.folder = folder
        self.package = PackageLoader(package, "templates")
        self._said: set[tuple[str, str]] = set()

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, filename, uptodate = self._source(environment, template)
        return source, filename, None if uptodate is None else _UpToDate(uptodate)

    def _source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        if self.folder is None:
            return self.package.get_source(environment, template)
        path = self.folder.joinpath(*split_template_path(template))  # no `..`: not found
        signature = _signature(path)
        if signature is not None:
            source, refused = self.read(environment, template, path)
            if refused is None:
                return source, str(path), lambda: _signature(path) == signature
            self._say(path, refused)
        source, filename, packaged_uptodate = self.package.get_source(environment, template)

        def uptodate() -> bool:  # and no override has appeared, or changed, since
            packaged = packaged_uptodate() if packaged_uptodate else True
            return packaged and _signature(path) == signature

        return source, filename, uptodate

    def read(self, environment: Environment, template: str, path: Path) -> tuple[str, str | None]:
        """(the override's source, None) or ("", why it is not used)."""
        assert self.folder is not None
        try:
            real = path.resolve(strict=True)
            if not real.is_relative_to(self.folder.resolve(strict=True)):
                return "", f"outside {self.folder}: not read"
            st = real.stat()
            if not stat.S_ISREG(st.st_mode):
                return "", "not a regular file: not read"
            if st.st_size > MAX_TEMPLATE_BYTES:
                return "", f"larger than {MAX_TEMPLATE_BYTES // 1024} KB: not read"
            source = real.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            return "", "not UTF-8"
        except (OSError, RuntimeError) as exc:  # gone, unreadable, a link loop
            return "", getattr(exc, "strerror", None) or str(exc)
        try:
            environment.parse(source, template, str(path))
        except TemplateSyntaxError as exc:
            return "", f"line {exc.lineno}: {exc.message}"
        return source, None

    def _say(self, path: Path, reason: str) -> None:
        if (str(path), reason) not in self._said:  # once, not once per page
            self._said.add((str(path), reason))
            _LOG.warning(
                "template %s: %s; the packaged one is used",
                path,
                reason,
                extra={"event": "problem", "fields": {"file": str(path), "reason": reason}},
            )


def override_problems(site: Site) -> list[str]:
    """Each of the site's overrides that would not be used, and why, for `check`:
    'templates/pages/post.html: line 3: unexpected end of template'. A build or a send
    logs the same once it meets the file; `check` tells the curator before."""
    said = []
    for kind in ("pages", "emails"):
        folder = theme_folder(site, kind)
        if not folder.is_dir():
            continue
        # reading and parsing an override needs no packaged templates: pages' stand in
        loader, environment = ThemeLoader(folder, "postroom.feeds"), Environment()
        for path in sorted(folder.rglob("*")):
            if path.is_dir() and not path.is_symlink():
                continue
            name = path.relative_to(folder).as_posix()
            if refused := loader.read(environment, name, path)[1]:
                said.append(f"{THEMES}/{kind}/{name}: {refused}")
    return said
