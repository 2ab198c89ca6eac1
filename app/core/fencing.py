"""The fencing token of the scheduled-job run this code runs in, for long jobs to check
between chunks: `superseded()` is true once a later run of the same job took over (its
lock expired and another worker took a newer token), so the old run stops writing;
`should_stop()` is that, or the worker is stopping (SIGTERM: the run ends at the next
chunk, and the next turn, on any worker, carries on where it stopped).

app.jobs.turns sets the checks around each run (`running(check, stopping)`); outside a
job run (a request, a test calling a service) nothing is ever superseded or stopped.

Trap: a context variable, so it follows the job's thread only; the check itself reads the
database (job_runs), so call it between chunks, not per row.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_check: ContextVar[Callable[[], bool] | None] = ContextVar("job_fence_check", default=None)
_stopping: ContextVar[Callable[[], bool] | None] = ContextVar("job_stopping", default=None)


@contextmanager
def running(still_current: Callable[[], bool],
            stopping: Callable[[], bool] | None = None) -> Iterator[None]:
    """Within the block, `superseded()` asks `still_current()`, `should_stop()` also
    `stopping()`."""
    token = _check.set(still_current)
    stop_token = _stopping.set(stopping)
    try:
        yield
    finally:
        _stopping.reset(stop_token)
        _check.reset(token)


def superseded() -> bool:
    """Whether the job run this code belongs to was taken over by a later one."""
    check = _check.get()
    return check is not None and not check()


def should_stop() -> bool:
    """Whether the job run should end at this chunk: the worker is stopping, or a later
    run took over."""
    stopping = _stopping.get()
    return (stopping is not None and stopping()) or superseded()
