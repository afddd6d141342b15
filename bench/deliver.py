"""Digest delivery throughput: render + queue + send N recipients to Postfix's smtp-sink.

    python bench/deliver.py [--recipients 100000] [--quick] [--json]
                            [--stores sqlite,postgresql] [--combos 1x1,1x2,1x4,4x2,4x1,4x4]
    python bench/deliver.py --peer [--recipients 20000] [--stores sqlite] [--json]

Why: a digest to a big list is the one job whose cost grows with the list. This
says how long 100,000 recipients take, what adding SMTP connections or worker
processes buys on each store, what one message costs in CPU, and whether a
worker's memory stays flat as the list grows.

What, per run, all through the real CLI in subprocesses: a fresh site (20 posts of
600-1,100 words, a 34.6 KB digest,
transport smtp to a local `smtp-sink`, `[mail] connections = C`) on SQLite or on
a fresh database of a throwaway PostgreSQL server (fsync on: the defaults);
`subscribers import`; `run --once` (records the slot before the site began);
then, with POSTROOM_CLOCK_OFFSET past the next slot, `run --once --no-send`
(render + queue: the issue rendered once, one outbox row per subscriber, public/
written, the issue released); then W `postroom worker` processes until the
ledger has nothing left to send, then SIGTERM.
  deliver s   from the workers' spawn to the last row marked sent (its updated_at)
  cpu ms/msg  user+sys of the worker processes (os.wait4 rusage of each, the same
              numbers RUSAGE_CHILDREN accrues) / messages sent
  rss MB      the largest ru_maxrss among the worker processes
  db cpu s    PostgreSQL only: CPU of the server's backends reaped meanwhile (the
              postmaster's cutime+cstime delta), i.e. the database's share
  sink        messages smtp-sink counted (-c); "dup"/"miss" compare it (and, in
              --quick, its dump's recipients) with the recipients
The 2-core machine runs postroom, the database and the sink together: a
process-count scaling result is bounded by that. Prints numbers, asserts nothing.

--peer: one store, 1 worker x 1 connection, and in the same run, right before and
right after it, a bare smtplib loop to the same sink (one connection, the message
postroom renders for its first reader, a To of each recipient's own, `sendmail` per
recipient): how near the wire speed one worker sends. postroom's rate counts from its
"N messages to send" log line (`ratio_from_spawn` counts its start-up too). With
--json, a top-level object whose "peer" key `make bench-scale` reads.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import resource
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.debian import Missing, ensure  # noqa: E402

VENV_BIN = ROOT / ".venv" / "bin"
POSTROOM = str(VENV_BIN / "postroom")
SMTP_SINK = "/usr/sbin/smtp-sink"
SECRET = "deliver-bench-secret-0123456789abcdef"  # 32+ characters; signs test links only
TZ = ZoneInfo("Europe/London")
POLL_SECONDS = 0.5
WAITING = "('pending', 'sending', 'deferred')"
FULL_COMBOS = "1x1,1x2,1x4,4x2,4x1,4x4"
QUICK_COMBOS = "1x1,1x4,4x2"
POSTS = 20


@dataclass(frozen=True)
class Spec:
    recipients: int
    store: str  # sqlite | postgresql
    workers: int
    connections: int


@dataclass
class Result:
    spec: Spec
    import_s: float = 0.0
    make_s: float = 0.0  # run --once --no-send: render + queue + public/ + release
    deliver_s: float = 0.0
    sent: int = 0
    states: dict[str, int] = field(default_factory=dict)
    worker_cpu_s: float = 0.0
    worker_rss_mb: float = 0.0
    worker_exits: list[int] = field(default_factory=list)
    db_cpu_s: float | None = None
    sink_cpu_s: float = 0.0
    sink_messages: int | None = None
    duplicates: int | None = None  # exact in --quick (dump), else a lower bound
    missing: int | None = None
    resent_rows: int = 0  # ledger rows with attempts > 1
    sending_s: float = 0.0  # from the worker's "N messages to send" line to the last sent
    peer: Peer | None = None  # --peer: the bare smtplib loop, before and after
    error: str = ""

    @property
    def rate(self) -> float:
        return self.sent / self.deliver_s if self.deliver_s else 0.0

    @property
    def sending_rate(self) -> float:
        """Messages a second once the worker is up (its start-up, imports and first
        queries, left out: a fixed cost, not a per-message one)."""
        return self.sent / self.sending_s if self.sending_s else 0.0

    @property
    def cpu_ms_per_msg(self) -> float:
        return 1000 * self.worker_cpu_s / self.sent if self.sent else 0.0


@dataclass
class Peer:
    """The bare smtplib loop (one connection, `sendmail` per recipient, the same bytes
    with a To header of each one's own), timed right before and right after postroom."""

    recipients: int
    message_bytes: int
    before_s: float = 0.0
    after_s: float = 0.0

    @property
    def rate(self) -> float:
        total = self.before_s + self.after_s
        return 2 * self.recipients / total if total else 0.0


@dataclass
class Reaped:
    code: int
    cpu_s: float
    rss_mb: float


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reap(proc: subprocess.Popen, timeout: float | None = None) -> Reaped:
    """Wait for one child with wait4, for its own rusage (CPU and peak RSS)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG if deadline else 0)
        if pid:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"pid {proc.pid} still running after {timeout} s")
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Reaped(proc.returncode, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def run_cli(site: Path, env: dict[str, str], *args: str) -> tuple[float, Reaped, str]:
    """One postroom command to its end: wall seconds, its rusage, its output."""
    with tempfile.TemporaryFile(mode="w+") as out:
        started = time.monotonic()
        cmd = [POSTROOM, "--site", str(site), *args]
        reaped = reap(subprocess.Popen(cmd, env=env, stdout=out, stderr=out))
        elapsed = time.monotonic() - started
        out.seek(0)
        text_out = out.read()
    if reaped.code != 0:
        raise RuntimeError(f"postroom {' '.join(args)} exited {reaped.code}:\n{text_out}")
    return elapsed, reaped, text_out


# --- the site ---------------------------------------------------------------------------


_VOCABULARY = (
    "practice supervision council report social care workers families court review"
    " evidence children staff budget policy guidance inspection training local team"
    " service manager findings week research caseload support housing health parents"
    " assessment safeguarding funding minister survey response recommendations change"
    " the a of and to in that for on with as was were is are by from this which their"
)
_WORDS = _VOCABULARY.split()


def post_body(n: int) -> str:
    """A real-length post (600-1,100 words in paragraphs, a link, a quote), the same
    for the same n: what a curator's long read looks like, not three lines."""
    rng = random.Random(n)
    paragraphs = []
    for p in range(rng.randint(7, 12)):
        sentences = []
        for _ in range(rng.randint(4, 7)):
            words = [rng.choice(_WORDS) for _ in range(rng.randint(9, 22))]
            sentences.append(" ".join(words).capitalize() + ".")
        text_ = " ".join(sentences)
        if p == 2:
            text_ += f" See [the full report](https://example.org/reports/{n}-{p})."
        if p == 4:
            text_ = "> " + text_
        paragraphs.append(text_)
    return "\n\n".join(paragraphs)


def make_site(root: Path, spec: Spec, port: int) -> Path:
    content = root / "content"
    content.mkdir(parents=True)
    today = datetime.now(TZ).date()
    for n in range(1, POSTS + 1):
        day = today - timedelta(days=1 + n % 6)
        text_ = f"---\ntitle: Post {n} on the week in practice\ndate: {day.isoformat()}\n---\n"
        (content / f"post-{n}.md").write_text(text_ + post_body(n) + "\n", encoding="utf-8")
    (root / "postroom.toml").write_text(
        "[site]\n"
        'base_url = "https://notes.example.org/"\n'
        'timezone = "Europe/London"\n'
        "[mail]\n"
        'transport = "smtp"\n'
        'host = "127.0.0.1"\n'
        f"port = {port}\n"
        'security = "none"\n'
        f"connections = {spec.connections}\n"
        'from_address = "digest@notes.example.org"\n',
        encoding="utf-8",
    )
    csv = root / "list.csv"
    csv.write_text("".join(f"reader{i:06d}@example.org\n" for i in range(1, spec.recipients + 1)))
    return csv


def offset_past_next_slot() -> int:
    """Seconds from now to one hour after the next Monday 07:00 London (the default slot)."""
    now = datetime.now(TZ)
    slot = now.replace(hour=7, minute=0, second=0, microsecond=0)
    while slot <= now or slot.weekday() != 0:
        slot = (slot + timedelta(days=1)).replace(hour=7)  # wall time across DST changes
    return int((slot + timedelta(hours=1) - now).total_seconds()) + 1


# --- smtp-sink ----------------------------------------------------------------------------


class Sink:
    """smtp-sink on 127.0.0.1: counts (-c) always, dumps every message (-D) if asked."""

    def __init__(self, folder: Path, dump: bool) -> None:
        self.port = free_port()
        self.counts = folder / "sink.counts"
        self.dump = folder / "sink-dump" / "all" if dump else None
        ensure(SMTP_SINK, "postfix")  # `main` made sure of it; a caller of Sink alone too
        as_root = os.geteuid() == 0  # smtp-sink must then be told a user to become
        args = [SMTP_SINK, "-c", *(["-u", "nobody"] if as_root else [])]
        if self.dump is not None:
            self.dump.parent.mkdir()
            if as_root:
                shutil.chown(self.dump.parent, "nobody")
            args += ["-D", str(self.dump)]
        args += [f"127.0.0.1:{self.port}", "1024"]
        self.log = folder / "sink.err"
        self.stderr = self.log.open("w")
        with self.counts.open("w") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=self.stderr)
        self._wait_listening()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.05)
        raise RuntimeError("smtp-sink did not start listening")

    def stop(self) -> Reaped:
        self.proc.send_signal(signal.SIGTERM)
        reaped = reap(self.proc, timeout=30)
        self.stderr.close()
        return reaped

    def errors(self) -> str:
        return self.log.read_text(errors="replace").strip()

    def messages(self) -> int | None:
        records = self.counts.read_text().replace("\r", "\n").split()
        found = [int(r.split("=")[1]) for r in records if r.startswith("mesg=")]
        return found[-1] if found else None

    def recipients(self) -> Counter[str] | None:
        if self.dump is None or not self.dump.exists():
            return None
        pattern = re.compile(rb"^X-Rcpt-Args: <([^>]*)>", re.MULTILINE)
        return Counter(m.decode() for m in pattern.findall(self.dump.read_bytes()))


