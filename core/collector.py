"""The cyclic garbage collector in a process that lives briefly and keeps most of what it
makes until it exits: a `run --once`, and every pool's workers (`core.pool`).

Reference counting frees nearly all that such a process drops; the cyclic collector
finds little. In a cold `run --once` of 10,000 posts (timed with `gc.callbacks`) the
parent spent 0.35 CPU-s in 790 collections that freed 2,800 objects, and each build
worker 0.07 CPU-s in 200 that freed 12, two thirds of it in full collections walking the
71,000 objects it inherits from the forkserver (the preloaded modules: never garbage).

`brief()` (`briefly()` for a command's length): a young collection once 10,000 more
tracked objects are alive than at the last one, not CPython's 700. What survives is
still walked as before; what dies young is freed by its count, never walked; the full
collections, which wait for ten of the middle generation's, come far later (none in
that run). The parent's collections: 0.35 CPU-s to 0.12; a build worker's, with what it
inherits frozen (`core.pool`), 0.07 to 0.001.

`kept()`: what the command holds once its modules are imported (72,000 objects) frozen,
out of the collector's sight for the rest of it: the parent's 0.12 CPU-s to 0.08.

Memory is what it was: at most 10,000 young objects more before a look, garbage or not;
the peak of a cold `run --once` of 100,000 posts is unchanged (289 MB).

Not the service's: its process lives for weeks, and `service.heap` has its own policy.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: tracked objects more alive than at the last young collection that start the next
YOUNG = 10_000


def brief() -> None:
    """Collections for a process that exits soon: young ones rarer (see the module)."""
    gc.set_threshold(YOUNG, *gc.get_threshold()[1:])


@contextmanager
def briefly() -> Iterator[None]:
    """`brief` for the block (a command), then as it was: a process that goes on after
    it (a test calling the command line's `main`) keeps its own."""
    threshold = gc.get_threshold()
    brief()
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


@contextmanager
def kept() -> Iterator[None]:
    """What the process holds now frozen for the block (`gc.freeze`: never walked, still
    freed by its count), then unfrozen: a process that goes on after it (a test calling
    `main`) keeps its own. Left alone if something is frozen already (someone else's
    policy: the service's `heap`)."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
