"""The 待审批 queue: candidates' cancellation requests in the actor's scope (no N+1)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from app.extensions import db
from app.models import Cancellation, CancellationState, Interview, Position
from app.services.cancellation.facts import (
    ApprovalFacts,
    CandidateFacts,
    InterviewFacts,
    PositionFacts,
    ReasonFacts,
    RequestFacts,
)
from app.services.cancellation.policy import may_decide, pending_level
from app.services.users.actor import Actor, interview_scope

QUEUE_LIMIT = 200


@dataclass
class QueueItem:
    cancellation: Cancellation
    request: RequestFacts
    level: int | None
    levels: int
    can_decide: bool


def request_facts(c: Cancellation) -> RequestFacts:
    """The policy's view of a loaded cancellation (interview, position, candidate,
    reason and approvals loaded)."""
    iv = c.interview
    p = iv.position
    interview = InterviewFacts(
        iv.id, iv.public_id, iv.number, iv.status, iv.status_before_request, iv.scheduled_at,
        iv.duration_minutes, iv.join_url, iv.confirm_by, iv.session_id, iv.interviewer_id,
        iv.version,
        PositionFacts(p.title, p.department, p.is_senior, p.cancel_requires_review,
                      p.recruiter_id, p.hiring_manager_id),
        CandidateFacts(iv.candidate_id, iv.candidate.name, iv.candidate.external_ref))
    r = c.reason
    return RequestFacts(c.id, c.state, interview,
                        ReasonFacts(r.id, r.code, r.label, r.actor, r.active, r.requires_note,
                                    r.note_max_length),
                        c.note, tuple(ApprovalFacts(a.level, a.decision, a.approver_id)
                                      for a in c.approvals), c.detail_question)


def approval_queue(actor: Actor, *, state: str = "open", department: str | None = None,
                   mine: bool = False) -> list[QueueItem]:
    """Open requests (waiting for a decision or for the candidate's detail), oldest first.
    `mine`: only those this actor may decide now."""
    states = {"open": [CancellationState.REQUESTED, CancellationState.DETAIL_REQUESTED],
              "requested": [CancellationState.REQUESTED],
              "detail": [CancellationState.DETAIL_REQUESTED]}.get(state) or \
        [CancellationState.REQUESTED, CancellationState.DETAIL_REQUESTED]
    stmt = (select(Cancellation)
            .join(Cancellation.interview).join(Interview.position)
            .options(contains_eager(Cancellation.interview).contains_eager(Interview.position),
                     contains_eager(Cancellation.interview).joinedload(Interview.candidate),
                     joinedload(Cancellation.reason), selectinload(Cancellation.approvals))
            .where(Cancellation.state.in_(states), interview_scope(actor))
            .order_by(Cancellation.requested_at, Cancellation.id).limit(QUEUE_LIMIT))
    if department:
        stmt = stmt.where(Position.department == department)
    items = []
    for c in db.session.scalars(stmt).unique():
        request = request_facts(c)
        item = QueueItem(c, request, pending_level(request), len(c.approvals),
                         may_decide(request, actor))
        if not mine or item.can_decide:
            items.append(item)
    return items
