"""Candidate feedback for the console, in the user's scope, with where each came from
(mini program or Official Account), HR's replies and the 48-hour reply window.

Scope: a feedback tied to an interview is seen by whoever sees that interview; one tied
to no interview only by those who see every department (admins).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import False_, True_, and_, false, func, or_, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Candidate, Feedback, FeedbackReply, FeedbackSource, Interview, Position
from app.services.users.actor import Actor, interview_scope

PAGE_SIZE = 20
# WeChat delivers customer-service messages only this long after the user's last message.
CUSTOMER_SERVICE_WINDOW = timedelta(hours=48)


def feedback_scope(actor: Actor):
    """The SQL condition (over Feedback) of the feedback this actor may read."""
    scope = interview_scope(actor)
    if isinstance(scope, False_):
        return false()
    in_scope = Feedback.interview_id.in_(
        select(Interview.id).join(Position, Position.id == Interview.position_id)
        .where(scope))
    if isinstance(scope, True_):
        return or_(Feedback.interview_id.is_(None), in_scope)
    return and_(Feedback.interview_id.is_not(None), in_scope)


def list_feedback(page: int = 1, *, actor: Actor
                  ) -> tuple[list[tuple[Feedback, Candidate, Interview | None]], int]:
    """Newest first, with the candidate and interview each belongs to (one query)."""
    scope = feedback_scope(actor)
    total = db.session.scalar(select(func.count()).select_from(Feedback).where(scope)) or 0
    rows = db.session.execute(
        select(Feedback, Candidate, Interview)
        .join(Candidate, Candidate.id == Feedback.candidate_id)
        .outerjoin(Interview, Interview.id == Feedback.interview_id)
        .options(joinedload(Interview.position))
        .where(scope)
        .order_by(Feedback.created_at.desc(), Feedback.id.desc())
        .limit(PAGE_SIZE).offset((max(page, 1) - 1) * PAGE_SIZE)).all()
    return [tuple(r) for r in rows], total


@dataclass(frozen=True)
class ReplyWindow:
    openid: str
    last_message_at: datetime
    closes_at: datetime

    def open(self, now: datetime) -> bool:
        return now < self.closes_at


def _aware(value: datetime) -> datetime:
    # SQLite's max() comes back as text/naive, not through the column's type
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def reply_windows(feedback_ids: list[int]) -> dict[int, ReplyWindow]:
    """For each Official Account feedback: the openid it came from and the 48-hour window
    since that user's last message (any of theirs), in two queries."""
    if not feedback_ids:
        return {}
    sources = {s.feedback_id: s for s in db.session.scalars(
        select(FeedbackSource).where(FeedbackSource.feedback_id.in_(feedback_ids)))}
    openids = sorted({s.openid for s in sources.values()})
    latest = {openid: _aware(last) for openid, last in db.session.execute(
        select(FeedbackSource.openid, func.max(FeedbackSource.received_at))
        .where(FeedbackSource.openid.in_(openids)).group_by(FeedbackSource.openid))} \
        if openids else {}
    out = {}
    for feedback_id, source in sources.items():
        last = max(latest.get(source.openid, source.received_at), source.received_at)
        out[feedback_id] = ReplyWindow(source.openid, last, last + CUSTOMER_SERVICE_WINDOW)
    return out


def replies_of(feedback_ids: list[int]) -> dict[int, list[FeedbackReply]]:
    """HR's replies to these feedbacks, oldest first."""
    grouped: dict[int, list[FeedbackReply]] = {}
    if feedback_ids:
        for reply in db.session.scalars(
                select(FeedbackReply).where(FeedbackReply.feedback_id.in_(feedback_ids))
                .order_by(FeedbackReply.id)):
            grouped.setdefault(reply.feedback_id, []).append(reply)
    return grouped
