"""core.pool's `meanwhile`: work for the pool's owner while it would wait for a result
(a cold `run --once` imports its build's modules so, tests/test_startup.py)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from postroom.core import pool


def test_meanwhile_works_run_in_turn_one_a_wait_while_no_result_is_there_yet():
    gates = [threading.Event() for _ in range(5)]
    for gate in gates[2:]:
        gate.set()
    done = []

    def work(n: int) -> None:
        done.append((n, gates[n].is_set()))  # its task still waiting: the owner would wait
        gates[n].set()

    def task(n: int) -> int:
        assert gates[n].wait(30)
        return 2 * n

    pool.meanwhile(lambda: work(0))
    pool.meanwhile(lambda: work(1))
    with ThreadPoolExecutor(2) as workers:
        assert list(pool.in_order(workers, task, range(5), ahead=2)) == [0, 2, 4, 6, 8]
    assert done == [(0, False), (1, False)]  # each once, the second at the second wait
    assert not pool._MEANWHILE


def test_works_left_when_the_results_are_all_taken_are_dropped():
    done = []
    pool.meanwhile(lambda: done.append(1))
    with ThreadPoolExecutor(1) as workers:
        assert list(pool.in_order(workers, abs, [], ahead=2)) == []
    assert done == [] and not pool._MEANWHILE


def test_what_meanwhile_raises_is_dropped_and_the_pool_goes_on():
    """A failed import there must not throw away a cold scan's results (one transaction):
    the job that needs the module imports it again and raises there."""
    release = threading.Event()

    def work() -> None:
        release.set()
        raise LookupError("no such module")

    pool.meanwhile(work)
    with ThreadPoolExecutor(1) as workers:
        got = list(pool.in_order(workers, lambda n: release.wait(30) and n, range(3), ahead=2))
    assert got == [0, 1, 2]
    assert not pool._MEANWHILE


def test_ctrl_c_in_meanwhile_stops_the_pool():
    release = threading.Event()

    def work() -> None:
        raise KeyboardInterrupt

    pool.meanwhile(work)
    with ThreadPoolExecutor(1) as workers:
        with pytest.raises(KeyboardInterrupt):
            list(pool.in_order(workers, lambda n: release.wait(30) and n, range(3), ahead=2))
        release.set()
    assert not pool._MEANWHILE