# --- PostgreSQL -----------------------------------------------------------------------------


class Postgres:
    """A throwaway server from tests/pg/server (127.0.0.1 only), but durable as shipped:
    fsync on, as a real list's database runs."""

    SERVER = str(ROOT / "tests" / "pg" / "server")

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="postroom-deliverbench-pg-"))
        env = {**os.environ, "POSTROOM_PG_FSYNC": "on"}
        started = subprocess.run(
            [self.SERVER, "start", str(self.dir)], env=env, check=True, capture_output=True
        )
        self.base = started.stdout.decode().strip()  # postgresql://postgres@127.0.0.1:PORT/
        self.admin = create_engine(
            self.url("postgres", "postgresql+psycopg"), isolation_level="AUTOCOMMIT"
        )

    def url(self, database: str, driver: str = "postgresql") -> str:
        return driver + self.base.removeprefix("postgresql") + database

    def create(self, name: str) -> str:
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        return self.url(name)

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def children_cpu_s(self) -> float:
        """CPU of the postmaster's reaped children (backends that have exited)."""
        pid = int((self.dir / "data" / "postmaster.pid").read_text().split()[0])
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")  # cutime, cstime

    def stop(self) -> None:
        self.admin.dispose()
        subprocess.run([self.SERVER, "stop", str(self.dir)], check=False)


