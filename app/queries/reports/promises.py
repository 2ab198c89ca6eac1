"""Rescheduling promises kept / broken (issue 11 §4): the promises due in the period, by
state and by position, in the actor's scope (the cancelled interview's department, as
every report narrows with interview_scope).

A promise counts in the period of its due day (Asia/Shanghai). Open ones are shown
beside kept and broken; the kept rate is kept / (kept + broken), so promises still open
do not lower it.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select

from app.extensions import db
from app.models import Position, PromiseState, ReschedulePromise
from app.queries.reports.filters import ReportFilters, scoped
from app.services.users.actor import Actor


@dataclass(frozen=True)
class PromiseRow:
    department: str
    title: str
    open: int
    kept: int
    broken: int

    @property
    def decided(self) -> int:
        return self.kept + self.broken

    @property
    def kept_rate(self) -> float | None:
        return self.kept / self.decided if self.decided else None


@dataclass
class PromiseSummary:
    positions: list[PromiseRow]

    def total(self, state: str) -> int:
        return sum(getattr(p, state) for p in self.positions)

    @property
    def kept_rate(self) -> float | None:
        decided = self.total("kept") + self.total("broken")
        return self.total("kept") / decided if decided else None


def _count(state: PromiseState):
    return func.sum(case((ReschedulePromise.state == state, 1), else_=0))


def summary(actor: Actor, f: ReportFilters) -> PromiseSummary:
    """Promises due in the period: open / kept / broken per position (one statement)."""
    rows = db.session.execute(
        select(Position.department, Position.title, _count(PromiseState.OPEN),
               _count(PromiseState.KEPT), _count(PromiseState.BROKEN))
        .select_from(ReschedulePromise)
        .join(Position, Position.id == ReschedulePromise.position_id)
        .where(*f.in_period(ReschedulePromise.due_at),
               *scoped(f.conditions(actor), via=ReschedulePromise.interview_id))
        .group_by(Position.department, Position.title)
        .order_by(Position.department, Position.title)).all()
    return PromiseSummary([PromiseRow(d, t, int(o or 0), int(k or 0), int(b or 0))
                           for d, t, o, k, b in rows])

