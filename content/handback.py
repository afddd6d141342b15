"""How a scan's worker hands a chunk's results back: in a file whose name goes back
through the pool's pipe, not the results themselves.

A chunk's results are a few hundred KB (each post's text and HTML). A worker killed
while it writes them to the pipe (an OOM kill, a SIGKILL) leaves half a message there,
and the pool's reader (CPython's ProcessPoolExecutor) waits for the rest for ever: the
scan hangs, its lock held. A name is one write of a few bytes, whole or not at all; a
worker killed while it writes the file sends nothing, the pool sees it gone, and the
scan fails and says so (its one transaction undone). `feeds.parallel` hands renders
back the same way.

The worker also prepares each post it read for the store: its version's text, its
identity key, its id and its fingerprint as a new post (`content.settle`); the scan's
parent, one process that every worker waits on, then passes those on instead of making
them (a third of its time, in a cold scan).

Light on imports, as `content.examine` (which the workers run) must be.
"""

from __future__ import annotations

import copyreg
import json
import operator
import os
import pickle
from dataclasses import fields
from datetime import datetime, tzinfo

from postroom.content.examine import Job, examine_chunk
from postroom.content.readers import Reading
from postroom.content.settle import first_fingerprint, identity_key
from postroom.core.model import Attribution, ParsedPost
from postroom.store.encoding import encode_parsed

#: what a worker makes of each post it read, for the store: its version's text
#: (`encode_parsed`), identity key, id (before a clash's "-2") and the fingerprint it has
#: as a new post under that id, picked up at the scan's moment (`content.settle`)
Prepared = tuple[str, str, str, str]

#: (path, sha256, reading or None, its posts prepared or None), or None for a file gone
#: since the walk (see `content.examine.examine`)
Examined = tuple[str, str, Reading | None, tuple[Prepared, ...] | None] | None


def examine_to_file(folder: str, now: datetime, numbered: tuple[int, list[Job]]) -> str:
    """In a worker: `examine_chunk` of the chunk, each reading's posts prepared (`now`:
    the scan's moment), written to a file in `folder`."""
    number, jobs = numbered
    path = os.path.join(folder, f"{os.getpid()}-{number}.pickle")
    results = [
        prepared(result, now, job[3].tz)
        for job, result in zip(jobs, examine_chunk(jobs), strict=True)
    ]
    with open(path, "wb") as file:
        pickler = pickle.Pickler(file, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.dispatch_table = _REDUCERS
        pickler.dump(results)
    return path


def _by_fields(value: Attribution) -> tuple[type, tuple]:
    """A post's `Attribution` as its class and fields, made again by its constructor.
    A frozen dataclass with slots is otherwise pickled through the `__getstate__` and
    `__setstate__` that `dataclasses` writes in Python: ~2 us of the ~10 it took to
    write a post's result here, and as much of reading it in the scan's parent."""
    return type(value), _ATTRIBUTION_FIELDS(value)


_ATTRIBUTION_FIELDS = operator.attrgetter(*(f.name for f in fields(Attribution)))
_REDUCERS = copyreg.dispatch_table | {Attribution: _by_fields}


def prepared(result: tuple[str, str, Reading | None] | None, now: datetime, tz: tzinfo) -> Examined:
    """A result with its posts prepared for the store; None where the scan keeps none
    of them (nothing read, a file that failed: its last good version stays)."""
    if result is None:
        return None
    path, digest, reading = result
    if reading is None or reading.failed or not reading.posts:
        return path, digest, reading, None
    return (
        path,
        digest,
        reading,
        tuple(_prepared(post, path, now, tz) for post in reading.posts),
    )


def _prepared(post: ParsedPost, path: str, now: datetime, tz: tzinfo) -> Prepared:
    body_json = json.dumps(post.body_html)  # once: its version's JSON and fingerprint hold it
    key = identity_key(post, tz)
    return (encode_parsed(post, body_json), key, *first_fingerprint(post, path, now, tz, body_json))


def taken(path: str) -> list[Examined]:
    """In the parent: a chunk's results, its file removed."""
    with open(path, "rb") as file:
        results = pickle.load(file)
    os.unlink(path)
    return results
