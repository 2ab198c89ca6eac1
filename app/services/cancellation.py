"""Cancelling interviews: by the candidate (the two taps)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from app.extensions import db
from app.models import (
    Approval,
    Cancellation,
    CancellationState,
    CancelReason,
    Interview,
    InterviewStatus,
    InvalidTransition,
    ReasonActor,
)
from app.services import audit, outbox, webhooks
from app.services.errors import (
    AlreadyCancelled,
    CancelDeadlinePassed,
    CancelPending,
    InterviewNotFound,
    InterviewStarted,
    InvalidReason,
    NotCancellable,
    NoteRequired,
    NoteTooLong,
)
from app.services.rules import get_rules
from app.timeutil import iso, utcnow


@dataclass
class CancelOutcome:
    interview: Interview
    cancellation: Cancellation

    @property
    def status(self) -> InterviewStatus:
        return self.interview.status

    @property
    def state(self) -> CancellationState:
        return self.cancellation.state


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


def _candidate_reason(code: str) -> CancelReason:
    reason = db.session.scalars(select(CancelReason).where(CancelReason.code == code)).first()
    if reason is None or not reason.active or reason.actor != ReasonActor.CANDIDATE:
        raise InvalidReason(details={"field": "reason_code"})
    return reason


def _check_note(reason: CancelReason, note: str | None, global_max: int) -> str | None:
    note = (note or "").strip() or None
    if reason.requires_note and not note:
        raise NoteRequired(details={"field": "note"})
    limit = min(reason.note_max_length, global_max)
    if note and len(note) > limit:
        raise NoteTooLong(f"说明最多{limit}个字", details={"field": "note", "max_length": limit})
    return note


def cancel_by_candidate(*, candidate_id: int, interview_public_id: str, reason_code: str,
                        note: str | None = None, now: datetime | None = None) -> CancelOutcome:
    """A candidate cancels their interview: cancelled at once, or a request for HR review
    when the position requires review. Refused after the self-service deadline."""
    try:
        outcome = _cancel_by_candidate(candidate_id, interview_public_id, reason_code, note,
                                       now or utcnow())
        db.session.commit()
    except StaleDataError:
        # A concurrent change won the optimistic lock: report the state it left.
        db.session.rollback()
        interview = load_candidate_interview(candidate_id, interview_public_id)
        raise _state_error(interview.status) from None
    except Exception:
        db.session.rollback()
        raise
    outbox.wake_dispatcher()
    return outcome


def _state_error(status: InterviewStatus):
    if status == InterviewStatus.CANCELLED:
        return AlreadyCancelled()
    if status == InterviewStatus.CANCEL_PENDING:
        return CancelPending()
    return NotCancellable()


def _cancel_by_candidate(candidate_id, public_id, reason_code, note, now) -> CancelOutcome:
    reason = _candidate_reason(reason_code)
    note = _check_note(reason, note, get_rules().note_max_length)
    interview = load_candidate_interview(candidate_id, public_id, lock=True)
    if interview.status not in (InterviewStatus.SCHEDULED, InterviewStatus.CONFIRMED):
        raise _state_error(interview.status)
    rules = get_rules()
    if now >= interview.scheduled_at:
        raise InterviewStarted()
    deadline = interview.cancel_deadline(rules.cancel_deadline_hours)
    late = now >= deadline
    if late and rules.after_deadline == "refuse":
        raise CancelDeadlinePassed(
            f"已超过可自助取消的时间（面试开始前{rules.cancel_deadline_hours}小时），"
            f"{rules.hr_contact}",
            details={"cancel_deadline": iso(deadline), "hr_contact": rules.hr_contact})

    needs_review = interview.position.cancel_requires_review or late
    try:
        if needs_review:
            interview.request_cancel()
        else:
            interview.cancel(now)
    except InvalidTransition:
        raise _state_error(interview.status) from None
    cancellation = Cancellation(
        interview=interview, actor_type="candidate", actor_id=candidate_id, reason=reason,
        note=note, requested_at=now,
        state=CancellationState.REQUESTED if needs_review else CancellationState.EFFECTIVE,
        decided_at=None if needs_review else now)
    db.session.add(cancellation)
    if needs_review:
        levels = 2 if interview.position.is_senior else 1
        for level in range(1, levels + 1):
            db.session.add(Approval(cancellation=cancellation, level=level))
    db.session.flush()  # version check happens here: a concurrent winner -> StaleDataError

    action = "interview.cancel_requested" if needs_review else "interview.cancelled"
    audit.record(actor_type="candidate", actor_id=candidate_id, action=action,
                 object_type="interview", object_id=interview.id,
                 data={"reason": reason.code, "note": note, "cancellation_id": cancellation.id,
                       "number": interview.number})
    _enqueue_notifications(interview, cancellation, reason.label, needs_review)
    event_type = "interview.cancel_requested" if needs_review else "interview.cancelled"
    webhooks.enqueue_event(event_type, f"{event_type}:{cancellation.id}",
                           webhooks.interview_payload(interview, reason=reason,
                                                      actor_type="candidate",
                                                      actor_id=candidate_id, at=now))
    return CancelOutcome(interview, cancellation)


def _enqueue_notifications(interview: Interview, cancellation: Cancellation, reason_label: str,
                           needs_review: bool) -> None:
    """Candidate confirmation, plus the recruiting team (and interviewer when cancelled)."""
    event = (f"interview.cancel_requested:{cancellation.id}" if needs_review
             else f"interview.cancelled:{cancellation.id}")
    context = outbox.interview_context(interview, reason_label=reason_label,
                                       note=cancellation.note or "")
    outbox.enqueue(event=event,
                   kind="candidate_cancel_requested" if needs_review
                   else "candidate_cancel_confirmed",
                   recipient_type="candidate", recipient_id=interview.candidate_id,
                   interview=interview, context=context)
    position = interview.position
    staff = [position.recruiter_id, position.hiring_manager_id]
    if not needs_review:
        staff.append(interview.interviewer_id)
    kind = "staff_approval_needed" if needs_review else "staff_candidate_cancelled"
    for user_id in dict.fromkeys(u for u in staff if u is not None):
        outbox.enqueue(event=event, kind=kind, recipient_type="hr_user", recipient_id=user_id,
                       interview=interview, context=context)
