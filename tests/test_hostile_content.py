"""A hostile world at the front door: files no scan may choke on, as real processes see them.

Every case here was a defect seen on a real run (issue 13): a YAML alias bomb that
took 8 GB, a symlink that published /etc/passwd, one bad date or FIFO that stopped
every scan, an unreadable folder that withdrew its posts, two scans at once, Ctrl-C
that was ignored. The site in tests/hostile_site.py holds them all beside good posts.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import feedparser
import hostile_site
import pytest
from lxml import etree
from postroom.content.intake import scan
from postroom.store import Store
from postroom.store.leases import exclusive
from service_support import (
    Service,
    postroom,
    postroom_env,
    stop_while_workers_run,
)
from support import STOPS, make_site, write

SITE = '[site]\nbase_url = "https://notes.example.org/"\n[feed]\nwindow = 500\n'
STORE_FILES = ("postroom.db", "postroom.db-wal", "postroom.db-shm", "postroom.db-scan.lock")


# Permissions bite a service user, not root: the tests run as root (CI does), so the
# commands run without the capabilities that let root ignore file modes. Still uid 0, so
# the checkout and its venv stay reachable wherever CI puts them (a `nobody` could not
# enter a 0700 temp folder holding the clone).
UNPRIVILEGED = ("setpriv", "--bounding-set=-dac_override,-dac_read_search")


def measured(*command: str, unprivileged: bool = False, timeout: float = 120) -> tuple:
    """Run a command (`unprivileged`: see UNPRIVILEGED) and return (completed process, seconds, peak
    RSS in MB of the largest process among it and the descendants reaped under it, the
    scan's worker processes included), measured by a wrapper process of its own so other
    tests' children do not count."""
    if unprivileged:
        command = (*UNPRIVILEGED, *command)
    wrapper = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.monotonic()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps([p.returncode, p.stdout, p.stderr, time.monotonic() - t, peak]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", wrapper, *command],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=postroom_env(),
    )
    code, out, err, seconds, peak = json.loads(done.stdout)
    return subprocess.CompletedProcess(command, code, out, err), seconds, peak


def cli(site: Path, *args: str) -> tuple[str, ...]:
    return (sys.executable, "-m", "postroom.scheduler", "--site", str(site), *args)


def snapshot(root: Path, skip: tuple[str, ...]) -> dict[str, int]:
    """Every path under `root` outside the `skip` folders, with its mtime."""
    seen = {}
    for folder, dirs, names in os.walk(root):
        rel = os.path.relpath(folder, root)
        dirs[:] = [d for d in dirs if os.path.normpath(os.path.join(rel, d)) not in skip]
        for name in names:
            path = os.path.join(folder, name)
            seen[os.path.relpath(path, root)] = os.lstat(path).st_mtime_ns
    return seen


def reported(problems: list[dict], name: str) -> list[str]:
    return [p["reason"] for p in problems if p["file"].rstrip("/") == name]


def assert_feeds_valid(public: Path) -> dict:
    for name in ("atom.xml", "rss.xml"):
        data = (public / name).read_bytes()
        etree.fromstring(data)  # lxml: well-formed XML
        parsed = feedparser.parse(data)
        assert not parsed.bozo, (name, parsed.get("bozo_exception"))
    return json.loads((public / "feed.json").read_text(encoding="utf-8"))


def assert_nothing_leaked(site: Path) -> None:
    for path in [*Path(site, "public").rglob("*"), *Path(site).glob("postroom.db*")]:
        if path.is_file():
            assert hostile_site.SECRET.encode() not in path.read_bytes(), path


def test_a_hostile_site_is_published_around_its_bad_files(tmp_path):
    """check, run --once and the service over every hostile entry at once: no traceback,
    every bad entry reported by name with its reason, every good post published, valid
    feeds, nothing read from outside content/, nothing written outside public/ and
    outbox/, in bounded time and memory."""
    root = make_site(tmp_path / "site", config=SITE).root
    site = hostile_site.build(root, bulk=200)  # read by worker processes, as a cold start is
    try:
        before = snapshot(root, ("public", "outbox"))
        checked, seconds, peak = measured(*cli(root, "check", "--json"))
        assert "Traceback" not in checked.stderr, checked.stderr
        assert checked.returncode == 1 and checked.stdout, checked.stderr  # errors, and said
        out = json.loads(checked.stdout)
        for name, why in site.bad.items():
            reasons = reported(out["problems"], name)
            assert any(why.lower() in r.lower() for r in reasons), (name, why, reasons)
        titles = {p["title"] for p in out["posts"]}
        assert set(site.good.values()) <= titles, set(site.good.values()) - titles
        assert len(out["posts"]) == len(site.good), titles - set(site.good.values())

        ran, run_seconds, run_peak = measured(*cli(root, "run", "--once", "--no-send"))
        assert ran.returncode == 0 and "Traceback" not in ran.stderr, ran.stderr
        items = assert_feeds_valid(root / "public")["items"]
        assert {i["title"] for i in items} == set(site.good.values())
        assert_nothing_leaked(root)
        after = snapshot(root, ("public", "outbox"))
        written = {p for p in after if after[p] != before.get(p)} - set(STORE_FILES)
        assert not written, f"written outside public/ and outbox/: {sorted(written)}"
        print(
            f"\nhostile site: {len(site.bad)} bad entries, {len(site.good)} good posts;"
            f" {len(out['problems'])} problems reported; check {seconds:.1f} s, {peak:.0f} MB;"
            f" run --once {run_seconds:.1f} s, {run_peak:.0f} MB; tracebacks: 0"
        )
        assert seconds + run_seconds < 60 and max(peak, run_peak) < 500

        with Service(root, "--no-send") as service:
            scanned = service.wait_for(lambda e: e["event"] == "scan" and "problems" in e)[0]
            code, _ = service.terminate()
        assert code == 0
        assert scanned["problems"] >= len(site.bad)
        err = service.process.stderr.read()
        assert "Traceback" not in err and not service.stray, (err, service.stray)
    finally:
        site.close()


# --- one defect each ---


@pytest.mark.once
def test_a_yaml_alias_bomb_is_refused_at_once_and_its_message_stays_short(tmp_path):
    root = make_site(tmp_path / "site", {"bomb.md": hostile_site.yaml_bomb()}).root
    write(root / "content/fine.md", hostile_site.markdown("Fine", "2024-01-01", "Body."))
    checked, seconds, peak = measured(*cli(root, "check", "--json"))
    out = json.loads(checked.stdout)
    (reason,) = reported(out["problems"], "bomb.md")
    assert "aliases" in reason and len(reason) <= 400
    assert [p["title"] for p in out["posts"]] == ["Fine"]
    assert seconds < 20 and peak < 300, (seconds, peak)


@pytest.mark.once
def test_a_link_out_of_the_content_folder_is_never_read(tmp_path):
    root = make_site(tmp_path / "site").root
    secret = tmp_path / "secret.txt"
    secret.write_text(f"{hostile_site.SECRET}\n\nA paragraph that would make a post of it.\n")
    os.symlink(secret, root / "content/passwd.txt")
    os.symlink("/etc/passwd", root / "content/etc.txt")
    write(root / "content/target.md", hostile_site.markdown("Linked", "2024-01-01", "Body."))
    os.mkdir(root / "content/links")
    os.symlink("../target.md", root / "content/links/inside.md")  # inside: followed
    ran = postroom(root, "run", "--once", "--no-send")
    assert ran.returncode == 0, ran.stderr
    checked = json.loads(postroom(root, "check", "--json").stdout)
    for name in ("passwd.txt", "etc.txt"):
        assert "outside the content folder" in " ".join(reported(checked["problems"], name))
    assert [p["title"] for p in checked["posts"]] == ["Linked"]  # one post, two files
    assert_nothing_leaked(root)
    assert b"root:x:0:0" not in (root / "public/feed.json").read_bytes()


@pytest.mark.once
@pytest.mark.parametrize(
    ("name", "text", "why"),
    [
        ("zero.md", hostile_site.markdown("Zero", "0000-01-01", "Body."), "year 0"),
        ("one.md", hostile_site.markdown("One", "0001-01-01", "Body."), "out of range"),
        ("offset.md", hostile_site.markdown("Off", "2020-01-01T00:00:00+25:00", "B."), "offset"),
        ("far.md", hostile_site.markdown("Far", "9999-12-31T23:00:00-05:00", "B."), "range"),
    ],
)
def test_a_bad_date_is_one_files_problem_not_the_scans(tmp_path, name, text, why):
    root = make_site(tmp_path / "site", {name: text}).root
    write(root / "content/fine.md", hostile_site.markdown("Fine", "2024-01-01", "Body."))
    for args in (("check", "--json"), ("run", "--once", "--no-send")):
        done = postroom(root, *args)
        assert "Traceback" not in done.stderr, done.stderr
    out = json.loads(postroom(root, "check", "--json").stdout)
    assert why in " ".join(reported(out["problems"], name))
    assert [p["title"] for p in out["posts"]] == ["Fine"]
    assert "Fine" in (root / "public/feed.json").read_text(encoding="utf-8")


@pytest.mark.once
def test_a_symlink_loop_is_reported_and_the_scan_goes_on(tmp_path):
    root = make_site(tmp_path / "site").root
    os.symlink("b.txt", root / "content/a.txt")
    os.symlink("a.txt", root / "content/b.txt")
    write(root / "content/fine.md", hostile_site.markdown("Fine", "2024-01-01", "Body."))
    done = postroom(root, "check", "--json")
    assert "Traceback" not in done.stderr, done.stderr
    out = json.loads(done.stdout)
    assert "loop" in " ".join(reported(out["problems"], "a.txt"))
    assert [p["title"] for p in out["posts"]] == ["Fine"]


@pytest.mark.once
def test_a_fifo_or_socket_is_reported_without_being_opened(tmp_path):
    import socket

    root = make_site(tmp_path / "site").root
    os.mkfifo(root / "content/pipe.txt")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "content/sock.md"))
    write(root / "content/fine.md", hostile_site.markdown("Fine", "2024-01-01", "Body."))
    try:
        done = postroom(root, "check", "--json")  # hung for ever before
    finally:
        sock.close()
    out = json.loads(done.stdout)
    assert "FIFO" in " ".join(reported(out["problems"], "pipe.txt"))
    assert "socket" in " ".join(reported(out["problems"], "sock.md"))
    assert [p["title"] for p in out["posts"]] == ["Fine"]


