"""Pausing Python's cyclic garbage collector around a bulk step.

A chunk of a batch (1,000 interviews read, decided and written) creates some 20,000 short
lived containers: facts, decisions, row dicts, contexts. Reference counting frees them
when the chunk ends; the cyclic collector, triggered by the allocations alone, meanwhile
ran ~35 young and ~3 full collections per 10,000 rows, each full one walking the whole
heap of the app (a third of the job's Python time). Paused for the chunk, it runs once
afterwards, when the chunk's objects are gone.

The collector is process-wide: nested and concurrent pauses (threads) are counted, and it
is enabled again when the last one ends, unless it was disabled before the first.
"""
from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_state = {"depth": 0, "resume": False}


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection inside the block (objects are still freed by reference
    counting); keep the block bounded (a chunk), not a whole job."""
    with _lock:
        if _state["depth"] == 0:
            _state["resume"] = gc.isenabled()
            gc.disable()
        _state["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0 and _state["resume"]:
                gc.enable()
