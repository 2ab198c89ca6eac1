"""What /metrics reads from the database at scrape time (app/metrics.py), one GROUP BY
each, so every web process reports the same figures.

- cancellations by initiator and state: the initiator is the cancellation's actor type
  (candidate, hr, integration, system), or `batch` for the rows of a batch cancel;
- WeChat error codes by channel: the outbox rows whose last attempt carried an errcode
  (their current count, not every attempt's: a retried row that then succeeded has none);
- scheduled jobs' last runs (job_runs: one row per job).

Trap: these are whole-table aggregates; each uses an index or a small table (job_runs),
and a scrape every 15-60 s costs a few milliseconds.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select

from app.extensions import db
from app.models import Cancellation, JobRun, OutboxMessage


def cancellation_counts() -> dict[tuple[str, str], int]:
    """{(initiator, state): count}."""
    initiator = case((Cancellation.batch_id.is_not(None), "batch"),
                     else_=Cancellation.actor_type).label("initiator")
    rows = db.session.execute(select(initiator, Cancellation.state, func.count())
                              .group_by(initiator, Cancellation.state))
    return {(str(who), getattr(state, "value", str(state))): count
            for who, state, count in rows}


def errcode_counts() -> dict[tuple[int, str], int]:
    """{(errcode, channel): outbox rows carrying it}; a row without a channel: ""."""
    rows = db.session.execute(
        select(OutboxMessage.errcode, OutboxMessage.channel, func.count())
        .where(OutboxMessage.errcode.is_not(None))
        .group_by(OutboxMessage.errcode, OutboxMessage.channel))
    return {(int(errcode), channel or ""): count for errcode, channel, count in rows}


@dataclass(frozen=True)
class LastRun:
    job: str
    runs: int                       # runs recorded (finished, failed or stopped)
    started_at: datetime | None
    finished_at: datetime | None
    ok: bool | None                 # the last run: None while running (or never finished)


def job_last_runs() -> list[LastRun]:
    rows = db.session.execute(select(JobRun.name, JobRun.runs, JobRun.started_at,
                                     JobRun.finished_at, JobRun.error)
                              .order_by(JobRun.name))
    return [LastRun(name, runs or 0, started, finished,
                    None if finished is None else error is None)
            for name, runs, started, finished, error in rows]
