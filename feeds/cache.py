"""What a process that builds one site again and again (the service) keeps between its
builds, so that a new post on a site of 100,000 costs what changed, not what is there.

Kept: each post's head as last read with its version (`Catalogue.versions`), the
verdict of `safety.admit` on it, and the manifest the last build wrote. A build
asks the catalogue for every post's version (one narrow query), reads again
only the heads whose version changed, and checks only those. Nothing here is
needed for correctness: a build without a cache reads everything, and writes
the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from postroom.core.model import PostHead, Problem
from postroom.feeds.catalogue import Catalogue
from postroom.feeds.safety import admit
from postroom.feeds.writer import Manifest


@dataclass
class _Admitted:
    head: PostHead  # as read
    admitted: PostHead | None  # as made safe, or None: refused
    problem: Problem | None = None


@dataclass
class BuildCache:
    """One site's, in one process; never shared between sites."""

    versions: dict[str, tuple] = field(default_factory=dict)
    _heads: dict[str, _Admitted] = field(default_factory=dict)
    manifest: Manifest | None = None

    def heads(self, catalogue: Catalogue) -> tuple[list[PostHead], list[Problem]]:
        """`admit` of every head in `catalogue`, reading and checking only those whose
        version changed since the last build."""
        versions = catalogue.versions()
        changed = {i for i, version in versions.items() if self.versions.get(i) != version}
        read = {head.id: head for head in catalogue.heads(changed)} if changed else {}
        kept: dict[str, _Admitted] = {}
        fresh: list[PostHead] = []
        for post_id in versions:
            if (head := read.get(post_id)) is not None:
                fresh.append(head)
            elif post_id not in changed and (known := self._heads.get(post_id)) is not None:
                kept[post_id] = known
            # else: changed and gone before its head was read (a scan ran): left out, as
            # the store has it now
        for head in fresh:
            admitted, problems = admit([head])
            kept[head.id] = _Admitted(head, admitted[0] if admitted else None, *problems[:1])
        self._heads = kept
        self.versions = {i: v for i, v in versions.items() if i in kept}
        heads: list[PostHead] = []
        told: list[Problem] = []
        for post_id in sorted(kept):  # admit's order: by id
            entry = kept[post_id]
            if entry.admitted is not None:
                heads.append(entry.admitted)
            elif entry.problem is not None:
                told.append(entry.problem)
        return heads, told
