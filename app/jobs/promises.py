"""Job: the rescheduling promises (issue 11 §4): open one per company cancel with
为候选人重新安排, offer slots where the position has room, keep, warn the HR owner one
working day ahead, break when past due. Idempotent on any number of workers; time is the
`now` it is given."""
from __future__ import annotations

from datetime import datetime


def run(now: datetime) -> int:
    from app.services.interviews import promises

    return promises.run(now)
