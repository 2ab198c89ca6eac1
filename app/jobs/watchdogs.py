"""Job: the watchdogs (late messages, unreachable candidates, failing webhook receivers,
channels paused by quota) alert HR once per condition; idempotent, any interval."""
from __future__ import annotations

from datetime import datetime

from app.core.timeutil import utcnow


def run(now: datetime | None = None) -> int:
    from app.services.watchdogs.watch import run_watchdogs

    return run_watchdogs(now or utcnow())