@pytest.mark.once
def test_a_file_over_the_size_limit_is_reported_and_skipped(tmp_path):
    config = '[site]\nbase_url = "https://notes.example.org/"\n[content]\nmax_file_kb = 64\n'
    root = make_site(tmp_path / "site", config=config).root
    write(root / "content/big.txt", "A big capture\n\n4 May 2024\n\n" + "word " * 20_000)
    write(root / "content/fine.md", hostile_site.markdown("Fine", "2024-01-01", "Body."))
    out = json.loads(postroom(root, "check", "--json").stdout)
    assert "over the limit of 64 KB (content.max_file_kb)" in " ".join(
        reported(out["problems"], "big.txt")
    )
    assert [p["title"] for p in out["posts"]] == ["Fine"]
    # a larger limit takes the file in, though the file itself did not change
    (root / "postroom.toml").write_text(config.replace("= 64", "= 512"))
    out = json.loads(postroom(root, "check", "--json").stdout)
    assert {p["title"] for p in out["posts"]} == {"Fine", "A big capture"}
    assert "limit" not in " ".join(reported(out["problems"], "big.txt"))


@pytest.mark.once
def test_utf16_bidi_and_a_table_of_tags(tmp_path):
    root = make_site(tmp_path / "site").root
    text = hostile_site.markdown("Sixteen", "2024-01-02", "Saved by Notepad.")
    write(root / "content/sixteen.md", text.encode("utf-16"))
    write(root / "content/rtl.md", hostile_site.markdown('"Pay \u202egpj.exe"', "2024-01-03", "B."))
    write(root / "content/tags.txt", "Tagged\n\n4 May 2024\n\nA paragraph of a tagged post.\n")
    write(root / "content/tags.meta.toml", "tags = [{a = 1}]\n")
    ran = postroom(root, "run", "--once", "--no-send")
    assert ran.returncode == 0, ran.stderr
    out = json.loads(postroom(root, "check", "--json").stdout)
    assert {p["title"] for p in out["posts"]} == {"Sixteen", "Pay gpj.exe"}
    assert "'tags'" in " ".join(reported(out["problems"], "tags.txt"))
    for name in ("atom.xml", "feed.json", "index.html"):
        assert "\u202e" not in (root / "public" / name).read_text(encoding="utf-8")


