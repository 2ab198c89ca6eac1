"""Candidate feedback for the console."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Candidate, Feedback, Interview

PAGE_SIZE = 20


def list_feedback(page: int = 1) -> tuple[list[tuple[Feedback, Candidate, Interview | None]], int]:
    """Newest first, with the candidate and interview each belongs to (one query)."""
    total = db.session.scalar(select(func.count()).select_from(Feedback)) or 0
    rows = db.session.execute(
        select(Feedback, Candidate, Interview)
        .join(Candidate, Candidate.id == Feedback.candidate_id)
        .outerjoin(Interview, Interview.id == Feedback.interview_id)
        .options(joinedload(Interview.position))
        .order_by(Feedback.created_at.desc(), Feedback.id.desc())
        .limit(PAGE_SIZE).offset((max(page, 1) - 1) * PAGE_SIZE)).all()
    return [tuple(r) for r in rows], total
