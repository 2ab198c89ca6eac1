"""Cancellation figures: per day and week, by reason, category and initiator (one
statement), and the cancel rate of each position; all GROUP BY in SQL, in the actor's scope.

What counts: effective cancellations (the interview is cancelled), at the moment they took
effect (decided_at: an approved request counts when approved; a direct cancel has it equal
to requested_at, older rows may lack it). The per-position rate is over the interviews
scheduled in the period: those now cancelled / all of them.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import String, case, cast, func, literal, null, select, union_all

from app.extensions import db
from app.models import (
    Cancellation,
    CancellationState,
    CancelReason,
    Interview,
    InterviewStatus,
    Position,
)
from app.queries.reports.filters import ReportFilters, scoped
from app.queries.reports.sql import local_day, sort_in_memory, week_of_day
from app.services.users.actor import Actor

EFFECTIVE_AT = func.coalesce(Cancellation.decided_at, Cancellation.requested_at)
# Who cancelled, as the reports tell it: the candidate, the company (its HR users, and its
# systems through the integration API) or the system (rules such as auto-cancel).
COMPANY_ACTORS = ("hr", "integration")
INITIATOR = case((Cancellation.actor_type.in_(COMPANY_ACTORS), "company"),
                 else_=Cancellation.actor_type)


@dataclass(frozen=True)
class ReasonCount:
    code: str
    label: str
    category: str
    count: int


@dataclass
class Summary:
    per_day: dict[str, int]            # 'YYYY-MM-DD' (Beijing day): count
    per_week: dict[str, int]           # Monday of the ISO week: count
    by_reason: list[ReasonCount]       # most frequent first
    by_category: dict[str, int]
    by_initiator: dict[str, int]       # candidate / company / system


def summary(actor: Actor, f: ReportFilters) -> Summary:
    """The effective cancellations of the period counted five ways in one statement: the
    matching rows are counted once per (day, reason, initiator) in a CTE (a few thousand
    groups at most for a year), which each dimension then sums."""
    sort_in_memory()
    day = local_day(EFFECTIVE_AT)
    counted = (select(day.label("day"), Cancellation.reason_id, INITIATOR.label("initiator"),
                      func.count().label("n"))
               .where(Cancellation.state == CancellationState.EFFECTIVE,
                      *f.in_period(EFFECTIVE_AT),
                      *scoped(f.conditions(actor), via=Cancellation.interview_id))
               .group_by(day, Cancellation.reason_id, INITIATOR)
               .cte("counted"))
    c = counted.c
    with_reason = counted.join(CancelReason.__table__, CancelReason.id == c.reason_id)

    def summed(dimension: str, k1, k2=None, k3=None, source=counted):
        keys = [k for k in (k1, k2, k3) if k is not None]
        return (select(literal(dimension).label("dim"), cast(k1, String).label("k1"),
                       (k2 if k2 is not None else null()).label("k2"),
                       (k3 if k3 is not None else null()).label("k3"),
                       func.sum(c.n).label("n"))
                .select_from(source).group_by(*keys))

    week = week_of_day(c.day)
    stmt = union_all(summed("day", c.day), summed("week", week),
                     summed("reason", CancelReason.code, CancelReason.label,
                            CancelReason.category, source=with_reason),
                     summed("category", CancelReason.category, source=with_reason),
                     summed("initiator", c.initiator))
    found = Summary({}, {}, [], {}, {})
    for row in db.session.execute(stmt):
        if row.dim == "reason":
            found.by_reason.append(ReasonCount(row.k1, row.k2, row.k3, int(row.n)))
        else:
            {"day": found.per_day, "week": found.per_week, "category": found.by_category,
             "initiator": found.by_initiator}[row.dim][row.k1] = int(row.n)
    found.by_reason.sort(key=lambda r: (-r.count, r.code))
    return found


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
