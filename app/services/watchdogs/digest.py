"""The daily digest to each HR owner (a position's recruiter): yesterday's cancellations
by reason, the approvals pending now, the candidates nobody could reach yesterday and the
rescheduling promises at risk (due within one working day), all in the owner's scope.

Traps:
- "yesterday" is the Beijing day before `now`'s Beijing date, whatever UTC says (00:30
  Beijing is still the previous UTC day);
- once per user per day is the outbox dedupe key (event `digest:<day>`): running the job
  again, or on two workers, queues nothing new;
- promises at risk use the promises' own warning day (app.services.interviews.promises
  .warn_from: the last working day before the due day), so the digest and the warning
  message never disagree about what is at risk; the digest (08:00) counts the promises
  warned about later that day.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from app.core.timeutil import SHANGHAI, iso, local
from app.extensions import db
from app.models import (
    Cancellation,
    CancellationState,
    CancelReason,
    HrUser,
    Interview,
    OutboxMessage,
    OutboxStatus,
    Position,
    ReschedulePromise,
)
from app.models.backfill import PromiseState
from app.services.notifications import outbox
from app.services.users.actor import Actor, interview_scope

DIGEST_KIND = "staff_daily_digest"
PENDING = (CancellationState.REQUESTED, CancellationState.DETAIL_REQUESTED)
FAILED = (OutboxStatus.FAILED, OutboxStatus.UNREACHABLE)


@dataclass
class Digest:
    day: date
    by_reason: list[tuple[str, int]] = field(default_factory=list)
    pending: int = 0
    unreachable: int = 0
    at_risk: int = 0

    @property
    def cancelled(self) -> int:
        return sum(n for _, n in self.by_reason)

    def context(self) -> dict:
        end = datetime.combine(self.day + timedelta(days=1), time(0), SHANGHAI)
        return {"day": self.day.isoformat(), "day_end_at": iso(end - timedelta(minutes=1)),
                "cancelled": self.cancelled, "pending": self.pending,
                "failed": self.unreachable, "at_risk": self.at_risk,
                "by_reason": "、".join(f"{label}{n}场" for label, n in self.by_reason)}


def yesterday(now: datetime) -> date:
    return local(now).date() - timedelta(days=1)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), SHANGHAI)
    return start, start + timedelta(days=1)


def owners() -> list[HrUser]:
    """Active HR users who own a position (its recruiter)."""
    return list(db.session.scalars(select(HrUser).where(
        HrUser.active.is_(True),
        HrUser.id.in_(select(Position.recruiter_id).where(Position.recruiter_id.is_not(None))))
        .order_by(HrUser.id)))


def build(actor: Actor, now: datetime) -> Digest:
    """The digest of the day before `now` (Beijing) in the actor's scope."""
    from app.services.interviews.promises import warn_from
    from app.services.rules.calendar import WorkdayCalendar

    day = yesterday(now)
    start, end = day_bounds(day)
    scope = interview_scope(actor)
    effective_at = func.coalesce(Cancellation.decided_at, Cancellation.requested_at)
    digest = Digest(day)
    digest.by_reason = [(label, n) for label, n in db.session.execute(
        select(CancelReason.label, func.count(Cancellation.id))
        .join(Cancellation, Cancellation.reason_id == CancelReason.id)
        .join(Interview, Interview.id == Cancellation.interview_id)
        .join(Position, Position.id == Interview.position_id)
        .where(Cancellation.state == CancellationState.EFFECTIVE, effective_at >= start,
               effective_at < end, scope)
        .group_by(CancelReason.label).order_by(func.count(Cancellation.id).desc(),
                                               CancelReason.label))]
    digest.pending = db.session.scalar(
        select(func.count(Cancellation.id))
        .join(Interview, Interview.id == Cancellation.interview_id)
        .join(Position, Position.id == Interview.position_id)
        .where(Cancellation.state.in_(PENDING), scope)) or 0
    digest.unreachable = db.session.scalar(
        select(func.count(OutboxMessage.recipient_id.distinct()))
        .join(Interview, Interview.id == OutboxMessage.interview_id)
        .join(Position, Position.id == Interview.position_id)
        .where(OutboxMessage.recipient_type == "candidate", OutboxMessage.status.in_(FAILED),
               OutboxMessage.created_at >= start, OutboxMessage.created_at < end, scope)) or 0
    calendar = WorkdayCalendar()
    due = db.session.scalars(
        select(ReschedulePromise.due_at)
        .join(Interview, Interview.id == ReschedulePromise.interview_id)
        .join(Position, Position.id == Interview.position_id)
        .where(ReschedulePromise.state == PromiseState.OPEN, scope)).all()
    # at risk from the day of the promise's warning (the digest goes out before it)
    today = local(now).date()
    digest.at_risk = sum(1 for due_at in due if today >= warn_from(due_at, calendar).date())
    return digest


def send_digests(now: datetime) -> int:
    """Queue yesterday's digest for every HR owner who has not had it; returns how many
    were queued (the caller commits)."""
    queued = 0
    for user in owners():
        digest = build(Actor.hr(user), now)
        row = outbox.enqueue(event=f"digest:{digest.day.isoformat()}", kind=DIGEST_KIND,
                             recipient_type="hr_user", recipient_id=user.id, interview=None,
                             context=digest.context())
        queued += row is not None
    return queued