@pytest.mark.once
def test_names_that_cannot_be_shown_are_reported_escaped(tmp_path):
    root = make_site(tmp_path / "site").root
    write(root / "content/fine.md", hostile_site.markdown("Fine", "2024-01-01", "Body."))
    write(
        root / "content/forged\nerror   x: fake.md", hostile_site.markdown("F", "2024-01-01", "B.")
    )
    with open(os.path.join(os.fsencode(root / "content"), b"caf\xe9.md"), "wb") as handle:
        handle.write(hostile_site.markdown("Bytes", "2024-01-01", "Body.").encode())
    done = postroom(root, "check")
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stdout.splitlines()
    assert any("forged\\x0aerror   x: fake.md" in line for line in lines), lines
    assert any("caf\\xe9.md" in line and "UTF-8" in line for line in lines), lines
    assert not any(line.startswith("error   x: fake") for line in lines)


def test_scans_at_once_wait_for_each_other(tmp_path):
    """Two `run --once` and a `check` on a burst of new files: each used to crash with
    'UNIQUE constraint failed: files.path'. The test holds the scan lock until all three
    say they wait, then lets them race for it at the same instant."""
    site = make_site(tmp_path / "site")
    root = site.root
    for n in range(400):
        write(root / f"content/p{n:03d}.md", hostile_site.markdown(f"Post {n}", "2024-01-01", "B."))
    commands = [cli(root, "run", "--once", "--no-send")] * 2 + [cli(root, "check")]
    errors: list[list[str]] = [[] for _ in commands]  # each one's output
    waiting = threading.Semaphore(0)

    def read(process: subprocess.Popen, lines: list[str]) -> None:
        for line in process.stdout:  # stderr too: `check` says it there, `run` in its log
            lines.append(line)
            if "another scan of this site is running" in line:
                waiting.release()

    store = Store(site.store_url)
    try:
        with exclusive(store, "scan", on_wait=lambda: None):
            running = [
                subprocess.Popen(
                    c,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    env=postroom_env(),
                )
                for c in commands
            ]
            readers = [
                threading.Thread(target=read, args=(p, lines), daemon=True)
                for p, lines in zip(running, errors, strict=True)
            ]
            for reader in readers:
                reader.start()
            for _ in commands:
                assert waiting.acquire(timeout=60), errors  # each one waits its turn
        for process, reader in zip(running, readers, strict=True):
            assert process.wait(120) == 0, errors
            reader.join(10)
    finally:
        store.close()
    assert not any("Traceback" in line for lines in errors for line in lines), errors
    out = json.loads(postroom(root, "check", "--json").stdout)
    assert len(out["posts"]) == 400


