"""A site whose readers chose topics, sources and cadences, driven slot by slot in this
process with the service's own functions (decide_slot, the proof, send_unfinished) on a
clock the test moves, and its mail read back from the files transport (outbox/)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

from postroom.content.intake import scan
from postroom.core.model import Cadence
from postroom.core.selection import Selection
from postroom.emails.issues import SlotDecision, decide_slot
from postroom.emails.sending import send_unfinished
from postroom.store import Store
from postroom.store.digests import all_issues, release
from postroom.store.schema import outbox
from postroom.store.subscribers import Choice, SubscriberList
from sqlalchemy import select
from support import make_site, write

SECRET = b"selections-test-secret-long-enough"
#: a Monday, the first of its month: the slot before the site began (never mailed)
START = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
CONFIG = (
    '[site]\nbase_url = "https://notes.example.org/"\ntitle = "Practice Notes"\n'
    'timezone = "UTC"\n[digest]\nschedule = "mon 07:00"\nmax_posts = 50\n'
)
STORY = re.compile(r"Story-\d{4}")


@dataclass(frozen=True)
class Mail:
    """One message as read back from outbox/<issue>/<subscriber id>.eml."""

    issue: int
    to: str
    subject: str
    text: str
    html: str

    @property
    def stories(self) -> set[str]:
        """The stories (by title) in the message; the same in both parts."""
        found = set(STORY.findall(self.text))
        assert found == set(STORY.findall(self.html)), (found, self.subject)
        return found


class Week:
    """The site at its slots: `post` files, then `slot` picks them up, decides the slot at
    its time (plus `after`), releases the issue and sends what is owed."""

    def __init__(self, root: Path, digest: str = "", more: str = "") -> None:
        self.site = make_site(root, config=CONFIG + digest + more)
        self.store = Store(self.site.store_url)
        self.book = SubscriberList(self.store)
        self.slot_at = START
        self.stories = 0
        self.seen: set[Path] = set()
        self.ids: dict[str, int] = {}
        assert decide_slot(self.site, self.store, START + timedelta(hours=1)).outcome == (
            "before-start"
        )

    def close(self) -> None:
        self.store.close()

    def reader(
        self,
        address: str,
        topics: tuple[str, ...] = (),
        sources: tuple[str, ...] = (),
        cadence: Cadence | None = None,
    ) -> int:
        self.book.add(address, choice=Choice(Selection.of(topics, sources), cadence))
        self.ids[address] = next(s.id for s in self.book.all() if s.address == address)
        return self.ids[address]

    def choose(
        self,
        address: str,
        topics: tuple[str, ...] = (),
        sources: tuple[str, ...] = (),
        cadence: Cadence | None = None,
        paused_until: datetime | None = None,
    ) -> None:
        stamp = paused_until.isoformat(timespec="microseconds") if paused_until else ""
        assert self.book.set_preferences(
            self.ids[address], Selection.of(topics, sources), cadence, stamp
        )

    def post(self, *tags: str, source: str = "Community Care") -> str:
        """A new story file (picked up at the next slot); its title."""
        self.stories += 1
        title = f"Story-{self.stories:04d}"
        front = f"title: {title} about {', '.join(tags) or 'nothing'}\ndate: 2016-06-23\n"
        front += f"source: {source}\n" + (f"tags: [{', '.join(tags)}]\n" if tags else "")
        write(self.site.content_dir / f"s{self.stories:04d}.md", f"---\n{front}---\nBody.\n")
        return title

    @property
    def next_slot(self) -> datetime:
        return self.slot_at + timedelta(weeks=1)

    def pick_up(self, now: datetime | None = None) -> None:
        scan(self.site, self.store, now or self.next_slot - timedelta(days=1))

    def slot(self, after: timedelta = timedelta(hours=1)) -> tuple[SlotDecision, list[Mail]]:
        """The next slot: posts picked up the day before, the slot decided `after` it, every
        issue released (as its archive page would be) and what is owed sent. What was
        decided, and the messages this slot wrote."""
        self.pick_up()
        self.slot_at = self.next_slot
        now = self.slot_at + after
        decision = decide_slot(self.site, self.store, now)
        self.send(now)
        return decision, self.new_mail()

    def send(self, now: datetime) -> None:
        release(self.store, [i.number for i in all_issues(self.store)], now)
        send_unfinished(self.site, self.store, SECRET, clock=lambda: now)

    def new_mail(self) -> list[Mail]:
        found = []
        for path in sorted((self.site.root / "outbox").glob("*/*.eml")):
            if path in self.seen or not path.parent.name.isdigit():
                continue
            self.seen.add(path)
            msg = message_from_bytes(path.read_bytes(), policy=policy.default)
            found.append(
                Mail(
                    int(path.parent.name),
                    msg["To"].addresses[0].addr_spec,
                    str(msg["Subject"]),
                    msg.get_body(("plain",)).get_content(),
                    msg.get_body(("html",)).get_content(),
                )
            )
        return found

    def editions(self) -> dict[int, int]:
        """Each subscriber's edition in the last issue with rows, by subscriber id."""
        with self.store.engine.connect() as conn:
            last = conn.execute(select(outbox.c.issue).order_by(outbox.c.issue.desc())).first()
            rows = conn.execute(
                select(outbox.c.subscriber_id, outbox.c.edition).where(outbox.c.issue == last[0])
            ).all()
        return {r.subscriber_id: r.edition for r in rows}


def stories_of(mails: list[Mail], address: str) -> set[str]:
    """What `address` was sent in `mails`: at most one message."""
    theirs = [m for m in mails if m.to == address]
    assert len(theirs) <= 1, [m.subject for m in theirs]
    return theirs[0].stories if theirs else set()