# --- one run ----------------------------------------------------------------------------


def ledger_engine(store_url: str) -> Engine:
    if store_url.startswith("postgresql://"):
        store_url = store_url.replace("postgresql://", "postgresql+psycopg://", 1)
    return create_engine(store_url)


def waiting_left(engine: Engine) -> bool:
    with engine.connect() as conn:
        query = f"SELECT 1 FROM outbox WHERE state IN {WAITING} LIMIT 1"
        return conn.execute(text(query)).first() is not None


def ledger_summary(engine: Engine) -> tuple[dict[str, int], int, str | None]:
    """Rows per state, rows tried more than once, and the last sent row's updated_at."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT state, count(*) FROM outbox GROUP BY state")).all()
        resent = conn.execute(text("SELECT count(*) FROM outbox WHERE attempts > 1")).scalar()
        last = conn.execute(text("SELECT max(updated_at) FROM outbox WHERE state = 'sent'"))
        return {state: n for state, n in rows}, int(resent or 0), last.scalar()


def start_workers(site: Path, env: dict[str, str], count: int, logs: Path) -> list:
    procs = []
    for i in range(count):
        out = (logs / f"worker-{i}.log").open("w")
        args = [POSTROOM, "--site", str(site), "worker", "--log-format", "json"]
        procs.append(subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT))
        out.close()
    return procs


def exited(proc: subprocess.Popen) -> bool:
    """Whether a child has ended, leaving it unreaped (reap() wants its rusage later)."""
    return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def wait_drained(engine: Engine, procs: list, sink: Sink, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    next_note = time.monotonic() + 30
    time.sleep(POLL_SECONDS)
    while waiting_left(engine):
        if all(exited(p) for p in procs):
            raise RuntimeError("every worker exited with rows still to send")
        if exited(sink.proc):
            raise RuntimeError(f"smtp-sink exited: {sink.errors()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"rows still to send after {timeout:.0f} s")
        if time.monotonic() >= next_note:
            next_note += 30
            log(f"  ... {ledger_summary(engine)[0]}")
        time.sleep(POLL_SECONDS)


def stop_workers(procs: list) -> list[Reaped]:
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            p.send_signal(signal.SIGTERM)
    return [reap(p, timeout=60) for p in procs]


def deliver(
    result: Result, site: Path, env: dict[str, str], engine: Engine, sink: Sink, offset: int
) -> None:
    spec = result.spec
    started = time.time()
    procs = start_workers(site, env, spec.workers, site)
    try:
        wait_drained(engine, procs, sink, timeout=max(900.0, spec.recipients / 10))
        polled = time.time() - started
    finally:
        reaped = stop_workers(procs)
    result.worker_exits = [r.code for r in reaped]
    result.worker_cpu_s = sum(r.cpu_s for r in reaped)
    result.worker_rss_mb = max(r.rss_mb for r in reaped)
    result.states, result.resent_rows, last = ledger_summary(engine)
    result.sent = result.states.get("sent", 0)
    if last:  # the ledger's own clock, less the offset: when the last row was settled
        finished = datetime.fromisoformat(last).timestamp() - offset
        result.deliver_s = finished - started
        if (began := sending_began(site)) is not None:
            result.sending_s = finished - began
    else:
        result.deliver_s = polled


def sending_began(logs: Path) -> float | None:
    """When the first worker logged "issue N: M messages to send" (its JSON log's ts)."""
    stamps = []
    for path in logs.glob("worker-*.log"):
        for line in path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict) and "messages to send" in str(record.get("message")):
                    stamps.append(datetime.fromisoformat(record["ts"]).timestamp())
                    break
    return min(stamps) if stamps else None


