"""The "every candidate told within 1 hour" promise: latency from commit to sent, overdue."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.core.timeutil import utcnow
from app.extensions import db
from app.models import Interview, OutboxMessage, OutboxStatus
from app.queries.reports.filters import scoped
from app.services.rules import get_rules
from app.services.users.actor import Actor, interview_scope

# Not owed any more: sent, or withdrawn at dispatch because the interview changed
# (skipped: such a message must never go out, so it is never overdue).
DONE = (OutboxStatus.SENT, OutboxStatus.DELIVERED, OutboxStatus.READ, OutboxStatus.SKIPPED)


@dataclass
class PromiseStats:
    promise_minutes: int
    window_hours: int
    sent: int
    p50_seconds: float | None
    p95_seconds: float | None
    p99_seconds: float | None
    late: int                   # sent, but after the promise
    overdue: list[OutboxMessage]  # not sent and already past the promise


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), int(round(q * len(sorted_values) + 0.5))))
    return sorted_values[rank - 1]


def promise_stats(window_hours: int = 24, now: datetime | None = None,
                  overdue_limit: int = 200, *, actor: Actor | None = None) -> PromiseStats:
    """Candidate messages queued in the window: commit->sent latency and the overdue list,
    of the interviews the actor sees (None: every message, for /metrics)."""
    now = now or utcnow()
    promise = get_rules().notify_promise_minutes
    since = now - timedelta(hours=window_hours)
    scope = ([] if actor is None
             else scoped([interview_scope(actor)], via=OutboxMessage.interview_id))
    rows = db.session.execute(
        select(OutboxMessage.created_at, OutboxMessage.sent_at)
        .where(OutboxMessage.recipient_type == "candidate", OutboxMessage.created_at >= since,
               OutboxMessage.sent_at.is_not(None), *scope)).all()
    latencies = sorted(max((sent - created).total_seconds(), 0.0) for created, sent in rows)
    late = sum(1 for v in latencies if v > promise * 60)
    overdue = list(db.session.scalars(
        select(OutboxMessage).options(joinedload(OutboxMessage.interview)
                                      .joinedload(Interview.candidate))
        .where(OutboxMessage.recipient_type == "candidate", OutboxMessage.sent_at.is_(None),
               OutboxMessage.status.not_in(DONE),
               OutboxMessage.created_at < now - timedelta(minutes=promise), *scope)
        .order_by(OutboxMessage.created_at).limit(overdue_limit)))
    return PromiseStats(promise, window_hours, len(latencies), percentile(latencies, 0.50),
                        percentile(latencies, 0.95), percentile(latencies, 0.99), late, overdue)


def status_counts() -> dict[str, int]:
    return {status.value: count for status, count in db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))}
