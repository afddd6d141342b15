"""Digest delivery throughput: render + queue + send N recipients to Postfix's smtp-sink.

    python bench/deliver.py [--recipients 100000] [--quick] [--json]
                            [--stores sqlite,postgresql] [--combos 1x1,1x2,1x4,4x2,4x1,4x4]

Why: a digest to a big list is the one job whose cost grows with the list. This
says how long 100,000 recipients take, what adding SMTP connections or worker
processes buys on each store, what one message costs in CPU, and whether a
worker's memory stays flat as the list grows.

What, per run, all through the real CLI in subprocesses: a fresh site (7 posts,
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
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import signal
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
VENV_BIN = ROOT / ".venv" / "bin"
POSTROOM = str(VENV_BIN / "postroom")
SMTP_SINK = "/usr/sbin/smtp-sink"
SECRET = "deliver-bench-secret-0123456789abcdef"  # 32+ characters; signs test links only
TZ = ZoneInfo("Europe/London")
POLL_SECONDS = 0.5
WAITING = "('pending', 'sending', 'deferred')"
FULL_COMBOS = "1x1,1x2,1x4,4x2,4x1,4x4"
QUICK_COMBOS = "1x1,1x4,4x2"


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
    error: str = ""

    @property
    def rate(self) -> float:
        return self.sent / self.deliver_s if self.deliver_s else 0.0

    @property
    def cpu_ms_per_msg(self) -> float:
        return 1000 * self.worker_cpu_s / self.sent if self.sent else 0.0


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


def make_site(root: Path, spec: Spec, port: int) -> Path:
    content = root / "content"
    content.mkdir(parents=True)
    today = datetime.now(TZ).date()
    for n in range(1, 8):
        day = today - timedelta(days=n)
        body = f"Body paragraph of post {n}: a few sentences worth reading, with a source. " * 3
        text_ = f"---\ntitle: Post {n}\ndate: {day.isoformat()}\n---\n{body}\n"
        (content / f"post-{n}.md").write_text(text_, encoding="utf-8")
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
    else:
        result.deliver_s = polled


def check_sink(result: Result, sink: Sink) -> None:
    result.sink_messages = sink.messages()
    n = result.spec.recipients
    counted = sink.recipients()
    if counted is not None:
        expected = {f"reader{i:06d}@example.org" for i in range(1, n + 1)}
        result.duplicates = sum(c - 1 for c in counted.values())
        result.missing = len(expected - counted.keys())
    elif result.sink_messages is not None:
        result.duplicates = max(0, result.sink_messages - n)
        result.missing = max(0, n - result.sink_messages)


def one_run(spec: Spec, index: int, scratch: Path, pg: Postgres | None, dump: bool) -> Result:
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
        engine = ledger_engine(env.get("POSTROOM_DATABASE_URL") or f"sqlite:///{site}/postroom.db")
        db_before = pg.children_cpu_s() if pg else 0.0
        deliver(result, site, env, engine, sink, offset)
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
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"machine: nproc {os.cpu_count()}, loadavg {load}, python {sys.version.split()[0]}"


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
    p.add_argument("--recipients", type=int, default=100_000)
    p.add_argument("--small", type=int, help="the memory check's smaller list (N/10)")
    p.add_argument("--quick", action="store_true", help="5,000 recipients, fewer combos, dumps")
    p.add_argument("--stores", default="sqlite,postgresql")
    p.add_argument("--combos", help=f"WORKERSxCONNECTIONS,... (default {FULL_COMBOS})")
    p.add_argument("--json", action="store_true", help="the results as JSON too")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = p.parse_args()
    if args.quick:
        args.recipients = 5_000 if args.recipients == 100_000 else args.recipients
    args.combos = args.combos or (QUICK_COMBOS if args.quick else FULL_COMBOS)
    args.small = args.small or max(1, args.recipients // 10)
    return args


def main() -> int:
    args = arguments()
    if not os.access(SMTP_SINK, os.X_OK):
        log(f"{SMTP_SINK} is missing: it comes with Postfix (apt-get install postfix)")
        return 2
    stores = [s.strip() for s in args.stores.split(",")]
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
                results.append(one_run(spec, i, scratch, server, dump=args.quick))
                log("  " + " | ".join(row(results[-1])))
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    own = resource.getrusage(resource.RUSAGE_SELF)
    print(table(results))
    print(machine())
    print(
        f"total {time.monotonic() - began:.0f} s; the bench's own CPU (polling, setup)"
        f" {own.ru_utime + own.ru_stime:.1f} s"
    )
    if args.json:
        print(json.dumps([{**asdict(r), "rate": r.rate} for r in results], indent=2))
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
