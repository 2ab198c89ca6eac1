"""Notification figures from the outbox: a funnel per channel (queued, sent, delivered,
opened), time to notify and to open (p50 / p95), the notification promise kept, and the
candidates nobody could reach; every figure computed in SQL in the actor's scope.

Definitions (the same as the 通知时效 page, app/queries/notifications/promise.py):
- a message's event time is its outbox row's created_at (written in the change's own
  transaction); time to notify = sent_at - created_at; time to open = read_at - sent_at;
- delivered: WeChat's delivery event came, or the message was opened (an open proves it
  arrived even when the event never came);
- promise: a candidate message kept it when sent within notify_promise_minutes; it is due
  when sent, or unsent and older than the promise (an unsent message still inside the
  promise is not counted either way);
- unreachable: every candidate message of an interview in the period ended failed or
  unreachable (final: refused, or accepted by WeChat and then reported undelivered).
Messages not tied to an interview (batch summaries to staff) have no department: only
users who see every department (admins) count them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, or_, select, tuple_

from app.extensions import db
from app.models import Candidate, Interview, OutboxMessage, OutboxStatus, Position
from app.queries.reports.filters import ReportFilters, scoped
from app.queries.reports.sql import dialect, percentiles, seconds_between
from app.services.users.actor import Actor

FINAL_FAILURES = (OutboxStatus.FAILED, OutboxStatus.UNREACHABLE)
CANDIDATE = "candidate"


def _scoped(actor: Actor, f: ReportFilters, *extra):
    """(source, where): the outbox rows of the period in the actor's scope."""
    where = [*f.in_period(OutboxMessage.created_at), *extra,
             *scoped(f.conditions(actor), via=OutboxMessage.interview_id)]
    return OutboxMessage.__table__, where


@dataclass(frozen=True)
class ChannelFunnel:
    channel: str | None
    queued: int
    sent: int
    delivered: int
    opened: int
    failed: int
    notify_p50: float | None = None   # seconds
    notify_p95: float | None = None
    open_p50: float | None = None
    open_p95: float | None = None

    @property
    def arrival_rate(self) -> float | None:
        return self.delivered / self.sent if self.sent else None

    @property
    def open_rate(self) -> float | None:
        return self.opened / self.delivered if self.delivered else None


def funnel(actor: Actor, f: ReportFilters) -> tuple[list[ChannelFunnel], ChannelFunnel]:
    """The funnel and latencies per channel, and the same over every channel.

    PostgreSQL: one statement (GROUPING SETS: per channel and overall, counts and
    percentile_cont together). SQLite: the counts, then the percentiles per channel and
    overall (app.queries.reports.sql); the tests hold both to the same figures."""
    source, where = _scoped(actor, f)
    delivered = or_(OutboxMessage.delivered_at.is_not(None), OutboxMessage.read_at.is_not(None))
    counts = [func.count().label("queued"), func.count(OutboxMessage.sent_at).label("sent"),
              func.count(case((delivered, 1))).label("delivered"),
              func.count(OutboxMessage.read_at).label("opened"),
              func.count(case((OutboxMessage.status.in_(FINAL_FAILURES), 1))).label("failed")]
    # NULL when not sent (not opened): such rows are left out of the percentiles.
    latencies = [seconds_between(OutboxMessage.created_at, OutboxMessage.sent_at),
                 seconds_between(OutboxMessage.sent_at, OutboxMessage.read_at)]
    if dialect() == "postgresql":
        quantiles = [func.percentile_cont(q).within_group(v).label(f"{name}_p{int(q * 100)}")
                     for v, name in zip(latencies, ("notify", "open"), strict=True)
                     for q in (0.5, 0.95)]
        stmt = (select(OutboxMessage.channel, func.grouping(OutboxMessage.channel).label("all"),
                       *counts, *quantiles)
                .select_from(source).where(*where)
                .group_by(func.grouping_sets(tuple_(OutboxMessage.channel), tuple_())))
        rows, total = [], None
        for r in db.session.execute(stmt):
            figures = [r.queued, r.sent, r.delivered, r.opened, r.failed,
                       *(None if v is None else float(v) for v in
                         (r.notify_p50, r.notify_p95, r.open_p50, r.open_p95))]
            if r.all:
                total = ChannelFunnel(None, *figures)
            else:
                rows.append(ChannelFunnel(r.channel, *figures))
        rows.sort(key=lambda r: (-r.queued, r.channel or ""))
        return rows, total or ChannelFunnel(None, 0, 0, 0, 0, 0)
    stmt = (select(OutboxMessage.channel, *counts).select_from(source).where(*where)
            .group_by(OutboxMessage.channel))
    nothing = [(None, None), (None, None)]
    per_channel = percentiles(source, latencies, where, OutboxMessage.channel)
    overall = percentiles(source, latencies, where).get(None, nothing)
    rows = []
    for r in db.session.execute(stmt):
        (notify_p50, notify_p95), (open_p50, open_p95) = per_channel.get(r.channel, nothing)
        rows.append(ChannelFunnel(r.channel, r.queued, r.sent, r.delivered, r.opened, r.failed,
                                  notify_p50, notify_p95, open_p50, open_p95))
    rows.sort(key=lambda r: (-r.queued, r.channel or ""))
    (notify_p50, notify_p95), (open_p50, open_p95) = overall
    total = ChannelFunnel(None, *(sum(getattr(r, k) for r in rows) for k in
                                  ("queued", "sent", "delivered", "opened", "failed")),
                          notify_p50, notify_p95, open_p50, open_p95)
    return rows, total


