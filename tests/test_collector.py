"""The cyclic collector in brief processes (core/collector.py): a `run --once` and every
pool's workers collect young objects rarer, with what they hold once their modules are
in frozen; the other commands, and the process that starts a pool, are left as they
were, and so is a process that goes on after a command."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

from postroom import scheduler
from postroom.core import collector, pool, unswept
from postroom.service.jobs import Jobs
from support import in_a_new_python, make_site
from test_startup import kept_logging


def test_a_run_once_scans_with_young_collections_rarer_and_its_modules_frozen(
    tmp_path, monkeypatch
):
    site = make_site(tmp_path / "site", {"a.md": "---\ntitle: A\ndate: 2026-11-02\n---\nA.\n"})
    gc.unfreeze()  # what earlier tests froze
    before = gc.get_threshold()
    seen = []
    real_scan = Jobs.scan

    def scan(self, *args, **kwargs):
        seen.append((gc.get_threshold(), gc.get_freeze_count()))
        return real_scan(self, *args, **kwargs)

    monkeypatch.setattr(Jobs, "scan", scan)
    with kept_logging():
        assert scheduler.main(["--site", str(site.root), "run", "--once", "--no-send"]) == 0
    [(threshold, frozen)] = seen
    assert threshold == (collector.YOUNG, *before[1:])
    assert frozen > 10_000  # the modules imported before the scan
    assert (site.public_dir / "atom.xml").is_file()
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, 0)  # as it was after


def test_other_commands_keep_the_default_collector(tmp_path, monkeypatch):
    site = make_site(tmp_path / "site")
    before = gc.get_threshold()
    seen = []
    monkeypatch.setitem(scheduler.VERBS, "check", lambda ctx, args: seen.append(gc.get_threshold()))
    scheduler.main(["--site", str(site.root), "check"])
    assert seen == [before]


def test_a_run_once_leaves_the_threshold_as_it_was_when_it_fails(tmp_path, monkeypatch):
    site = make_site(tmp_path / "site")
    before = gc.get_threshold()

    def fails(ctx, args):
        raise RuntimeError("a bug")

    monkeypatch.setitem(scheduler.VERBS, "run", fails)
    assert scheduler.main(["--site", str(site.root), "run", "--once"]) != 0
    assert gc.get_threshold() == before


def test_kept_freezes_for_the_block_but_leaves_what_someone_else_froze():
    gc.unfreeze()
    try:
        with collector.kept():
            assert gc.get_freeze_count() > 0
        assert gc.get_freeze_count() == 0
        gc.freeze()  # someone else's (the service's heap)
        frozen = gc.get_freeze_count()
        with collector.kept():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_a_worker_freezes_what_it_inherits_and_collects_young_objects_rarer():
    before = gc.get_threshold(), gc.get_freeze_count()
    workers = pool.start(1)
    try:
        threshold = workers.submit(gc.get_threshold).result(timeout=60)
        frozen = workers.submit(gc.get_freeze_count).result(timeout=60)
    finally:
        workers.shutdown()
    assert threshold == (collector.YOUNG, *before[0][1:])
    assert frozen > 10_000  # the forkserver's modules
    assert (gc.get_threshold(), gc.get_freeze_count()) == before  # the pool's owner: as it was


def test_a_forkserver_started_early_imports_unswept_and_its_workers_collect_again():
    """A cold `run --once`'s forkserver has its collector off while it preloads
    (core.unswept, its first preload); each worker it forks turns it back on."""
    code = (
        "import gc, json, sys\n"
        "from multiprocessing import forkserver\n"
        "from postroom.core import pool\n"
        "pool.start_forkserver_early([])\n"
        "first = forkserver._forkserver._preload_modules[:2]\n"
        "workers = pool.start(1)\n"
        "seen = [workers.submit(gc.isenabled).result(timeout=60),\n"
        "        workers.submit(gc.get_threshold).result(timeout=60)[0],\n"
        "        first, gc.isenabled()]\n"
        "workers.shutdown()\n"
        "print(json.dumps(seen))\n"
    )
    enabled, young, first, owner = in_a_new_python(code)
    assert first == ["__main__", "postroom.core.unswept"]
    assert enabled and young == collector.YOUNG
    assert owner  # the pool's owner never imports it


def test_unswept_turns_the_collector_off_only_in_a_process_told_so_and_takes_the_word_out():
    code = (
        "import gc, os\nimport postroom.core.unswept as u\n"
        "print(gc.isenabled(), u.OFF_IN in os.environ)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != unswept.OFF_IN}
    for told, shown in ((False, "True False"), (True, "False False")):
        run_env = {**env, unswept.OFF_IN: "1"} if told else env
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=run_env
        )
        assert done.stdout.strip() == shown, done.stderr[-2000:]


def test_a_process_importing_every_module_keeps_its_collector():
    """The test suite's zygote imports every module, core.unswept too: the commands it
    forks must collect as a user's do (they did not: the review's find)."""
    code = (
        "import gc, importlib, pkgutil, postroom.core\n"
        "for found in pkgutil.walk_packages(postroom.core.__path__, 'postroom.core.'):\n"
        "    importlib.import_module(found.name)\n"
        "print(gc.isenabled())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != unswept.OFF_IN}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.stdout.strip() == "True", done.stderr[-2000:]
