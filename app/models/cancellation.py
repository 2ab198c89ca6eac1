"""Cancel reasons (HR-maintained catalogue), cancellations and their approvals."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, Enum, ForeignKey, Integer, String, Text
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
    DETAIL_REQUESTED = "detail_requested"  # HR asked the candidate to add to the reason
    EFFECTIVE = "effective"   # the interview is cancelled
    REJECTED = "rejected"     # HR refused the request

    @property
    def label(self) -> str:
        return CANCELLATION_STATE_LABELS[self]


CANCELLATION_STATE_LABELS = {
    CancellationState.REQUESTED: "待审批",
    CancellationState.DETAIL_REQUESTED: "待候选人补充说明",
    CancellationState.EFFECTIVE: "已取消",
    CancellationState.REJECTED: "已驳回",
}


class ActorType(str, enum.Enum):
    """Who cancelled: the end states 候选人取消 / 公司取消 / 系统取消 are told apart by it.
    INTEGRATION is the company too (an API key of /api/integration/v1 acting for it)."""
    CANDIDATE = "candidate"
    HR = "hr"
    SYSTEM = "system"
    INTEGRATION = "integration"

    @property
    def label(self) -> str:
        return {"candidate": "候选人取消", "hr": "公司取消", "system": "系统取消",
                "integration": "公司取消（系统对接）"}[self.value]

    @property
    def is_company(self) -> bool:
        """HR users and the company's systems (API keys) act for the company."""
        return self in (ActorType.HR, ActorType.INTEGRATION)


class Cancellation(TimestampMixin, db.Model):
    __tablename__ = "cancellations"

    id: Mapped[int] = mapped_column(primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"), index=True)
    # ActorType: candidate / hr / system / integration (an API key: actor_id is its id)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    # The rule a system cancel applied (e.g. auto_cancel_unconfirmed).
    actor_rule: Mapped[str | None] = mapped_column(String(40))
    reason_id: Mapped[int] = mapped_column(ForeignKey("cancel_reasons.id"))
    note: Mapped[str | None] = mapped_column(Text)
    state: Mapped[CancellationState] = mapped_column(_enum(CancellationState), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    batch_id: Mapped[str | None] = mapped_column(String(40), index=True)
    # HR promised to offer the candidate a new slot by this time (为候选人重新安排).
    reschedule_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # 要求补充说明: HR's question and the candidate's answer.
    detail_question: Mapped[str | None] = mapped_column(Text)
    detail_answer: Mapped[str | None] = mapped_column(Text)
    detail_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    detail_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

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


class BatchStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return {"queued": "排队中", "running": "进行中", "done": "已完成",
                "failed": "失败"}[self.value]


class CancelBatch(TimestampMixin, db.Model):
    """One batch cancel (a whole session, a position, a date range or ticked rows): who,
    when, the criteria, the reason, and the counts. The preview's token makes submitting
    the same preview twice one batch."""

    __tablename__ = "cancel_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    preview_token: Mapped[str] = mapped_column(String(64), unique=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("hr_users.id"))
    criteria: Mapped[dict] = mapped_column(JSON, default=dict)
    # The interviews (id and version) the preview showed; changed ones are skipped.
    selection: Mapped[list] = mapped_column(JSON, default=list)
    reason_id: Mapped[int] = mapped_column(ForeignKey("cancel_reasons.id"))
    note: Mapped[str | None] = mapped_column(Text)
    reschedule: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[BatchStatus] = mapped_column(_enum(BatchStatus))
    total: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[list] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    reason: Mapped[CancelReason] = relationship()
