"""Read-only queries behind the candidate API."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Cancellation, CancellationState, CancelReason, Interview, ReasonActor
from app.services.interviews.errors import InterviewNotFound


def load_candidate_interview(candidate_id: int, public_id: str, *, lock: bool = False
                             ) -> Interview:
    """The candidate's own interview; another candidate's interview is 'not found'."""
    stmt = (select(Interview)
            .options(joinedload(Interview.position), joinedload(Interview.candidate),
                     joinedload(Interview.session))
            .where(Interview.public_id == public_id, Interview.candidate_id == candidate_id))
    if lock:
        stmt = stmt.with_for_update(of=Interview)
    interview = db.session.scalars(stmt).first()
    if interview is None:
        raise InterviewNotFound()
    return interview


@dataclass(frozen=True)
class CancellationView:
    """What the candidate sees of an interview's latest cancellation."""
    cancelled_by: str | None        # candidate / company / system
    detail_question: str | None     # HR asked for more detail (and waits)


INITIATOR = {"candidate": "candidate", "hr": "company", "system": "system",
             "integration": "company"}


def cancellation_states(interview_ids: list[int]) -> dict[int, CancellationView]:
    """The latest cancellation of each interview, in one query."""
    if not interview_ids:
        return {}
    latest = (select(func.max(Cancellation.id)).where(
        Cancellation.interview_id.in_(interview_ids)).group_by(Cancellation.interview_id))
    out = {}
    for c in db.session.scalars(select(Cancellation).where(Cancellation.id.in_(latest))):
        waiting = c.state == CancellationState.DETAIL_REQUESTED
        out[c.interview_id] = CancellationView(
            INITIATOR.get(c.actor_type) if c.state == CancellationState.EFFECTIVE else None,
            c.detail_question if waiting else None)
    return out


def candidate_interviews(candidate_id: int) -> list[Interview]:
    return list(db.session.scalars(
        select(Interview).options(joinedload(Interview.position))
        .where(Interview.candidate_id == candidate_id)
        .order_by(Interview.scheduled_at.desc())))


def company_cancel_reasons() -> list[CancelReason]:
    """Active company-side reasons in HR's order (HR cancels, batches)."""
    return list(db.session.scalars(
        select(CancelReason).where(CancelReason.active.is_(True),
                                   CancelReason.actor == ReasonActor.COMPANY)
        .order_by(CancelReason.sort_order, CancelReason.id)))


def candidate_cancel_reasons() -> list[CancelReason]:
    """Active candidate-side reasons in HR's order."""
    return list(db.session.scalars(
        select(CancelReason).where(CancelReason.active.is_(True),
                                   CancelReason.actor == ReasonActor.CANDIDATE)
        .order_by(CancelReason.sort_order, CancelReason.id)))


def interview_timeline(iv: Interview) -> list[dict]:
    """What happened to this interview, oldest first, in Chinese, for the candidate."""
    from app.core.timeutil import iso
    from app.models import AuditEntry, OutboxMessage

    events: list[tuple] = [(iv.created_at, "scheduled", "面试已安排", None)]
    if iv.confirmed_at:
        events.append((iv.confirmed_at, "confirmed", "已确认参加", None))
    cancellations = db.session.scalars(
        select(Cancellation).options(joinedload(Cancellation.reason))
        .where(Cancellation.interview_id == iv.id)).all()
    for c in cancellations:
        reason = c.reason.label
        if c.state.value == "requested" or c.decided_at is None or c.decided_at != c.requested_at:
            events.append((c.requested_at, "cancel_requested", "已提交取消申请", reason))
        if c.state.value == "rejected":
            events.append((c.decided_at, "cancel_rejected", "取消申请未通过", reason))
        elif c.state.value == "effective":
            if c.decided_at != c.requested_at:
                events.append((c.decided_at, "cancel_approved", "取消申请已通过", reason))
            events.append((c.decided_at, "cancelled", "面试已取消", reason))
    for entry in db.session.scalars(select(AuditEntry).where(
            AuditEntry.object_type == "interview", AuditEntry.object_id == iv.id,
            AuditEntry.action == "interview.rescheduled")):
        events.append((entry.at, "rescheduled", "面试已改期", entry.data.get("to_text")))
    for m in db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.interview_id == iv.id, OutboxMessage.recipient_type == "candidate",
            OutboxMessage.recipient_id == iv.candidate_id)):
        for at, kind, label in ((m.sent_at, "message_sent", "通知已发送"),
                                (m.delivered_at, "message_delivered", "通知已送达"),
                                (m.read_at, "message_read", "通知已查看")):
            if at:
                events.append((at, kind, label, None))
    events.sort(key=lambda e: e[0])
    return [{"type": t, "label": label, "at": iso(at), "detail": detail}
            for at, t, label, detail in events]
