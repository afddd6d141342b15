"""service.heap: what a build leaves is frozen out of the collector's walks, cycles of
garbage are still collected (by the next settle, or the next whole one when frozen), and
a build's pause of the collector ends with the build or after its bound."""

from __future__ import annotations

import gc
import weakref

import pytest
from postroom.service.heap import WHOLE_SECONDS, Heap


class _Node:
    """A cycle of two: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.other = _Node.__new__(_Node)
        self.other.other = self


def _cycle() -> weakref.ref:
    return weakref.ref(_Node())


@pytest.fixture(autouse=True)
def _thawed():
    """Each test starts and ends with nothing frozen and the collector on."""
    gc.unfreeze()
    gc.enable()
    yield
    gc.unfreeze()
    gc.enable()


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_settle_freezes_what_is_there_and_collects_what_came_since():
    heap = Heap(_Clock())
    kept = [object() for _ in range(10)]  # noqa: F841 - held on to: frozen by the settle
    assert heap.settle(whole=False)  # the first settle is a whole one
    assert gc.get_freeze_count() > 0
    later = _cycle()
    assert later() is not None
    assert not heap.settle(whole=False)
    assert later() is None, "a cycle made since the last settle is collected by the next"


def test_a_frozen_cycle_waits_for_a_whole_settle():
    heap = Heap(_Clock())
    heap.settle(whole=True)
    node = _Node()
    frozen = weakref.ref(node)
    heap.settle(whole=False)  # still referenced: frozen with the rest
    del node  # garbage from now on, but out of the collector's sight
    assert not heap.settle(whole=False)
    assert frozen() is not None, "a settle that is not whole does not look at the frozen"
    assert heap.settle(whole=True)
    assert frozen() is None, "a whole settle unfreezes and collects first"


def test_a_whole_settle_is_due_hourly_without_a_whole_build():
    clock = _Clock()
    heap = Heap(clock)
    assert heap.settle(whole=False)
    clock.now += WHOLE_SECONDS - 1
    assert not heap.settle(whole=False)
    clock.now += 1
    assert heap.settle(whole=False)


def test_a_build_runs_with_the_collector_paused_then_it_is_back():
    heap = Heap()
    with heap.paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), heap.paused():
        raise RuntimeError("the build failed")
    assert gc.isenabled(), "a failed build leaves the collector on"


def test_a_long_build_gets_the_collector_back_after_the_bound():
    heap = Heap()
    with heap.paused(most=0.05):
        assert heap.resumed.wait(5), "the pause's bound passed with the collector still off"
        assert gc.isenabled()
    assert gc.isenabled()


def test_a_collector_turned_off_by_someone_else_stays_off():
    gc.disable()
    with Heap().paused():
        assert not gc.isenabled()
    assert not gc.isenabled()
