"""The cyclic collector is paused for a bulk step (a chunk of a batch) and back after it,
also when such steps nest or overlap in threads, and stays off if it was off before."""
import gc
import threading

import pytest

from app.core import collector


@pytest.fixture(autouse=True)
def _collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    gc.enable() if was else gc.disable()


def test_paused_inside_and_back_after():
    with collector.paused():
        assert not gc.isenabled()
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer step still runs
    assert gc.isenabled()


def test_back_after_an_error():
    with pytest.raises(RuntimeError), collector.paused():
        raise RuntimeError("the chunk failed")
    assert gc.isenabled()


def test_left_off_when_it_was_off():
    gc.disable()
    with collector.paused():
        pass
    assert not gc.isenabled()


def test_overlapping_steps_in_threads():
    inside, release = threading.Event(), threading.Event()

    def other_step():
        with collector.paused():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other_step)
    with collector.paused():
        thread.start()
        inside.wait(5)
    assert not gc.isenabled()  # the other thread's step has not ended
    release.set()
    thread.join(5)
    assert gc.isenabled()