@dataclass(frozen=True)
class Promise:
    minutes: int
    due: int
    kept: int

    @property
    def percent(self) -> float | None:
        return 100.0 * self.kept / self.due if self.due else None


def promise(actor: Actor, f: ReportFilters, minutes: int, now: datetime) -> Promise:
    """Candidate messages of the period sent within the promise, of those due."""
    limit = minutes * 60
    took = seconds_between(OutboxMessage.created_at, OutboxMessage.sent_at)
    sent = OutboxMessage.sent_at.is_not(None)
    source, where = _scoped(actor, f, OutboxMessage.recipient_type == CANDIDATE)
    stmt = (select(
        func.count(case((or_(sent, OutboxMessage.created_at < now - timedelta(minutes=minutes)),
                         1))).label("due"),
        func.count(case((sent & (took <= limit), 1))).label("kept"))
        .select_from(source).where(*where))
    row = db.session.execute(stmt).one()
    return Promise(minutes, row.due, row.kept)


@dataclass(frozen=True)
class Unreachable:
    public_id: str
    number: str
    candidate: str
    title: str
    department: str
    messages: int
    last_at: datetime | None


def unreachable(actor: Actor, f: ReportFilters, limit: int | None = None) -> list[Unreachable]:
    """Interviews whose candidate nobody could reach in the period, latest first: the
    candidate messages are grouped per interview first, then the few that failed
    entirely are joined to their interview, candidate and position."""
    source, where = _scoped(actor, f, OutboxMessage.recipient_type == CANDIDATE,
                            OutboxMessage.interview_id.is_not(None))
    failed = (select(OutboxMessage.interview_id, func.count().label("messages"),
                     func.max(OutboxMessage.created_at).label("last_at"))
              .select_from(source).where(*where)
              .group_by(OutboxMessage.interview_id)
              .having(func.count(case((OutboxMessage.status.notin_(FINAL_FAILURES), 1))) == 0))
    if limit:   # the latest first, before the joins (a year can hold tens of thousands)
        failed = failed.order_by(func.max(OutboxMessage.created_at).desc(),
                                 OutboxMessage.interview_id).limit(limit)
    failed = failed.subquery()
    stmt = (select(Interview.public_id, Interview.number, Candidate.name, Position.title,
                   Position.department, failed.c.messages, failed.c.last_at)
            .select_from(failed.join(Interview.__table__, Interview.id == failed.c.interview_id)
                         .join(Position.__table__, Position.id == Interview.position_id)
                         .join(Candidate.__table__, Candidate.id == Interview.candidate_id))
            .order_by(failed.c.last_at.desc(), Interview.number))
    return [Unreachable(r.public_id, r.number, r.name, r.title, r.department, r.messages,
                        r.last_at) for r in db.session.execute(stmt)]
