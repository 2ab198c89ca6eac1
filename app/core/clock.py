"""The one clock scheduled jobs read (`clock.now()`), injectable.

- `frozen(dt)` / `set_now(dt)`: this process reads `dt` (tests, `flask jobs run --now`).
- CLOCK_SOURCE="redis" (never in production): every process of a deployment reads the
  time a test wrote with `publish(dt)` under the Redis key "clock:now", so several worker
  processes can be walked through a simulated day in lockstep. Unset, it falls back to the
  system clock.
- otherwise the system clock (UTC).

Traps: the override is process-wide, not per thread (the scheduler's threads must see
what the CLI or a test set); always aware datetimes, in UTC.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from flask import current_app, has_app_context

from app.core.timeutil import utcnow

_lock = threading.Lock()
_override: datetime | None = None
REDIS_CLOCK_KEY = ("clock", "now")


def _aware(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("the clock needs an aware datetime (with an offset)")
    return dt.astimezone(UTC)


def now() -> datetime:
    """The current time for jobs: the override, the shared test clock, or the system's."""
    with _lock:
        if _override is not None:
            return _override
    if has_app_context() and current_app.config.get("CLOCK_SOURCE") == "redis":
        from app.extensions import redis_store

        raw = redis_store.client.get(redis_store.key(*REDIS_CLOCK_KEY))
        if raw:
            return datetime.fromisoformat(raw.decode()).astimezone(UTC)
    return utcnow()


def set_now(dt: datetime | None) -> None:
    """Make this process read `dt` (None: the real clock again)."""
    global _override
    with _lock:
        _override = _aware(dt) if dt is not None else None


@contextmanager
def frozen(dt: datetime | None) -> Iterator[None]:
    """Within the block this process reads `dt` (None: leave the clock as it is)."""
    if dt is None:
        yield
        return
    global _override
    with _lock:
        before, _override = _override, _aware(dt)
    try:
        yield
    finally:
        with _lock:
            _override = before


def publish(dt: datetime) -> None:
    """The shared test clock (CLOCK_SOURCE="redis"): every process now reads `dt`."""
    from app.extensions import redis_store

    redis_store.client.set(redis_store.key(*REDIS_CLOCK_KEY), _aware(dt).isoformat())
