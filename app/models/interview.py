"""Interviews and their state machine: invalid transitions raise InvalidTransition."""
from __future__ import annotations

import enum
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Enum, ForeignKey, Integer, String, case
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.timeutil import UTCDateTime
from app.extensions import db
from app.models._base import TimestampMixin
from app.models.candidate import Candidate
from app.models.position import InterviewSession, Position


class InvalidTransition(Exception):
    """The interview cannot move from its current status to the requested one."""

    def __init__(self, current: InterviewStatus, target: InterviewStatus):
        self.current = current
        self.target = target
        super().__init__(f"interview cannot go from {current.value} to {target.value}")


class InterviewStatus(str, enum.Enum):
    SCHEDULED = "scheduled"
    CONFIRMED = "confirmed"
    CANCEL_PENDING = "cancel_pending"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    NO_SHOW = "no_show"  # the candidate did not attend (reported by the AI-interview platform)

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    InterviewStatus.SCHEDULED: "待确认",
    InterviewStatus.CONFIRMED: "已确认",
    InterviewStatus.CANCEL_PENDING: "取消审批中",
    InterviewStatus.CANCELLED: "已取消",
    InterviewStatus.COMPLETED: "已完成",
    InterviewStatus.NO_SHOW: "未到场",
}

S = InterviewStatus
TRANSITIONS: dict[InterviewStatus, frozenset[InterviewStatus]] = {
    S.SCHEDULED: frozenset({S.CONFIRMED, S.CANCEL_PENDING, S.CANCELLED, S.COMPLETED,
                            S.NO_SHOW}),
    S.CONFIRMED: frozenset({S.SCHEDULED, S.CANCEL_PENDING, S.CANCELLED, S.COMPLETED,
                            S.NO_SHOW}),
    S.CANCEL_PENDING: frozenset({S.CANCELLED, S.SCHEDULED, S.CONFIRMED}),
    S.CANCELLED: frozenset(),
    S.COMPLETED: frozenset(),
    S.NO_SHOW: frozenset(),
}
ACTIVE_STATUSES = frozenset({S.SCHEDULED, S.CONFIRMED})


def new_public_id() -> str:
    """Opaque, unguessable id for URLs (no enumeration)."""
    return "iv_" + secrets.token_urlsafe(12)


class Interview(TimestampMixin, db.Model):
    __tablename__ = "interviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    # Id in the AI-interview platform / ATS (imports and the integration API upsert by it).
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), index=True)
    position_id: Mapped[int] = mapped_column(ForeignKey("positions.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("interview_sessions.id"),
                                                   index=True)
    interviewer_id: Mapped[int | None] = mapped_column(ForeignKey("hr_users.id"))
    status: Mapped[InterviewStatus] = mapped_column(
        Enum(InterviewStatus, native_enum=False, length=20,
             values_callable=lambda e: [m.value for m in e]),
        default=InterviewStatus.SCHEDULED, index=True)
    # Status to return to when a cancellation request is rejected.
    status_before_request: Mapped[InterviewStatus | None] = mapped_column(
        Enum(InterviewStatus, native_enum=False, length=20,
             values_callable=lambda e: [m.value for m in e]))
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=30)
    join_url: Mapped[str | None] = mapped_column(String(500))
    confirm_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Optimistic lock: a concurrent writer's UPDATE matches no row and raises StaleDataError.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    candidate: Mapped[Candidate] = relationship(back_populates="interviews")
    position: Mapped[Position] = relationship()
    session: Mapped[InterviewSession | None] = relationship()

    # --- state machine -------------------------------------------------------------
    def _move(self, target: InterviewStatus) -> None:
        if target not in TRANSITIONS[self.status]:
            raise InvalidTransition(self.status, target)
        self.status = target

    def confirm(self, at: datetime) -> None:
        self._move(S.CONFIRMED)
        self.confirmed_at = at

    def request_cancel(self) -> None:
        previous = self.status
        self._move(S.CANCEL_PENDING)
        self.status_before_request = previous

    def cancel(self, at: datetime) -> None:
        self._move(S.CANCELLED)
        self.cancelled_at = at
        if self.session is not None:
            # In SQL, not read-modify-write: a concurrent reschedule's booked + 1 survives.
            self.session.booked = case((InterviewSession.booked > 0, InterviewSession.booked - 1),
                                       else_=0)

    def reject_cancel_request(self) -> None:
        self._move(self.status_before_request or S.SCHEDULED)
        self.status_before_request = None

    def complete(self) -> None:
        self._move(S.COMPLETED)

    def mark_no_show(self) -> None:
        self._move(S.NO_SHOW)

    def reschedule(self, session: InterviewSession, at: datetime) -> None:
        """Move to another session (place bookkeeping is the caller's, done atomically in
        SQL). A confirmed interview goes back to scheduled: the confirmation was for the
        old time. The confirmation deadline keeps its lead time, or becomes the start when
        that lead time has already passed."""
        if self.status not in ACTIVE_STATUSES:
            raise InvalidTransition(self.status, S.SCHEDULED)
        if self.status == S.CONFIRMED:
            self._move(S.SCHEDULED)
            self.confirmed_at = None
        if self.confirm_by is not None:
            new_confirm_by = session.starts_at - (self.scheduled_at - self.confirm_by)
            self.confirm_by = new_confirm_by if new_confirm_by > at else session.starts_at
        self.session = session
        self.scheduled_at = session.starts_at

    # --- derived -------------------------------------------------------------------
    @property
    def ends_at(self) -> datetime:
        return self.scheduled_at + timedelta(minutes=self.duration_minutes)

    def cancel_deadline(self, hours_before: int) -> datetime:
        return self.scheduled_at - timedelta(hours=hours_before)

    def candidate_can_cancel(self, now: datetime, hours_before: int) -> bool:
        return self.status in ACTIVE_STATUSES and now < self.cancel_deadline(hours_before)