def check_sink(result: Result, sink: Sink) -> None:
    """What the sink got from postroom (the peer's messages, if any, taken out)."""
    result.sink_messages = sink.messages()
    peer = result.peer
    if peer is not None and result.sink_messages is not None:
        done = (peer.before_s > 0) + (peer.after_s > 0)
        result.sink_messages = max(0, result.sink_messages - done * peer.recipients)
    n = result.spec.recipients
    counted = sink.recipients()
    if counted is not None:
        counted = Counter({a: c for a, c in counted.items() if a.startswith("reader")})
        expected = {f"reader{i:06d}@example.org" for i in range(1, n + 1)}
        result.duplicates = sum(c - 1 for c in counted.values())
        result.missing = len(expected - counted.keys())
    elif result.sink_messages is not None:
        result.duplicates = max(0, result.sink_messages - n)
        result.missing = max(0, n - result.sink_messages)


def one_run(
    spec: Spec, index: int, scratch: Path, pg: Postgres | None, dump: bool, peer: bool = False
) -> Result:
    result = Result(spec)
    folder = scratch / f"run-{index:02d}"
    site = folder / "site"
    folder.mkdir()
    sink = Sink(folder, dump)
    database = f"deliver_{index:02d}"
    env = {**os.environ, "POSTROOM_SECRET": SECRET}
    env.pop("POSTROOM_CLOCK_OFFSET", None)
    if pg is not None:
        env["POSTROOM_DATABASE_URL"] = pg.create(database)
    else:
        env.pop("POSTROOM_DATABASE_URL", None)
    engine = None
    try:
        csv = make_site(site, spec, sink.port)
        result.import_s, _, _ = run_cli(site, env, "subscribers", "import", str(csv))
        run_cli(site, env, "run", "--once")
        offset = offset_past_next_slot()
        env["POSTROOM_CLOCK_OFFSET"] = str(offset)
        result.make_s, _, made = run_cli(site, env, "run", "--once", "--no-send")
        if "issue 1 made" not in made:
            raise RuntimeError(f"no issue made:\n{made}")
        store_url = env.get("POSTROOM_DATABASE_URL") or f"sqlite:///{site}/postroom.db"
        engine = ledger_engine(store_url)
        if peer:
            sender, data = rendered_message(site, store_url)
            result.peer = Peer(spec.recipients, len(data))
            log(f"  peer: {len(data) / 1024:.1f} KB a message, bare smtplib loop before")
            result.peer.before_s = bare_loop(sink.port, sender, data, spec.recipients)
        db_before = pg.children_cpu_s() if pg else 0.0
        deliver(result, site, env, engine, sink, offset)
        if result.peer is not None:
            log("  peer: bare smtplib loop after")
            result.peer.after_s = bare_loop(sink.port, sender, data, spec.recipients)
        engine.dispose()  # its backend is reaped too before the server's CPU is read
        if pg is not None:
            time.sleep(0.2)
            result.db_cpu_s = pg.children_cpu_s() - db_before
    except Exception as exc:  # reported in the table; the other runs go on
        result.error = f"{type(exc).__name__}: {exc}"
        log(f"  run failed: {result.error}")
    finally:
        if engine is not None:
            engine.dispose()
        result.sink_cpu_s = sink.stop().cpu_s
        check_sink(result, sink)
        if pg is not None:
            pg.drop(database)
    return result


