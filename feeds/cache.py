"""What a process that builds one site again and again (the service) keeps between its
builds, so that a new post on a site of 100,000 costs what changed, not what is there.

Kept: each post's head as last read, the verdict of `safety.admit` on it, the orders a
build lists heads in (`Orders`: newest pick-up first, by their own date, each topic's)
updated in place from the heads that changed, and the manifest the last build wrote.

Which heads changed: from a catalogue with a change log (`catalogue.ChangeLog`: the
store's change numbers, `store.changes`), only the posts changed since the number the
last build read, one indexed query; from any other catalogue, every post's version
(`Catalogue.versions`), compared. A build that finds the same site key as last time
(`keys.site_key`: code, config, templates) carries over every output none of whose
posts changed, without working out its key or looking at its file (`carried`); the
service's look at public/ for files removed by hand calls `recheck`, and the next build
looks at every file again, as a build without a cache always does; so does a build
`RECHECK_SECONDS` after the last that did (a file edited by hand is mended within it).

Nothing here is needed for correctness: a build without a cache reads everything, and
writes the same bytes.
"""

from __future__ import annotations

import time
from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter

from postroom.core.model import PostHead, Problem, newest_first
from postroom.feeds.catalogue import Catalogue, ChangeLog
from postroom.feeds.safety import admit_one
from postroom.feeds.selection import Topic, TopicKind, topic_names
from postroom.feeds.writer import Manifest

#: a build with a cache looks at every output's file at least this often: a page edited
#: by hand is made again within the hour even when the service did not see it (the
#: service's look at public/ finds files removed, not files changed, and asks `recheck`)
RECHECK_SECONDS = 3600.0


@dataclass(slots=True)  # one per post: no __dict__ each
class _Admitted:
    head: PostHead  # as read
    admitted: PostHead | None  # as made safe, or None: refused
    problem: Problem | None = None


#: (date, id): `pages.by_date`'s order, ascending; made in C, not a call to Python per head
#: (sorting 10,000 heads by it and by their topics took 30,000 such calls)
_dated_key = attrgetter("date", "id")
_id_key = attrgetter("id")


class _Sorted:
    """Heads in ascending order of `key` (unique per head: it ends with the id), found by
    `bisect` on the key of each head it passes (no list of keys kept beside them: at
    100,000 posts in several topics each, those would be tens of MB): a change costs a
    search and a move, not a sort."""

    def __init__(self, key: Callable[[PostHead], object], heads: Iterable[PostHead] = ()) -> None:
        self.key = key
        self.heads = sorted(heads, key=key)

    def add(self, head: PostHead) -> None:
        insort(self.heads, head, key=self.key)

    def remove(self, head: PostHead) -> None:
        at = bisect_left(self.heads, self.key(head), key=self.key)
        if at < len(self.heads) and self.heads[at] is head:
            del self.heads[at]

    def descending(self) -> list[PostHead]:
        return self.heads[::-1]


@dataclass
class _Folder:
    """One topic's posts as `selection.topics` gathers them."""

    kind: TopicKind
    names: Counter[str] = field(default_factory=Counter)  # each post's spelling of it
    newest: _Sorted = field(default_factory=lambda: _Sorted(newest_first))
    dated: _Sorted = field(default_factory=lambda: _Sorted(_dated_key))


