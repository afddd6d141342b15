"""What a scan's worker processes run: read one file, hash it, parse it if it changed.

Its own module, light on imports (no store, no SQLAlchemy): each worker imports what
unpickling `examine_chunk` names, and the forkserver imports it once beforehand for
all of them (`content.intake._examine_all`), so a worker starts parsing at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from postroom.content.readers import SIDECAR_SUFFIX, Reader, Reading, read_file, sidecar_path
from postroom.content.safe_read import Unreadable, read_regular
from postroom.core.config import Config
from postroom.core.excerpts import excerpt
from postroom.core.model import ParsedPost, Problem, Severity
from postroom.core.sanitize import one_line

Job = tuple[Path, str, str | None, Config, Reader | None]
SIDECAR_BYTES = 65_536


REFUSED = "!"  # marks the digest of an entry that could not be read, not of its bytes


def failed(path: str, reason: str, known_sha: str | None) -> tuple[str, str, Reading | None]:
    """An entry that gave no posts: its problem, under a digest of the reason, so the
    same trouble looked at again (every scan: see `_refused`) is no news."""
    digest = REFUSED + hashlib.sha256(reason.encode()).hexdigest()[1:]  # 64, as a sha256
    if digest == known_sha:
        return path, digest, None
    return path, digest, Reading((), (Problem(path, reason, Severity.ERROR),))


def examine(job: Job) -> tuple[str, str, Reading | None] | None:
    """Hash a file and parse it if its bytes changed: (path, sha256, reading or None).

    Every failure, whatever it is, comes back as a reading with a problem naming the
    file: one file must never stop the scan of the others."""
    content_dir, path, known_sha, config, reader = job
    try:
        limit = config.content.max_file_kb * 1024
        data = read_regular(content_dir, path, limit, "content.max_file_kb")
        side = sidecar_name(path)
        try:
            sidecar = read_regular(content_dir, side, SIDECAR_BYTES, "a sidecar's")
        except FileNotFoundError:
            sidecar = None
        except (Unreadable, OSError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return failed(path, f"its sidecar {SIDECAR_SUFFIX}: {why}", known_sha)
    except FileNotFoundError:
        return None
    except Unreadable as exc:
        return failed(path, str(exc), known_sha)
    except OSError as exc:  # permission denied, an I/O error: reported, retried when it changes
        return failed(path, f"cannot be read ({exc.strerror or type(exc).__name__})", known_sha)
    except Exception as exc:  # a bug of ours: this file is reported, the scan goes on
        why = one_line(f"could not be read ({type(exc).__name__}: {exc})")
        return failed(path, why, known_sha)
    digest = hashlib.sha256(data + b"\0" + (sidecar or b"")).hexdigest()
    if digest == known_sha:
        return path, digest, None
    return path, digest, with_excerpts(read_file(path, data, sidecar, config, reader))


def with_excerpts(reading: Reading) -> Reading:
    """Each post with its excerpt worked out, here in the worker, once per version: the
    store keeps it, and every page, feed and archive document that shows the post reads
    it instead of turning the body into text again (`core.excerpts`)."""
    if not reading.posts:
        return reading
    posts = tuple(with_excerpt(post, _excerpt(post.body_html)) for post in reading.posts)
    return Reading(posts, reading.problems)  # its two fields: cheaper than a replace()


def with_excerpt(post: ParsedPost, text: str | None) -> ParsedPost:
    """`dataclasses.replace(post, excerpt=text)`: the same fields, copied as they are
    (replace() gathers each field and hands them all to the frozen class's __init__,
    which sets each through object.__setattr__: 2% of a worker's time). A class with
    slots, no __dict__, is replaced as before."""
    if not hasattr(post, "__dict__"):
        return replace(post, excerpt=text)
    copied = object.__new__(type(post))
    copied.__dict__.update(post.__dict__, excerpt=text)
    return copied


def _excerpt(body_html: str) -> str | None:
    try:
        return excerpt(body_html)
    except Exception:  # a bug of ours: the build works it out (and meets it) as it did before
        return None


def sidecar_name(path: str) -> str:
    """`str(sidecar_path(Path(path)))` by string operations (asked of every file: the
    Path took a fifth of reading one): the name's last suffix, as Path.stem takes it
    off, replaced by SIDECAR_SUFFIX."""
    head, slash, name = path.rpartition("/")  # (os.path.split and join: a third of this)
    if name in ("", ".", "..") or "//" in path or "./" in path:  # Path would tidy these
        return str(sidecar_path(Path(path)))
    dot = name.rfind(".")
    stem = name[:dot] if 0 < dot < len(name) - 1 else name
    return head + slash + stem + SIDECAR_SUFFIX


def examine_chunk(jobs: list[Job]) -> list[tuple[str, str, Reading | None] | None]:
    return [examine(job) for job in jobs]
