"""Personal data lifecycle (PIPL): privacy-notice consent at binding, erasure requests,
and the record that a candidate's personal data was erased (anonymised).

Trap: an anonymised candidate keeps its row and every interview, cancellation and outbox
row (reports count them); only personal fields are blanked. `CandidateAnonymisation` is
the marker that it happened (the candidate row itself has no column for it).
"""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db


class PrivacyConsent(db.Model):
    """The privacy-notice version a candidate accepted in the mini program, and when."""

    __tablename__ = "privacy_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), index=True)
    wechat_account_id: Mapped[int | None] = mapped_column(ForeignKey("wechat_accounts.id"))
    notice_version: Mapped[str] = mapped_column(String(32))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ErasureStatus(str, enum.Enum):
    PENDING = "pending"
    DONE = "done"

    @property
    def label(self) -> str:
        return {"pending": "待处理", "done": "已删除"}[self.value]


class ErasureRequest(db.Model):
    """A candidate asked for their personal data to be erased (due within N working days)."""

    __tablename__ = "erasure_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), index=True)
    status: Mapped[ErasureStatus] = mapped_column(
        Enum(ErasureStatus, native_enum=False, length=16,
             values_callable=lambda e: [m.value for m in e]),
        default=ErasureStatus.PENDING, index=True)
    # Names the department the request is shown to (read when it was made: the candidate's
    # data is gone afterwards).
    department: Mapped[str | None] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by: Mapped[int | None] = mapped_column(Integer)  # HR user; None: the job


class CandidateAnonymisation(db.Model):
    """The candidate's personal data was erased (retention period over or on request)."""

    __tablename__ = "candidate_anonymisations"

    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), primary_key=True)
    anonymised_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    trigger: Mapped[str] = mapped_column(String(16))  # retention / request
    erasure_request_id: Mapped[int | None] = mapped_column(ForeignKey("erasure_requests.id"))
