"""How a scan's worker hands a chunk's results back: in a file whose name goes back
through the pool's pipe, not the results themselves.

A chunk's results are a few hundred KB (each post's text and HTML). A worker killed
while it writes them to the pipe (an OOM kill, a SIGKILL) leaves half a message there,
and the pool's reader (CPython's ProcessPoolExecutor) waits for the rest for ever: the
scan hangs, its lock held. A name is one write of a few bytes, whole or not at all; a
worker killed while it writes the file sends nothing, the pool sees it gone, and the
scan fails and says so (its one transaction undone). `feeds.parallel` hands renders
back the same way.

The worker also encodes each post it read as the store keeps it (`store.encoding`):
the scan's parent, one process that every worker waits on, then passes that text on
instead of making it (a sixth of its time, in a cold scan).

Light on imports, as `content.examine` (which the workers run) must be.
"""

from __future__ import annotations

import os
import pickle

from postroom.content.examine import Job, examine_chunk
from postroom.content.readers import Reading
from postroom.store.encoding import encode_parsed

#: (path, sha256, reading or None, its posts as `encode_parsed` makes them or None), or
#: None for a file gone since the walk (see `content.examine.examine`)
Examined = tuple[str, str, Reading | None, tuple[str, ...] | None] | None


def examine_to_file(folder: str, numbered: tuple[int, list[Job]]) -> str:
    """In a worker: `examine_chunk` of the chunk, each reading's posts encoded, written
    to a file in `folder`."""
    number, jobs = numbered
    path = os.path.join(folder, f"{os.getpid()}-{number}.pickle")
    results = [encoded(result) for result in examine_chunk(jobs)]
    with open(path, "wb") as file:
        pickle.dump(results, file, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def encoded(result: tuple[str, str, Reading | None] | None) -> Examined:
    """A result with its posts' versions as the store keeps them; None where the scan
    keeps none (nothing read, a file that failed: its last good version stays)."""
    if result is None:
        return None
    path, digest, reading = result
    if reading is None or reading.failed or not reading.posts:
        return path, digest, reading, None
    return path, digest, reading, tuple(encode_parsed(post) for post in reading.posts)


def taken(path: str) -> list[Examined]:
    """In the parent: a chunk's results, its file removed."""
    with open(path, "rb") as file:
        results = pickle.load(file)
    os.unlink(path)
    return results
