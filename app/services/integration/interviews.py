"""What an integration (an API key acting for the company) does to one interview: find it
by external id or number within the key's departments, read it with its cancellation and
notifications, cancel it through the cancellation core, report its outcome.

An interview outside the key's departments is "not found", exactly as for HR users
(interview_scope / Actor.sees): no hint that it exists.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import contains_eager, joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from app.core.errors import Conflict
from app.core.timeutil import utcnow
from app.extensions import db
from app.models import Cancellation, Interview, InterviewStatus, OutboxMessage
from app.models.interview import TRANSITIONS
from app.services import audit
from app.services.cancellation import commands
from app.services.cancellation.policy import PermissionDenied
from app.services.interviews.errors import InterviewNotFound
from app.services.users.actor import Actor, interview_scope

OUTCOMES = {"completed": InterviewStatus.COMPLETED, "no_show": InterviewStatus.NO_SHOW}


class OutcomeNotAllowed(Conflict):
    code = "outcome_not_allowed"
    message = "该面试当前的状态不能报告面试结果"


class InterviewNotStarted(Conflict):
    code = "interview_not_started"
    message = "面试尚未开始，不能报告面试结果"


@dataclass(frozen=True)
class InterviewRecord:
    """An interview as the integration reads it."""
    interview: Interview
    cancellation: Cancellation | None     # the latest one (with reason and approvals)
    messages: list[OutboxMessage]


@dataclass(frozen=True)
class OutcomeResult:
    interview: Interview
    changed: bool   # False: the same outcome had been reported before


def _require(actor: Actor, permission: str) -> None:
    if not actor.can(permission):
        raise PermissionDenied()


def find_interview(actor: Actor, ref: str) -> Interview:
    """The interview whose external id (or else whose number) is `ref`, in the actor's
    scope; InterviewNotFound otherwise. An external id wins over a number."""
    _require(actor, "view")
    stmt = (select(Interview).join(Interview.position)
            .options(contains_eager(Interview.position), joinedload(Interview.candidate))
            .where(interview_scope(actor)))
    for column in (Interview.external_id, Interview.number):
        found = db.session.scalars(stmt.where(column == ref)).first()
        if found is not None:
            return found
    raise InterviewNotFound()


def read_interview(actor: Actor, ref: str) -> InterviewRecord:
    """The interview's status, latest cancellation (who, reason, note, state, approvals)
    and every message sent about it (channel, status, sent / delivered / read times)."""
    interview = find_interview(actor, ref)
    cancellation = db.session.scalars(
        select(Cancellation)
        .options(joinedload(Cancellation.reason), selectinload(Cancellation.approvals))
        .where(Cancellation.interview_id == interview.id)
        .order_by(Cancellation.id.desc()).limit(1)).first()
    messages = list(db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.interview_id == interview.id)
        .order_by(OutboxMessage.id)))
    return InterviewRecord(interview, cancellation, messages)


def cancel_interview(actor: Actor, ref: str, *, reason_code: str | None, note: str | None,
                     now: datetime | None = None) -> commands.CancelOutcome:
    """The company cancels through its system: the same policy and writer as an HR user's
    cancel (a company-side reason is required; the candidate and team are told)."""
    public_id = find_interview(actor, ref).public_id
    db.session.rollback()  # end the read: the cancel owns its transaction
    return commands.cancel_by_hr(actor, public_id, reason_code=reason_code, note=note,
                                 now=now)


def report_outcome(actor: Actor, ref: str, outcome: str, now: datetime | None = None
                   ) -> OutcomeResult:
    """The AI-interview platform reports that a scheduled or confirmed interview took place
    (completed) or that the candidate did not come (no_show), once it has started.
    Reporting the same outcome again changes nothing; both outcomes are final."""
    _require(actor, "report_outcome")
    target = OUTCOMES[outcome]
    now = now or utcnow()
    for _attempt in range(3):
        interview = find_interview(actor, ref)
        current = interview.status
        if current == target:
            return OutcomeResult(interview, False)
        if target not in TRANSITIONS[current]:
            raise OutcomeNotAllowed(
                f"面试当前状态为“{current.label}”，不能报告“{target.label}”",
                details={"status": current.value})
        if now < interview.scheduled_at:
            raise InterviewNotStarted()
        if target == InterviewStatus.COMPLETED:
            interview.complete()
        else:
            interview.mark_no_show()
        audit.record(actor_type=actor.type, actor_id=actor.id,
                     action=f"interview.{target.value}", object_type="interview",
                     object_id=interview.id,
                     data={"number": interview.number, "external_id": interview.external_id,
                           "before": {"status": current.value},
                           "after": {"status": target.value}}, ip=actor.ip)
        try:
            db.session.commit()
        except StaleDataError:
            db.session.rollback()  # changed meanwhile (a cancel): decide again
            continue
        return OutcomeResult(interview, True)
    raise Conflict("面试正在被其他操作修改，请稍后重试", code="interview_changed")