def test_an_undated_capture_keeps_its_id_when_the_database_is_rebuilt(tmp_path):
    """A rebuild from content/ a day later must not give an undated post a new id (its
    page URL and feed entry would change, and feed readers show it twice)."""
    site = make_site(
        tmp_path / "site",
        {"notes/undated.txt": "A thought with no date\n\nThe body of a post with no date in it.\n"},
    )
    ids = []
    for day in (1, 2):
        for path in site.root.glob("postroom.db*"):
            path.unlink()
        store = Store(site.store_url)
        try:
            from datetime import UTC, datetime

            scan(site, store, datetime(2026, 12, day, 9, tzinfo=UTC))
            ids.append([p.id for p in store.posts()])
        finally:
            store.close()
    assert ids[0] == ids[1] and len(ids[0]) == 1, ids


@pytest.mark.once
@pytest.mark.parametrize(("to", "signum", "code", "said"), STOPS)
def test_ctrl_c_stops_a_cold_run_at_once_and_leaves_no_process(tmp_path, to, signum, code, said):
    """A cold run parses on every core; Ctrl-C (SIGINT to the terminal's process group,
    or to the command alone) used to be ignored for 45 s and leave four processes."""
    root = make_site(tmp_path / "site").root
    body = "Words of a long enough post body. " * 30
    for n in range(4000):
        write(root / f"content/p{n:04d}.md", hostile_site.markdown(f"Post {n}", "2024-01-01", body))
    returncode, err = stop_while_workers_run(cli(root, "run", "--once", "--no-send"), to, signum)
    assert returncode == code, (returncode, err)
    assert said in err and "Traceback" not in err, err
    again = postroom(root, "status", "--json")  # what was committed is intact
    assert again.returncode == 0, again.stderr


