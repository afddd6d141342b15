"""A cold scan's workers hand each chunk's results back in a file, its name through the
pool's pipe (`content.handback`): a worker killed while its results are on their way
out must fail the scan, not hang it, and leave no rows and no files behind."""

import os
import signal
import subprocess
import sys

import pytest
from postroom.content import handback, intake
from postroom.store import Store
from postroom.store.schema import files, posts, versions
from sqlalchemy import func, select
from support import make_site

_taken = handback.taken

_KILLED_SCAN = """
import sys
from pathlib import Path

import scan_killer  # the .boom reader, here and (by name) in the workers
from postroom.content.intake import scan
from postroom.core.config import open_site
from postroom.store import Store

site = open_site(Path(sys.argv[1]))
store = Store(site.store_url)
try:
    scan(site, store)
except Exception as exc:
    print(type(exc).__name__)
    sys.exit(3)
"""


def _content(count: int = intake._PARALLEL_FROM + 20) -> dict[str, str]:
    """More files than a scan reads in one process (so it reads them in workers)."""
    return {
        f"posts/{n:04d}.md": f"---\ntitle: Post {n}\ndate: 2026-{n % 12 + 1:02d}-01\n---\nText.\n"
        for n in range(count)
    }


def _counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (posts, versions, files)
        }


def test_a_worker_killed_while_it_hands_back_results_fails_the_scan_not_hangs_it(tmp_path):
    """A worker SIGKILLed once its results are on their way out (an OOM kill): sent
    through the pool's pipe, half a message would stay there and the scan would wait
    for the rest for ever; handed back in a file, the scan fails, says why, stores
    nothing, and the hand-back folder (under TMPDIR) is gone with its files."""
    # the first file, with many chunks after it: the pool has work left when the worker
    # dies (killed once its last chunk was handed back, the scan would end well)
    content = _content(4 * intake._PARALLEL_FROM)
    content["posts/0000.boom"] = "anything: the reader makes its own post"
    site = make_site(tmp_path / "site", content)
    temp = tmp_path / "temp"
    temp.mkdir()
    tests = os.path.dirname(__file__)
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")]),
        "TMPDIR": str(temp),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_SCAN, str(site.root)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("the scan hung on a worker killed while it sent its results")
    assert proc.returncode == 3, err[-2000:]
    assert out.strip() == "BrokenProcessPool"
    assert [p.name for p in temp.iterdir() if p.name.startswith("postroom-scan-")] == []
    store = Store(site.store_url)
    try:
        assert _counts(store) == {"posts": 0, "versions": 0, "files": 0}
    finally:
        store.close()


def test_a_cold_scan_in_workers_leaves_no_hand_back_files(tmp_path, monkeypatch):
    """The chunks' files are taken as they are read: none is left once a scan is done."""
    monkeypatch.setenv("TMPDIR", str(tmp_path / "temp"))
    (tmp_path / "temp").mkdir()
    monkeypatch.setattr("tempfile.tempdir", None)  # TMPDIR asked again
    taken = []
    monkeypatch.setattr(handback, "taken", lambda path: taken.append(path) or _taken(path))
    site = make_site(tmp_path / "site", _content())
    store = Store(site.store_url)
    try:
        report = intake.scan(site, store)
        assert len(report.new) == intake._PARALLEL_FROM + 20
    finally:
        store.close()
    assert len(taken) == -(-(intake._PARALLEL_FROM + 20) // intake._CHUNK)  # in workers
    assert all(os.path.dirname(path).startswith(str(tmp_path / "temp")) for path in taken)
    assert [p for p in (tmp_path / "temp").iterdir() if p.name.startswith("postroom-scan-")] == []
