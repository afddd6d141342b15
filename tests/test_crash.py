"""Exactly once across kill -9: a real sender process, a real SMTP server, 2,000 subscribers."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from smtp_sink import SmtpSink
from support import make_site, write

ROOT = Path(__file__).resolve().parent.parent
SECRET = "crash-test-secret-long-enough"
CONNECTIONS = 2
SUBSCRIBERS = 2000


def postroom(site: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "POSTROOM_SECRET": SECRET}
    command = [sys.executable, "-m", "postroom.scheduler", "--site", str(site), *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_sigkill_mid_send_then_rerun_reaches_everyone_once(tmp_path):
    rng = random.Random(20261125)
    with SmtpSink() as sink:
        config = '[site]\nbase_url = "https://notes.example.org/"\n' + sink.config(CONNECTIONS)
        site = make_site(tmp_path / "site", config=config)
        write(site.content_dir / "post.md", "---\ntitle: One post\ndate: 2016-06-23\n---\nBody.\n")
        people = [f"reader{n:04d}@example.org" for n in range(SUBSCRIBERS)]
        write(site.root / "list.csv", "\n".join(people) + "\n")
        assert postroom(site.root, "subscribers", "import", str(site.root / "list.csv")).wait() == 0

        kills = 0
        for threshold in sorted(rng.sample(range(100, SUBSCRIBERS - 200), 4)):
            sender = postroom(site.root, "digest", "send")
            deadline = time.monotonic() + 60
            while len(sink.received) < threshold and sender.poll() is None:
                assert time.monotonic() < deadline, "the sender made no progress"
                time.sleep(0.005)
            if sender.poll() is None:
                sender.send_signal(signal.SIGKILL)
                kills += 1
            sender.wait()
        final = postroom(site.root, "digest", "send")
        err = final.communicate(timeout=120)[1]
        assert final.returncode == 0, err.decode()

        ids: dict[str, set[str]] = defaultdict(set)
        copies: dict[str, int] = defaultdict(int)
        for r in sink.received:
            ids[r.recipient].add(r.message["Message-ID"])
            copies[r.recipient] += 1

    assert kills >= 3  # the runs really were cut short
    assert sorted(copies) == people  # nobody missed
    duplicates = sum(n - 1 for n in copies.values())
    assert duplicates <= kills * CONNECTIONS  # only what was in flight at each kill
    assert all(len(message_ids) == 1 for message_ids in ids.values())  # a retry is the same message
    status = postroom(site.root, "digest", "status", "--json")
    [issue] = json.loads(status.communicate(timeout=60)[0])
    assert (issue["sent"], issue["queued"], issue["failed"]) == (SUBSCRIBERS, 0, 0)