# --- the peer: a bare smtplib loop --------------------------------------------------------


def peer_address(i: int) -> str:
    return f"peer{i:06d}@example.org"  # told apart from postroom's readers in the sink


def rendered_message(site: Path, store_url: str) -> tuple[str, bytes]:
    """(sender, message) as postroom's worker sends it to the first reader, its To
    header taken out: the bytes the bare loop sends everyone, with a To of their own."""
    from postroom.core.config import open_site
    from postroom.emails.message import IssueMessage, Recipient, dkim_signer
    from postroom.store import Store
    from postroom.store.digests import issue_by_number

    here = open_site(site)
    store = Store(store_url)
    try:
        issue = issue_by_number(store, 1)
        if issue is None:
            raise RuntimeError("no issue 1 to render for the peer")
        message = IssueMessage(here, issue, SECRET.encode(), dkim_signer(here))
        envelope = message.for_recipient(Recipient(1, "reader000001@example.org"))
    finally:
        store.engine.dispose()
    to_header = re.compile(rb"^To: [^\r]*\r\n(?:[ \t][^\r]*\r\n)*", re.MULTILINE)
    data, found = to_header.subn(b"", envelope.data, count=1)
    if found != 1:
        raise RuntimeError("the rendered message has no To header")
    return envelope.sender, data


def bare_loop(port: int, sender: str, data: bytes, recipients: int) -> float:
    """Seconds for one smtplib connection to send `data` to `recipients` peer addresses,
    `sendmail` per recipient (what a hand-written sender does): the wire speed of this
    machine and this sink, for postroom's rate to be read against."""
    started = time.perf_counter()
    smtp = smtplib.SMTP("127.0.0.1", port, timeout=60)
    for i in range(1, recipients + 1):
        address = peer_address(i)
        refused = smtp.sendmail(sender, [address], b"To: <" + address.encode() + b">\r\n" + data)
        if refused:
            raise RuntimeError(f"the sink refused {refused}")
    smtp.quit()
    return time.perf_counter() - started


