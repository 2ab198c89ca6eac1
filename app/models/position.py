"""Positions and interview sessions (time slots with capacity)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.timeutil import UTCDateTime
from app.extensions import db
from app.models._base import TimestampMixin


class Position(TimestampMixin, db.Model):
    __tablename__ = "positions"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    department: Mapped[str] = mapped_column(String(100), index=True)
    level: Mapped[str] = mapped_column(String(32))
    is_senior: Mapped[bool] = mapped_column(Boolean, default=False)
    cancel_requires_review: Mapped[bool] = mapped_column(Boolean, default=False)
    hiring_manager_id: Mapped[int | None] = mapped_column(ForeignKey("hr_users.id"))
    recruiter_id: Mapped[int | None] = mapped_column(ForeignKey("hr_users.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Id in the company's ATS / ERP (imports and the integration API upsert by it).
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Hours after the invitation an unconfirmed interview is auto-cancelled (None: the rule).
    auto_cancel_unconfirmed_hours: Mapped[int | None] = mapped_column(Integer)


class InterviewSession(TimestampMixin, db.Model):
    """A time slot ("2024年3月15日 14:00-16:00 的AI面试") holding up to `capacity` interviews."""

    __tablename__ = "interview_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    position_id: Mapped[int | None] = mapped_column(ForeignKey("positions.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    capacity: Mapped[int] = mapped_column(Integer, default=10)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)

    position: Mapped[Position | None] = relationship()

    @property
    def has_room(self) -> bool:
        return self.booked < self.capacity