# --- as an unprivileged user: permissions only bite when not root ---


def test_unreadable_files_and_folders_as_an_unprivileged_user(tmp_path):
    """A file the service user cannot read is reported; a folder it cannot list is
    reported and its posts stay published (they were withdrawn silently before)."""
    assert os.geteuid() == 0, "this test drops root's file-mode capabilities (setpriv)"
    root = make_site(tmp_path / "site").root
    write(root / "content/fine.md", hostile_site.markdown("Fine", "2024-01-01", "Body."))
    write(root / "content/shut/inside.md", hostile_site.markdown("Inside", "2024-01-02", "B."))
    first, _, _ = measured(*cli(root, "run", "--once", "--no-send"), unprivileged=True)
    assert first.returncode == 0, first.stderr
    # now the folder and a new file become unreadable to the service user
    write(root / "content/locked.md", hostile_site.markdown("Locked", "2024-01-03", "Body."))
    os.chmod(root / "content/locked.md", 0)
    os.chmod(root / "content/shut", 0)
    for args in (("run", "--once", "--no-send"), ("check", "--json")):
        done, _, _ = measured(*cli(root, *args), unprivileged=True)
        assert "Traceback" not in done.stderr and done.stdout, done.stderr
    out = json.loads(done.stdout)
    assert "Permission denied" in " ".join(reported(out["problems"], "locked.md"))
    assert "cannot be listed" in " ".join(reported(out["problems"], "shut"))
    assert {p["title"] for p in out["posts"]} == {"Fine", "Inside"}
    items = json.loads((root / "public/feed.json").read_text(encoding="utf-8"))["items"]
    assert {i["title"] for i in items} == {"Fine", "Inside"}
    # mended by chmod alone (size and mtime unchanged): read at the next scan
    os.chmod(root / "content/locked.md", 0o644)
    os.chmod(root / "content/shut", 0o755)
    done, _, _ = measured(*cli(root, "check", "--json"), unprivileged=True)
    out = json.loads(done.stdout)
    assert {p["title"] for p in out["posts"]} == {"Fine", "Inside", "Locked"}
    assert not [p for p in out["problems"] if p["severity"] == "error"], out["problems"]


@pytest.mark.once
def test_the_hostile_site_as_an_unprivileged_user(tmp_path):
    root = make_site(tmp_path / "site", config=SITE).root
    site = hostile_site.build(root, unprivileged=True, big_mb=6)
    try:
        checked, seconds, peak = measured(*cli(root, "check", "--json"), unprivileged=True)
        assert "Traceback" not in checked.stderr, checked.stderr
        out = json.loads(checked.stdout)
        for name, why in site.bad.items():
            reasons = reported(out["problems"], name)
            assert any(why.lower() in r.lower() for r in reasons), (name, why, reasons)
        assert {p["title"] for p in out["posts"]} == set(site.good.values())
        assert seconds < 60 and peak < 500, (seconds, peak)
    finally:
        site.close()


@pytest.mark.once
def test_resource_budget_is_measured_on_the_command_alone():
    """The measuring wrapper counts its own child, not the test process's others."""
    done, seconds, peak = measured(sys.executable, "-c", "x = bytearray(200 * 2**20)")
    assert done.returncode == 0 and 150 < peak < 400, peak
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0 and seconds < 30