# --- the matrix and the table -----------------------------------------------------------------


def parse_combos(value: str) -> list[tuple[int, int]]:
    combos = []
    for item in value.split(","):
        workers, _, connections = item.strip().partition("x")
        combos.append((int(workers), int(connections)))
    return combos


def plan(recipients: int, small: int, stores: list[str], combos: list[tuple[int, int]]) -> list:
    runs = [Spec(small, "sqlite", 1, 1)]  # memory flat in N: against the same combo at N
    for store in stores:
        runs += [Spec(recipients, store, w, c) for w, c in combos]
    return runs


HEADER = (
    ("recipients", 10),
    ("store", 10),
    ("workers", 7),
    ("conns", 5),
    ("make s", 7),
    ("deliver s", 9),
    ("msg/s", 7),
    ("cpu ms/msg", 10),
    ("rss MB", 7),
    ("db cpu s", 8),
    ("sink cpu s", 10),
    ("sink msgs", 9),
    ("dup", 4),
    ("miss", 5),
    ("note", 0),
)


def row(r: Result) -> list[str]:
    s = r.spec
    note = r.error or ""
    if not note and (set(r.states) - {"sent"} or any(r.worker_exits)):
        others = {k: v for k, v in r.states.items() if k != "sent"}
        note = f"states {others} exits {r.worker_exits}"
    if not note and r.resent_rows:
        note = f"{r.resent_rows} rows tried twice"
    db = f"{r.db_cpu_s:.1f}" if r.db_cpu_s is not None else "-"
    return [
        f"{s.recipients:,}",
        s.store,
        str(s.workers),
        str(s.connections),
        f"{r.make_s:.1f}",
        f"{r.deliver_s:.1f}",
        f"{r.rate:.0f}",
        f"{r.cpu_ms_per_msg:.2f}",
        f"{r.worker_rss_mb:.0f}",
        db,
        f"{r.sink_cpu_s:.1f}",
        "-" if r.sink_messages is None else f"{r.sink_messages:,}",
        "-" if r.duplicates is None else str(r.duplicates),
        "-" if r.missing is None else str(r.missing),
        note,
    ]


def table(results: list[Result]) -> str:
    lines = ["  ".join(name.rjust(width) for name, width in HEADER).rstrip()]
    for r in results:
        cells = row(r)
        lines.append("  ".join(c.rjust(w) for c, (_, w) in zip(cells, HEADER, strict=True)))
    return "\n".join(lines)


def machine() -> str:
    return f"machine: nproc {os.cpu_count()}, loadavg {load()}, python {sys.version.split()[0]}"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def peer_json(r: Result) -> dict:
    """The `peer` object `make bench-scale` reads: postroom's one worker (one connection)
    against the bare smtplib loop, the same message to the same sink in the same run.
    postroom's rate counts from its "messages to send" line (start-up left out; with it,
    `ratio_from_spawn`); the bare loop's is the mean of its runs before and after."""
    bare = r.peer.rate if r.peer else 0.0
    return {
        "store": r.spec.store,
        "postroom_msgs_per_s": round(r.sending_rate, 1),
        "bare_msgs_per_s": round(bare, 1),
        "ratio": round(r.sending_rate / bare, 3) if bare else None,
        "postroom_msgs_per_s_from_spawn": round(r.rate, 1),
        "ratio_from_spawn": round(r.rate / bare, 3) if bare else None,
        "bare_before_msgs_per_s": round(r.peer.recipients / r.peer.before_s, 1)
        if r.peer and r.peer.before_s
        else None,
        "bare_after_msgs_per_s": round(r.peer.recipients / r.peer.after_s, 1)
        if r.peer and r.peer.after_s
        else None,
        "postroom_cpu_ms_per_msg": round(r.cpu_ms_per_msg, 3),
        "recipients": r.spec.recipients,
        "message_kb": round(r.peer.message_bytes / 1024, 1) if r.peer else None,
        "sent": r.sent,
        "duplicates": r.duplicates,
        "missing": r.missing,
        "error": r.error,
        "load": load(),
    }


