"""What the scheduled jobs record: each job's last run (with its fencing token), the
confirmation reminders queued and the requests escalated (each once).

Traps: `JobRun.fence` only ever grows; a run whose token is lower than the stored one
was superseded (its lock expired and another worker took the turn) and records nothing.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.timeutil import UTCDateTime
from app.extensions import db


class JobRun(db.Model):
    """The last run of one scheduled job (one row per job)."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    fence: Mapped[int] = mapped_column(Integer, default=0)   # token of the latest run
    turn: Mapped[str | None] = mapped_column(String(40))      # the period it ran for
    worker_id: Mapped[str | None] = mapped_column(String(40))
    clock_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the job's `now`
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    runs: Mapped[int] = mapped_column(Integer, default=0)


class ConfirmReminder(db.Model):
    """A confirmation reminder queued for an interview's deadline (once per deadline)."""

    __tablename__ = "confirm_reminders"

    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"), primary_key=True)
    confirm_by: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RequestEscalation(db.Model):
    """A candidate's request escalated to the department's recruiting managers (once)."""

    __tablename__ = "request_escalations"

    cancellation_id: Mapped[int] = mapped_column(ForeignKey("cancellations.id"),
                                                 primary_key=True)
    escalated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    managers: Mapped[int] = mapped_column(Integer, default=0)