class Orders:
    """The orders and groups a build lists admitted heads in, kept up to date from the
    heads that changed: the same lists `sorted`, `pages.by_date`, `selection.topics`
    and the offer's counts make from every head, made in the time of the change."""

    def __init__(self, heads: Iterable[PostHead]) -> None:
        heads = list(heads)
        self.newest = _Sorted(newest_first, heads)
        self.dated = _Sorted(_dated_key, heads)
        self._folders: dict[str, _Folder] = {}
        self._of: dict[str, tuple[tuple[str, str, TopicKind], ...]] = {}
        self.tagged: Counter[tuple[tuple[str, ...], str | None]] = Counter()
        self._topics: dict[str, Topic] = {}
        self._sorted_folders: list[str] = []
        #: `topic_names` by (tags, source): what it depends on. One tuple for the many
        #: posts that share them, not one each (~17 MB at 100,000 posts)
        self._named: dict[tuple[tuple[str, ...], str | None], tuple] = {}
        for head in heads:
            self._enter(head, bulk=True)
        # each topic's heads taken in the orders of all of them, sorted above: a subset of
        # a sorted list, in its order, is sorted (the keys end with the id: no two equal),
        # so no topic is sorted again (which, at 10,000 posts, cost twice the sorts above)
        for ordered, which in ((self.newest.heads, "newest"), (self.dated.heads, "dated")):
            for head in ordered:
                for folder, _, _ in self._of[head.id]:
                    getattr(self._folders[folder], which).heads.append(head)
        self._sorted_folders = sorted(self._folders)
        self.dirty: set[str] = set(self._folders)  # topics to make again

    def _enter(self, head: PostHead, bulk: bool = False) -> None:
        by = (head.tags, head.attribution.source)
        if (named := self._named.get(by)) is None:
            named = self._named[by] = topic_names(head)
        self._of[head.id] = named
        self.tagged[(head.tags, head.attribution.source)] += 1
        for folder, name, kind in named:
            entry = self._folders.get(folder)
            if entry is None:
                entry = self._folders[folder] = _Folder(kind)
                if not bulk:
                    insort(self._sorted_folders, folder)
            entry.names[name] += 1
            if not bulk:  # in bulk, `__init__` fills the topics' orders
                entry.newest.add(head)
                entry.dated.add(head)
                self.dirty.add(folder)

    def _leave(self, head: PostHead) -> None:
        self.tagged[(head.tags, head.attribution.source)] -= 1
        if self.tagged[(head.tags, head.attribution.source)] <= 0:
            del self.tagged[(head.tags, head.attribution.source)]
        for folder, name, _ in self._of.pop(head.id, ()):
            entry = self._folders[folder]
            entry.names[name] -= 1
            if entry.names[name] <= 0:
                del entry.names[name]
            entry.newest.remove(head)
            entry.dated.remove(head)
            self.dirty.add(folder)
            if not entry.names:
                del self._folders[folder]
                self._topics.pop(folder, None)
                at = bisect_left(self._sorted_folders, folder)
                del self._sorted_folders[at]

    def change(self, old: PostHead | None, new: PostHead | None) -> None:
        """One head replaced (`old` and `new`), added (`old` None) or gone (`new` None)."""
        if old is not None:
            self.newest.remove(old)
            self.dated.remove(old)
            self._leave(old)
        if new is not None:
            self.newest.add(new)
            self.dated.add(new)
            self._enter(new)

    def topics(self) -> list[Topic]:
        """`selection.topics(newest, dated)`: the unchanged topics as the same objects as
        last time (what `carried` looks for)."""
        for folder in self.dirty:
            entry = self._folders.get(folder)
            if entry is None:
                continue
            self._topics[folder] = Topic(
                entry.kind,
                folder,
                min(entry.names),
                tuple(entry.newest.descending()),
                tuple(entry.dated.descending()),
            )
        self.dirty = set()
        return [self._topics[folder] for folder in self._sorted_folders]


