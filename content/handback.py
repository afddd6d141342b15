"""How a scan's worker hands a chunk's results back: in a file whose name goes back
through the pool's pipe, not the results themselves.

A chunk's results are a few hundred KB (each post's text and HTML). A worker killed
while it writes them to the pipe (an OOM kill, a SIGKILL) leaves half a message there,
and the pool's reader (CPython's ProcessPoolExecutor) waits for the rest for ever: the
scan hangs, its lock held. A name is one write of a few bytes, whole or not at all; a
worker killed while it writes the file sends nothing, the pool sees it gone, and the
scan fails and says so (its one transaction undone). `feeds.parallel` hands renders
back the same way.

Light on imports, as `content.examine` (which the workers run) must be.
"""

from __future__ import annotations

import os
import pickle

from postroom.content.examine import Job, examine_chunk
from postroom.content.readers import Reading

Examined = tuple[str, str, Reading | None] | None


def examine_to_file(folder: str, numbered: tuple[int, list[Job]]) -> str:
    """In a worker: `examine_chunk` of the chunk, written to a file in `folder`."""
    number, jobs = numbered
    path = os.path.join(folder, f"{os.getpid()}-{number}.pickle")
    with open(path, "wb") as file:
        pickle.dump(examine_chunk(jobs), file, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def taken(path: str) -> list[Examined]:
    """In the parent: a chunk's results, its file removed."""
    with open(path, "rb") as file:
        results = pickle.load(file)
    os.unlink(path)
    return results
