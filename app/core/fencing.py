"""The fencing token of the scheduled-job run this code runs in, for long jobs to check
between chunks: `superseded()` is true once a later run of the same job took over (its
lock expired and another worker took a newer token), so the old run stops writing.

app.jobs.turns sets the check around each run (`running(check)`); outside a job run
(a request, a test calling a service) nothing is ever superseded.

Trap: a context variable, so it follows the job's thread only; the check itself reads the
database (job_runs), so call it between chunks, not per row.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_check: ContextVar[Callable[[], bool] | None] = ContextVar("job_fence_check", default=None)


@contextmanager
def running(still_current: Callable[[], bool]) -> Iterator[None]:
    """Within the block, `superseded()` asks `still_current()`."""
    token = _check.set(still_current)
    try:
        yield
    finally:
        _check.reset(token)


def superseded() -> bool:
    """Whether the job run this code belongs to was taken over by a later one."""
    check = _check.get()
    return check is not None and not check()
