"""Cancellation figures: per day and week, by reason, category and initiator, and the
cancel rate of each position; every figure one GROUP BY statement in the actor's scope.

What counts: effective cancellations (the interview is cancelled), at the moment they took
effect (decided_at: an approved request counts when approved; a direct cancel has it equal
to requested_at, older rows may lack it). The per-position rate is over the interviews
scheduled in the period: those now cancelled / all of them.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select

from app.extensions import db
from app.models import (
    Cancellation,
    CancellationState,
    CancelReason,
    Interview,
    InterviewStatus,
    Position,
)
from app.queries.reports.filters import ReportFilters
from app.queries.reports.sql import local_day, local_week
from app.services.users.actor import Actor

EFFECTIVE_AT = func.coalesce(Cancellation.decided_at, Cancellation.requested_at)


def _source():
    return (Cancellation.__table__.join(Interview.__table__,
                                        Interview.id == Cancellation.interview_id)
            .join(Position.__table__, Position.id == Interview.position_id))


def _where(actor: Actor, f: ReportFilters) -> list:
    return [Cancellation.state == CancellationState.EFFECTIVE, *f.in_period(EFFECTIVE_AT),
            *f.conditions(actor)]


def _counted(key, actor: Actor, f: ReportFilters, source=None) -> list:
    stmt = (select(key.label("k"), func.count().label("n"))
            .select_from(source if source is not None else _source())
            .where(*_where(actor, f)).group_by(key))
    return db.session.execute(stmt).all()


def per_day(actor: Actor, f: ReportFilters) -> dict[str, int]:
    """{'YYYY-MM-DD': effective cancellations that day}."""
    return {row.k: row.n for row in _counted(local_day(EFFECTIVE_AT), actor, f)}


def per_week(actor: Actor, f: ReportFilters) -> dict[str, int]:
    """{'YYYY-MM-DD' of the week's Monday: effective cancellations that week}."""
    return {row.k: row.n for row in _counted(local_week(EFFECTIVE_AT), actor, f)}


# Who cancelled, as the reports tell it: the candidate, the company (its HR users, and its
# systems through the integration API) or the system (rules such as auto-cancel).
COMPANY_ACTORS = ("hr", "integration")
INITIATOR = case((Cancellation.actor_type.in_(COMPANY_ACTORS), "company"),
                 else_=Cancellation.actor_type)


def by_initiator(actor: Actor, f: ReportFilters) -> dict[str, int]:
    """{initiator (candidate / company / system): count}."""
    return {row.k: row.n for row in _counted(INITIATOR, actor, f)}


def by_category(actor: Actor, f: ReportFilters) -> dict[str, int]:
    """{reason category: count}."""
    source = _source().join(CancelReason.__table__, CancelReason.id == Cancellation.reason_id)
    return {row.k: row.n for row in _counted(CancelReason.category, actor, f, source)}


@dataclass(frozen=True)
class ReasonCount:
    code: str
    label: str
    category: str
    count: int


def by_reason(actor: Actor, f: ReportFilters) -> list[ReasonCount]:
    """Count per reason, most frequent first."""
    source = _source().join(CancelReason.__table__, CancelReason.id == Cancellation.reason_id)
    n = func.count().label("n")
    stmt = (select(CancelReason.code, CancelReason.label, CancelReason.category, n)
            .select_from(source).where(*_where(actor, f))
            .group_by(CancelReason.id, CancelReason.code, CancelReason.label,
                      CancelReason.category)
            .order_by(n.desc(), CancelReason.code))
    return [ReasonCount(r.code, r.label, r.category, r.n) for r in db.session.execute(stmt)]


@dataclass(frozen=True)
class PositionRate:
    position_id: int
    title: str
    department: str
    interviews: int
    cancelled: int

    @property
    def rate(self) -> float:
        return self.cancelled / self.interviews if self.interviews else 0.0


def per_position(actor: Actor, f: ReportFilters) -> list[PositionRate]:
    """Interviews scheduled in the period per position and how many are now cancelled,
    highest rate first."""
    cancelled = func.count(case((Interview.status == InterviewStatus.CANCELLED, 1)))
    total = func.count()
    stmt = (select(Position.id, Position.title, Position.department,
                   total.label("interviews"), cancelled.label("cancelled"))
            .select_from(Interview.__table__.join(Position.__table__,
                                                  Position.id == Interview.position_id))
            .where(*f.in_period(Interview.scheduled_at), *f.conditions(actor))
            .group_by(Position.id, Position.title, Position.department))
    rows = [PositionRate(r.id, r.title, r.department, r.interviews, r.cancelled)
            for r in db.session.execute(stmt)]
    return sorted(rows, key=lambda p: (-p.rate, -p.interviews, p.department, p.title))