def peer_line(r: Result) -> str:
    p = peer_json(r)
    return (
        f"peer ({p['store']}, {p['recipients']:,} recipients, {p['message_kb']} KB):"
        f" postroom 1 worker x 1 connection {p['postroom_msgs_per_s']} msg/s"
        f" ({p['postroom_msgs_per_s_from_spawn']} from spawn), bare smtplib loop"
        f" {p['bare_msgs_per_s']} msg/s (before {p['bare_before_msgs_per_s']},"
        f" after {p['bare_after_msgs_per_s']}); ratio {p['ratio']}"
        f" ({p['ratio_from_spawn']} from spawn); load {p['load']}"
    )


@contextlib.contextmanager
def postgres_if(needed: bool) -> Iterator[Postgres | None]:
    pg = Postgres() if needed else None
    try:
        yield pg
    finally:
        if pg is not None:
            pg.stop()


def arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipients", type=int, help="default 100,000 (--quick 5,000, --peer 20,000)")
    p.add_argument("--small", type=int, help="the memory check's smaller list (N/10)")
    p.add_argument("--quick", action="store_true", help="5,000 recipients, fewer combos, dumps")
    p.add_argument("--stores", help="default sqlite,postgresql (--peer: sqlite)")
    p.add_argument("--combos", help=f"WORKERSxCONNECTIONS,... (default {FULL_COMBOS})")
    p.add_argument("--json", action="store_true", help="the results as JSON too")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    p.add_argument(
        "--peer",
        action="store_true",
        help="only one worker, one connection, against a bare smtplib loop in the same run",
    )
    args = p.parse_args()
    default = 20_000 if args.peer else 5_000 if args.quick else 100_000
    args.recipients = args.recipients or default
    args.stores = args.stores or ("sqlite" if args.peer else "sqlite,postgresql")
    args.combos = args.combos or (QUICK_COMBOS if args.quick else FULL_COMBOS)
    args.small = args.small or max(1, args.recipients // 10)
    return args


def main() -> int:
    args = arguments()
    try:  # Postfix's smtp-sink, installed on first use as root (a new machine lacks it)
        ensure(SMTP_SINK, "postfix")
    except Missing as gone:
        log(str(gone))
        return 2
    stores = [s.strip() for s in args.stores.split(",")]
    if args.peer:
        runs = [Spec(args.recipients, store, 1, 1) for store in stores]
    else:
        runs = plan(args.recipients, args.small, stores, parse_combos(args.combos))
    scratch = Path(tempfile.mkdtemp(prefix="postroom-deliverbench-"))
    scratch.chmod(0o755)  # smtp-sink writes its dump as "nobody"
    log(f"{len(runs)} runs in {scratch}; {machine()}")
    results: list[Result] = []
    began = time.monotonic()
    try:
        with postgres_if("postgresql" in stores) as pg:
            for i, spec in enumerate(runs):
                log(f"run {i + 1}/{len(runs)}: {spec}")
                server = pg if spec.store == "postgresql" else None
                results.append(one_run(spec, i, scratch, server, args.quick, args.peer))
                log("  " + " | ".join(row(results[-1])))
                if args.peer:
                    log("  " + peer_line(results[-1]))
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    own = resource.getrusage(resource.RUSAGE_SELF)
    print(table(results))
    for r in results:
        if args.peer:
            print(peer_line(r))
    print(machine())
    print(
        f"total {time.monotonic() - began:.0f} s; the bench's own CPU (polling, setup)"
        f" {own.ru_utime + own.ru_stime:.1f} s"
    )
    runs_json = [{**asdict(r), "rate": r.rate, "sending_rate": r.sending_rate} for r in results]
    if args.json and args.peer:
        by_store = {r.spec.store: peer_json(r) for r in results}
        first = by_store.get("sqlite") or next(iter(by_store.values()))
        print(json.dumps({"peer": first, "peer_by_store": by_store, "runs": runs_json}, indent=2))
    elif args.json:
        print(json.dumps(runs_json, indent=2))
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
