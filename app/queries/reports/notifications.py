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

from sqlalchemy import case, func, or_, select

from app.extensions import db
from app.models import Candidate, Interview, OutboxMessage, OutboxStatus, Position
from app.queries.reports.filters import ReportFilters
from app.queries.reports.sql import percentiles, seconds_between
from app.services.users.actor import Actor

FINAL_FAILURES = (OutboxStatus.FAILED, OutboxStatus.UNREACHABLE)
CANDIDATE = "candidate"


def _source():
    return (OutboxMessage.__table__
            .outerjoin(Interview.__table__, Interview.id == OutboxMessage.interview_id)
            .outerjoin(Position.__table__, Position.id == Interview.position_id))


def _where(actor: Actor, f: ReportFilters) -> list:
    return [*f.in_period(OutboxMessage.created_at), *f.conditions(actor)]


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
    """The funnel and latencies per channel, and the same over every channel."""
    delivered = or_(OutboxMessage.delivered_at.is_not(None), OutboxMessage.read_at.is_not(None))
    stmt = (select(OutboxMessage.channel, func.count().label("queued"),
                   func.count(OutboxMessage.sent_at).label("sent"),
                   func.count(case((delivered, 1))).label("delivered"),
                   func.count(OutboxMessage.read_at).label("opened"),
                   func.count(case((OutboxMessage.status.in_(FINAL_FAILURES), 1)))
                   .label("failed"))
            .select_from(_source()).where(*_where(actor, f))
            .group_by(OutboxMessage.channel))
    counts = db.session.execute(stmt).all()
    where = _where(actor, f)
    to_notify = seconds_between(OutboxMessage.created_at, OutboxMessage.sent_at)
    to_open = seconds_between(OutboxMessage.sent_at, OutboxMessage.read_at)
    sent_where = [*where, OutboxMessage.sent_at.is_not(None)]
    read_where = [*where, OutboxMessage.read_at.is_not(None), OutboxMessage.sent_at.is_not(None)]
    notify = percentiles(_source(), to_notify, sent_where, OutboxMessage.channel)
    opened = percentiles(_source(), to_open, read_where, OutboxMessage.channel)
    notify_all = percentiles(_source(), to_notify, sent_where).get(None, (None, None))
    open_all = percentiles(_source(), to_open, read_where).get(None, (None, None))
    none = (None, None)
    rows = [ChannelFunnel(r.channel, r.queued, r.sent, r.delivered, r.opened, r.failed,
                          *notify.get(r.channel, none), *opened.get(r.channel, none))
            for r in counts]
    rows.sort(key=lambda r: (-r.queued, r.channel or ""))
    total = ChannelFunnel(None, *(sum(getattr(r, k) for r in rows) for k in
                                  ("queued", "sent", "delivered", "opened", "failed")),
                          *notify_all, *open_all)
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
    stmt = (select(
        func.count(case((or_(sent, OutboxMessage.created_at < now - timedelta(minutes=minutes)),
                         1))).label("due"),
        func.count(case((sent & (took <= limit), 1))).label("kept"))
        .select_from(_source())
        .where(*_where(actor, f), OutboxMessage.recipient_type == CANDIDATE))
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
    """Interviews whose candidate nobody could reach in the period, latest first."""
    last = func.max(OutboxMessage.created_at).label("last_at")
    stmt = (select(Interview.public_id, Interview.number, Candidate.name, Position.title,
                   Position.department, func.count().label("messages"), last)
            .select_from(OutboxMessage.__table__
                         .join(Interview.__table__, Interview.id == OutboxMessage.interview_id)
                         .join(Position.__table__, Position.id == Interview.position_id)
                         .join(Candidate.__table__, Candidate.id == Interview.candidate_id))
            .where(*_where(actor, f), OutboxMessage.recipient_type == CANDIDATE)
            .group_by(Interview.id, Interview.public_id, Interview.number, Candidate.name,
                      Position.title, Position.department)
            .having(func.count(case((OutboxMessage.status.notin_(FINAL_FAILURES), 1))) == 0)
            .order_by(last.desc(), Interview.number))
    if limit:
        stmt = stmt.limit(limit)
    return [Unreachable(r.public_id, r.number, r.name, r.title, r.department, r.messages,
                        r.last_at) for r in db.session.execute(stmt)]
