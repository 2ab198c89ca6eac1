"""What the Official Account's HR commands look up: an interview by its number in the
user's scope, and its open cancellation request.

Trap: an interview outside the user's scope is answered exactly like one that does not
exist (the command says 未找到), so nobody learns numbers they may not see.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import contains_eager, joinedload

from app.extensions import db
from app.models import Cancellation, CancellationState, Interview
from app.services.users.actor import Actor, interview_scope

OPEN_REQUEST_STATES = (CancellationState.REQUESTED, CancellationState.DETAIL_REQUESTED)


def interview_by_number(actor: Actor, number: str) -> Interview | None:
    """The interview with this number (as typed, or in capitals: ai-2026-… is AI-2026-…)
    in the actor's scope."""
    number = number.strip()
    return db.session.scalars(
        select(Interview).join(Interview.position)
        .options(contains_eager(Interview.position), joinedload(Interview.candidate))
        .where(Interview.number.in_(sorted({number, number.upper()})), interview_scope(actor))
    ).one_or_none()


def open_request_id(interview_id: int) -> int | None:
    """The interview's latest cancellation request still waiting for a decision."""
    return db.session.scalar(
        select(Cancellation.id).where(Cancellation.interview_id == interview_id,
                                      Cancellation.state.in_(OPEN_REQUEST_STATES))
        .order_by(Cancellation.requested_at.desc(), Cancellation.id.desc()).limit(1))
