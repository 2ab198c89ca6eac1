"""Cancel reasons (HR-maintained catalogue), cancellations and their approvals."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db
from app.models._base import TimestampMixin
from app.models.interview import Interview


def _enum(cls, length=20):
    return Enum(cls, native_enum=False, length=length,
                values_callable=lambda e: [m.value for m in e])


class ReasonActor(str, enum.Enum):
    CANDIDATE = "candidate"
    COMPANY = "company"


class CancelReason(TimestampMixin, db.Model):
    __tablename__ = "cancel_reasons"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    label: Mapped[str] = mapped_column(String(40))
    # candidate_initiated / position_change / candidate_mismatch / technical
    category: Mapped[str] = mapped_column(String(40))
    actor: Mapped[ReasonActor] = mapped_column(_enum(ReasonActor))
    requires_note: Mapped[bool] = mapped_column(Boolean, default=False)
    note_max_length: Mapped[int] = mapped_column(Integer, default=200)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CancellationState(str, enum.Enum):
    REQUESTED = "requested"   # waiting for HR approval
    EFFECTIVE = "effective"   # the interview is cancelled
    REJECTED = "rejected"     # HR refused the request


class Cancellation(TimestampMixin, db.Model):
    __tablename__ = "cancellations"

    id: Mapped[int] = mapped_column(primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"), index=True)
    actor_type: Mapped[str] = mapped_column(String(16))  # candidate / hr / system
    actor_id: Mapped[int | None] = mapped_column(Integer)
    reason_id: Mapped[int] = mapped_column(ForeignKey("cancel_reasons.id"))
    note: Mapped[str | None] = mapped_column(Text)
    state: Mapped[CancellationState] = mapped_column(_enum(CancellationState))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    batch_id: Mapped[str | None] = mapped_column(String(40), index=True)

    interview: Mapped[Interview] = relationship()
    reason: Mapped[CancelReason] = relationship()
    approvals: Mapped[list[Approval]] = relationship(back_populates="cancellation",
                                                       order_by="Approval.level")


class ApprovalDecision(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Approval(TimestampMixin, db.Model):
    """One level of review of a cancellation request (two levels for senior positions)."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    cancellation_id: Mapped[int] = mapped_column(ForeignKey("cancellations.id"), index=True)
    level: Mapped[int] = mapped_column(Integer, default=1)
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("hr_users.id"))
    decision: Mapped[ApprovalDecision] = mapped_column(_enum(ApprovalDecision),
                                                       default=ApprovalDecision.PENDING)
    comment: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    cancellation: Mapped[Cancellation] = relationship(back_populates="approvals")
