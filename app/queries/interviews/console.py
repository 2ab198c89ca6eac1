"""Interview list and detail queries for the HR console (read-only, no N+1)."""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import contains_eager, joinedload

from app.extensions import db
from app.models import (
    AuditEntry,
    Cancellation,
    Candidate,
    HrUser,
    Interview,
    InterviewStatus,
    OutboxMessage,
    Position,
)

PER_PAGE = 20
MAX_QUERY_LENGTH = 100
# Statuses whose latest cancellation explains the current state.
CANCEL_STATUSES = frozenset({InterviewStatus.CANCELLED, InterviewStatus.CANCEL_PENDING})


@dataclass
class InterviewRow:
    """One list row: the interview plus what the page shows next to it."""

    interview: Interview
    messages: list[OutboxMessage] = field(default_factory=list)
    latest_cancellation: Cancellation | None = None

    @property
    def cancellation(self) -> Cancellation | None:
        """The cancellation to show in the list, only while it explains the status."""
        if self.interview.status in CANCEL_STATUSES:
            return self.latest_cancellation
        return None


@dataclass
class InterviewPage:
    """A page of interview rows with its pagination numbers."""

    rows: list[InterviewRow]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


@dataclass
class InterviewDetail:
    """Everything the detail page shows about one interview."""

    interview: Interview
    cancellations: list[Cancellation]
    messages: list[OutboxMessage]
    audit_entries: list[AuditEntry]
    hr_names: dict[int, str]


def _filters(q: str | None, status: InterviewStatus | None) -> list:
    conditions = []
    q = (q or "").strip()[:MAX_QUERY_LENGTH]
    if q:
        conditions.append(or_(
            Interview.number.istartswith(q, autoescape=True),  # exact or prefix
            Candidate.name.icontains(q, autoescape=True),
            Position.title.icontains(q, autoescape=True),
        ))
    if status is not None:
        conditions.append(Interview.status == status)
    return conditions


def list_interviews(q: str | None = None, status: InterviewStatus | None = None,
                    page: int = 1, per_page: int = PER_PAGE) -> InterviewPage:
    """Interviews matching the search, newest time first; pages past the end show the last."""
    conditions = _filters(q, status)
    total = db.session.scalar(
        select(func.count(Interview.id)).join(Interview.candidate).join(Interview.position)
        .where(*conditions)) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    interviews = db.session.scalars(
        select(Interview).join(Interview.candidate).join(Interview.position)
        .options(contains_eager(Interview.candidate), contains_eager(Interview.position))
        .where(*conditions)
        .order_by(Interview.scheduled_at.desc(), Interview.id.desc())
        .limit(per_page).offset((page - 1) * per_page)).all()
    ids = [interview.id for interview in interviews]
    messages = messages_by_interview(ids)
    cancellations = latest_cancellations(ids)
    rows = [InterviewRow(interview, messages.get(interview.id, []),
                         cancellations.get(interview.id)) for interview in interviews]
    return InterviewPage(rows=rows, page=page, per_page=per_page, total=total)


def messages_by_interview(interview_ids: list[int]) -> dict[int, list[OutboxMessage]]:
    """Outbox messages of these interviews in one query, grouped by interview id."""
    grouped: dict[int, list[OutboxMessage]] = defaultdict(list)
    if not interview_ids:
        return grouped
    messages = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.interview_id.in_(interview_ids))
        .order_by(OutboxMessage.created_at, OutboxMessage.id))
    for message in messages:
        grouped[message.interview_id].append(message)
    return grouped


def latest_cancellations(interview_ids: list[int]) -> dict[int, Cancellation]:
    """The most recent cancellation of each of these interviews, in one query."""
    if not interview_ids:
        return {}
    latest_ids = (select(func.max(Cancellation.id))
                  .where(Cancellation.interview_id.in_(interview_ids))
                  .group_by(Cancellation.interview_id))
    cancellations = db.session.scalars(
        select(Cancellation).options(joinedload(Cancellation.reason))
        .where(Cancellation.id.in_(latest_ids)))
    return {cancellation.interview_id: cancellation for cancellation in cancellations}


def get_interview_detail(public_id: str) -> InterviewDetail | None:
    """The interview with its cancellations, messages and audit trail; None if unknown."""
    interview = db.session.scalars(
        select(Interview)
        .options(joinedload(Interview.candidate), joinedload(Interview.position))
        .where(Interview.public_id == public_id)).one_or_none()
    if interview is None:
        return None
    cancellations = db.session.scalars(
        select(Cancellation).options(joinedload(Cancellation.reason))
        .where(Cancellation.interview_id == interview.id)
        .order_by(Cancellation.requested_at.desc(), Cancellation.id.desc())).all()
    messages = messages_by_interview([interview.id]).get(interview.id, [])
    audit_entries = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.object_type == "interview", AuditEntry.object_id == interview.id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())).all()
    hr_ids = ({interview.interviewer_id}
              | {c.actor_id for c in cancellations if c.actor_type == "hr"}
              | {a.actor_id for a in audit_entries if a.actor_type == "hr"}
              | {m.recipient_id for m in messages if m.recipient_type in ("hr", "hr_user")})
    return InterviewDetail(interview, cancellations, messages, audit_entries,
                           hr_display_names(hr_ids))


def hr_display_names(user_ids: set[int | None]) -> dict[int, str]:
    """Display names of these HR users in one query."""
    ids = [user_id for user_id in user_ids if user_id is not None]
    if not ids:
        return {}
    rows = db.session.execute(
        select(HrUser.id, HrUser.display_name).where(HrUser.id.in_(ids)))
    return {row.id: row.display_name for row in rows}


def candidate_id_of(public_id: str) -> int | None:
    """The candidate of an interview, without loading its detail."""
    return db.session.scalar(select(Interview.candidate_id).where(
        Interview.public_id == public_id))
