"""Read-only queries behind the candidate API."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import CancelReason, Cancellation, Interview, ReasonActor


def candidate_interviews(candidate_id: int) -> list[Interview]:
    return list(db.session.scalars(
        select(Interview).options(joinedload(Interview.position))
        .where(Interview.candidate_id == candidate_id)
        .order_by(Interview.scheduled_at.desc())))


def candidate_cancel_reasons() -> list[CancelReason]:
    """Active candidate-side reasons in HR's order."""
    return list(db.session.scalars(
        select(CancelReason).where(CancelReason.active.is_(True),
                                   CancelReason.actor == ReasonActor.CANDIDATE)
        .order_by(CancelReason.sort_order, CancelReason.id)))


def cancellation_summary(cancellation_id: int) -> dict:
    c = db.session.scalars(select(Cancellation).options(joinedload(Cancellation.reason))
                           .where(Cancellation.id == cancellation_id)).one()
    return {"reason_code": c.reason.code, "reason_label": c.reason.label, "note": c.note}