@dataclass
class BuildCache:
    """One site's, in one process; never shared between sites."""

    versions: dict[str, tuple] = field(default_factory=dict)
    _heads: dict[str, _Admitted] = field(default_factory=dict)
    manifest: Manifest | None = None
    #: the change log's epoch and number the kept heads are as of (None: none read)
    epoch: str | None = None
    seq: int | None = None
    orders: Orders | None = None
    #: the admitted heads of a first read (`_reset`), until `ordered` makes `orders` of them
    _unordered: list[PostHead] = field(default_factory=list)
    #: what the last build carried or made, for `carried`: the site key it was made with
    #: and, by what it is (a post's page, a topic's pages...), its object and outputs
    base: str | None = None
    outputs: dict[str, tuple[object, tuple[str, ...]]] = field(default_factory=dict)
    _next: dict[str, tuple[object, tuple[str, ...]]] = field(default_factory=dict)
    #: the key of the posts each year's page showed last (`pages._shown`), by page name
    memo: dict[str, tuple[Sequence[PostHead], str]] = field(default_factory=dict)
    #: the next build looks at every output's file (`recheck`)
    full_check: bool = True
    #: when a build last looked at every output's file (`time.monotonic`)
    checked_at: float = 0.0
    #: what the last `heads` found changed: ids (None: everything, a first read)
    changed: frozenset[str] | None = None
    #: ids whose page was written under no key (changed while read): made next build
    redo: set[str] = field(default_factory=set)
    #: each post page's manifest entry as the last build left it, by page name
    pages: dict[str, object] = field(default_factory=dict)
    _ids: _Sorted = field(default_factory=lambda: _Sorted(_id_key))
    _problems: dict[str, Problem] = field(default_factory=dict)

    def recheck(self) -> None:
        """Files in public/ may have been changed or removed by hand: the next build looks
        at every output again (`writer.OutputWriter.fresh`), as a build without a cache."""
        self.full_check = True

    def admitted(self, post_id: str) -> PostHead | None:
        """The head of `post_id` as admitted (None: not published, or refused)."""
        entry = self._heads.get(post_id)
        return entry.admitted if entry is not None else None

    def carried(self, what: str, made_of: object) -> tuple[str, ...] | None:
        """The outputs of `what` (a topic's pages, an archive page...) as the last build
        made them, if it made them of `made_of` (the same object, or an equal one: a
        topic, a page's posts) and `trusts` held; else None: the caller makes them."""
        found = self.outputs.get(what)
        if found is None or not (found[0] is made_of or found[0] == made_of):
            return None
        self._next[what] = found
        return found[1]

    def made(self, what: str, made_of: object, names: Sequence[str]) -> None:
        """`what` was made of `made_of` this build, as the files `names`."""
        self._next[what] = (made_of, tuple(names))

    def begin(self, base: str) -> bool:
        """A build starts: whether it may carry outputs over (the last build finished, of
        the same site key, no one asked for a `recheck`, and the last look at every file
        is less than `RECHECK_SECONDS` old). When not, the build reads every head again
        too (`heads`), not only the changes: after a build that failed part way (the
        changes it took are spent), and at least hourly, which also bounds what a store
        put back from a backup past the cache's number could hide. Until this build
        has finished, the cache is not trusted: what it carries or makes is all the next
        may carry (an output the last build made and this one does not is gone)."""
        due = time.monotonic() - self.checked_at >= RECHECK_SECONDS
        steady = not (self.full_check or due) and base == self.base and self.orders is not None
        if not steady:
            self.orders = None  # `heads` reads everything
        self._next = {}
        self.full_check = True
        return steady

    def built(self, base: str, trusted: bool) -> None:
        """The build that used this cache finished (having carried outputs over or, not
        `trusted`, looked at every file): what it made can be carried next."""
        if not trusted:
            self.checked_at = time.monotonic()
        self.outputs, self._next = self._next, {}
        self.base = base
        self.full_check = False

    def heads(self, catalogue: Catalogue) -> tuple[list[PostHead], list[Problem]]:
        """`admit` of every head in `catalogue`, reading and checking only those that
        changed since the last build: from its change log if it has one, else by version.
        The heads come in id order; `changed` and `orders` are brought up to date (after
        reading them all, `orders` is left to `ordered`)."""
        if isinstance(catalogue, ChangeLog):
            epoch = self.epoch if self.orders is not None else None
            # the number is the newest, taken before the heads are read, whatever `ids`
            found_epoch, seq, ids = catalogue.changes_since(self.seq if epoch else None)
            if ids is None or found_epoch != epoch:  # a first read, or another database
                self._reset(catalogue.heads())
            else:
                self._update(catalogue, set(ids) | self.redo)
            self.epoch, self.seq = found_epoch, seq
        else:
            versions = catalogue.versions()
            if self.orders is None:
                self._reset(catalogue.heads(list(versions)))
            else:
                changed = {i for i, v in versions.items() if self.versions.get(i) != v}
                gone = set(self._heads) - set(versions)
                self._update(catalogue, changed | gone | self.redo)
            self.versions = {i: v for i, v in versions.items() if i in self._heads}
        self.redo = set()
        return self._ids.heads, [self._problems[i] for i in sorted(self._problems)]

    def ordered(self) -> Orders:
        """`orders`, made now from every admitted head after a first read (`heads` leaves
        that to here): `feeds.build` asks once the post pages are sent, so a cold build's
        workers start on them without waiting for 10,000 heads sorted three ways."""
        if self.orders is None:
            self.orders = Orders(self._unordered)
            self._unordered = []
        return self.orders

    @staticmethod
    def _admit(head: PostHead) -> _Admitted:
        return _Admitted(head, *admit_one(head))

    def _reset(self, heads: Iterable[PostHead]) -> None:
        """Every head read: nothing kept is trusted. The orders are `ordered`'s to make."""
        self._heads = {head.id: self._admit(head) for head in heads}
        self._problems = {
            i: e.problem for i, e in self._heads.items() if e.admitted is None and e.problem
        }
        admitted = [e.admitted for e in self._heads.values() if e.admitted is not None]
        self._ids = _Sorted(_id_key, admitted)
        self.orders, self._unordered = None, admitted
        self.outputs, self.pages = {}, {}
        self.changed = None

    def _update(self, catalogue: Catalogue, touched: set[str]) -> None:
        """Read again the heads of `touched`: those the catalogue no longer publishes are
        gone; the orders follow."""
        read = {head.id: head for head in catalogue.heads(sorted(touched))} if touched else {}
        assert self.orders is not None
        for post_id in touched:
            old = self._heads.pop(post_id, None)
            head = read.get(post_id)
            new = self._admit(head) if head is not None else None
            if new is not None:
                self._heads[post_id] = new
            before = old.admitted if old is not None else None
            after = new.admitted if new is not None else None
            if before is not None:
                self._ids.remove(before)
            if after is not None:
                self._ids.add(after)
            self.orders.change(before, after)
            self._problems.pop(post_id, None)
            if new is not None and new.admitted is None and new.problem is not None:
                self._problems[post_id] = new.problem
        self.changed = frozenset(touched)
