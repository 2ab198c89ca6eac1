"""Job: backfill (issue 11 §5): expire offers, release places nobody can take, offer free
places of a position's sessions to its waiting list in HR's order. Idempotent on any
number of workers; time is the `now` it is given."""
from __future__ import annotations

from datetime import datetime


def run(now: datetime) -> int:
    from app.services.backfill import places

    return places.run(now)
