"""The cancellation rules, as pure decisions: no database, no clock, no request.

`decide_cancel` is the one decision behind every initiator (the candidate's two taps, an
HR user in the console or the Official Account, a batch, a system job); `decide_approval`
decides a review step of a candidate's request; `decide_settlement` settles a request
nobody decided before the interview started (a system rule). All consult the model's
TRANSITIONS (the only transition table) and return the whole change for
app.services.cancellation.write to make durable: new status, the cancellation's state,
approval levels, the freed place, recipients and message kinds, the webhook event and
audit action. `can_cancel` is the same decision without a reason, so the candidate API's
flag never disagrees with the POST.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from app.core.errors import Forbidden, ValidationFailed
from app.core.timeutil import iso
from app.models import ActorType, ApprovalDecision, CancellationState, InterviewStatus
from app.models.cancellation import ReasonActor
from app.models.interview import TRANSITIONS
from app.services.cancellation.facts import InterviewFacts, ReasonFacts, RequestFacts
from app.services.interviews.errors import (
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
from app.services.interviews.recipients import Recipient, recipients
from app.services.rules import Rules
from app.services.users.actor import Actor

S = InterviewStatus


class PermissionDenied(Forbidden):
    code = "permission_denied"
    message = "您没有执行此操作的权限"


class RequestDecided(ValidationFailed):
    status = 409
    code = "request_decided"
    message = "该取消申请已处理"


class AwaitingDetail(ValidationFailed):
    status = 409
    code = "awaiting_detail"
    message = "正在等待候选人补充说明，收到后可继续审批"


class SameApprover(Forbidden):
    code = "same_approver"
    message = "二级审批须由另一位审批人完成"


class CommentRequired(ValidationFailed):
    code = "comment_required"
    message = "请填写审批意见"


class CommentTooLong(ValidationFailed):
    code = "comment_too_long"
    message = "审批意见最多500个字"


COMMENT_MAX_LENGTH = 500


@dataclass(frozen=True)
class CancelDecision:
    """A cancel, decided: what write.py makes durable and what the caller answers."""
    interview: InterviewFacts       # as read
    after: InterviewFacts           # as it is once written
    actor: Actor
    reason: ReasonFacts
    note: str | None
    state: CancellationState        # EFFECTIVE (cancelled) or REQUESTED (review)
    approval_levels: int
    frees_place: bool
    event: str                      # recipients event
    event_type: str                 # webhook event and audit action
    recipients: tuple[Recipient, ...]
    reschedule_by: datetime | None
    now: datetime
    batch_id: str | None = None

    @property
    def needs_review(self) -> bool:
        return self.state == CancellationState.REQUESTED

    @property
    def status(self) -> InterviewStatus:
        return self.after.status


def _check_note(reason: ReasonFacts, note: str | None, rules: Rules) -> str | None:
    note = (note or "").strip() or None
    if reason.requires_note and not note:
        raise NoteRequired(details={"field": "note"})
    limit = min(reason.note_max_length, rules.note_max_length)
    if note and len(note) > limit:
        raise NoteTooLong(f"说明最多{limit}个字", details={"field": "note", "max_length": limit})
    return note


def check_reason(reason: ReasonFacts | None, actor: Actor, note: str | None, rules: Rules
                 ) -> str | None:
    """The reason is an active one of the actor's side (candidates pick candidate reasons,
    HR and jobs company reasons), with its note as it requires; returns the clean note."""
    side = ReasonActor.CANDIDATE if actor.type == ActorType.CANDIDATE else ReasonActor.COMPANY
    if reason is None or not reason.active or reason.actor != side:
        raise InvalidReason(details={"field": "reason_code"})
    return _check_note(reason, note, rules)


def _check_scope(interview: InterviewFacts, actor: Actor, permission: str) -> None:
    """Out of scope is 'not found' (no hint that it exists); in scope without the role's
    permission is 'forbidden'."""
    if not actor.sees(interview.position.department, interview.interviewer_id):
        raise InterviewNotFound()
    if actor.is_company and not actor.can(permission):
        raise PermissionDenied()


def _cancellable(interview: InterviewFacts, actor: Actor, rules: Rules, now: datetime
                 ) -> bool:
    """Whether it may be cancelled now, and if so whether it needs review (raises why not)."""
    status = interview.status
    if status == S.CANCEL_PENDING:
        # A request is open: approving it is the way to cancel.
        if actor.is_company:
            raise CancelPending("该面试有待审批的取消申请，请在待审批中处理")
        raise CancelPending()
    if S.CANCELLED not in TRANSITIONS[status]:
        raise AlreadyCancelled() if status == S.CANCELLED else NotCancellable()
    if actor.type == ActorType.SYSTEM and actor.rule == "auto_cancel_unconfirmed" \
            and status != S.SCHEDULED:
        raise NotCancellable("面试已确认，不会自动取消")
    if now >= interview.scheduled_at:
        raise InterviewStarted()
    if actor.type != ActorType.CANDIDATE:
        return False
    deadline = interview.cancel_deadline(rules.cancel_deadline_hours)
    late = now >= deadline
    if late and rules.after_deadline == "refuse":
        raise CancelDeadlinePassed(
            f"已超过可自助取消的时间（面试开始前{rules.cancel_deadline_hours}小时），"
            f"{rules.hr_contact}",
            details={"cancel_deadline": iso(deadline), "hr_contact": rules.hr_contact})
    return interview.position.cancel_requires_review or late


def approval_levels(position, rules: Rules) -> int:
    """A request on a senior position, or on a level listed in the rule
    second_approval_levels, needs two approvals; any other one."""
    if position.is_senior or (position.level is not None
                              and position.level in rules.second_approval_levels):
        return 2
    return 1


def can_cancel(interview: InterviewFacts, actor: Actor, rules: Rules, now: datetime) -> bool:
    """The decision without a reason: the candidate API's can_cancel, the console's button."""
    try:
        _check_scope(interview, actor, "cancel")
        _cancellable(interview, actor, rules, now)
    except (InterviewNotFound, PermissionDenied, CancelPending, AlreadyCancelled,
            NotCancellable, InterviewStarted, CancelDeadlinePassed):
        return False
    return True


def decide_cancel(interview: InterviewFacts, actor: Actor, reason: ReasonFacts | None,
                  note: str | None, rules: Rules, now: datetime, *,
                  notify: frozenset[str] | None = None, reschedule_by: datetime | None = None,
                  batch_id: str | None = None, staff_messages: bool = True) -> CancelDecision:
    """Cancel at once, or (candidate, on a position under review or after the deadline
    when so configured) open a request for HR review; refuse otherwise.
    `notify`: the roles HR chose to tell; `staff_messages=False`: a batch tells staff in
    one summary each instead."""
    _check_scope(interview, actor, "cancel")
    note = check_reason(reason, actor, note, rules)
    needs_review = _cancellable(interview, actor, rules, now)

    if needs_review:
        new_status, state, event = S.CANCEL_PENDING, CancellationState.REQUESTED, \
            "cancel_requested"
        event_type = "interview.cancel_requested"
        levels = approval_levels(interview.position, rules)
    else:
        new_status, state = S.CANCELLED, CancellationState.EFFECTIVE
        event = CANCELLED_EVENT[actor.type]
        event_type, levels = "interview.cancelled", 0
    after = interview.moved(new_status, interview.status if needs_review else None)
    told = recipients(event, interview, interview.candidate.id, notify=notify,
                      exclude_user=actor.id if actor.is_hr else None, staff=staff_messages)
    # Built without the frozen dataclass's __init__ (one object.__setattr__ per field): a
    # batch decides 10,000 of these. Every field is given.
    decision = _new(CancelDecision)
    decision.__dict__.update(
        interview=interview, after=after, actor=actor, reason=reason, note=note, state=state,
        approval_levels=levels,
        frees_place=not needs_review and interview.session_id is not None,
        event=event, event_type=event_type, recipients=tuple(told),
        reschedule_by=reschedule_by if actor.type != ActorType.CANDIDATE else None,
        now=now, batch_id=batch_id)
    return decision


_new = object.__new__
# The recipients event of an effective cancel, by who cancelled.
CANCELLED_EVENT = {ActorType.CANDIDATE: "candidate_cancelled", ActorType.HR: "company_cancelled",
                   ActorType.INTEGRATION: "company_cancelled",
                   ActorType.SYSTEM: "system_cancelled"}


# --- review of a candidate's request ------------------------------------------------------

class ApprovalAction(str, enum.Enum):
    APPROVE = "approve"
    REJECT = "reject"
    ASK_DETAIL = "ask_detail"


@dataclass(frozen=True)
class ApprovalOutcome:
    request: RequestFacts
    actor: Actor
    action: ApprovalAction
    level: int                       # the level decided (or asked about)
    final: bool                      # the request is settled (approved or rejected)
    new_status: InterviewStatus      # the interview's status afterwards
    cancellation_state: CancellationState
    frees_place: bool
    event: str | None                # recipients event
    event_type: str                  # audit action, and webhook event when final
    recipients: tuple[Recipient, ...]
    comment: str | None
    now: datetime
    settles_all: bool = False        # every open level is decided with this one (system)

    @property
    def changes_interview(self) -> bool:
        return self.new_status != self.request.interview.status


def pending_level(request: RequestFacts) -> int | None:
    for approval in request.approvals:
        if approval.decision == ApprovalDecision.PENDING:
            return approval.level
    return None


def may_decide(request: RequestFacts, actor: Actor) -> bool:
    """Whether this actor may act on the request's current level (the queue's buttons)."""
    try:
        _check_level(request, actor)
    except (InterviewNotFound, PermissionDenied, SameApprover, RequestDecided,
            AwaitingDetail):
        return False
    return True


def _check_level(request: RequestFacts, actor: Actor) -> int:
    interview = request.interview
    if not actor.sees(interview.position.department, interview.interviewer_id):
        raise InterviewNotFound()
    if request.state == CancellationState.DETAIL_REQUESTED:
        raise AwaitingDetail()
    level = pending_level(request)
    if request.state != CancellationState.REQUESTED or level is None \
            or interview.status != S.CANCEL_PENDING:
        raise RequestDecided()
    if level == 1 and not actor.can("approve"):
        raise PermissionDenied()
    if level >= 2:
        if not actor.can("approve_senior"):
            raise PermissionDenied("二级审批需由招聘经理或管理员完成")
        earlier = {a.approver_id for a in request.approvals if a.level < level}
        if actor.id in earlier:
            raise SameApprover()
    return level


def decide_approval(request: RequestFacts, actor: Actor, action: ApprovalAction,
                    comment: str | None, now: datetime) -> ApprovalOutcome:
    """Level 1 by a specialist or manager of the position's department, level 2 (senior
    positions) by a recruiting manager or admin who did not decide level 1. The final
    approval cancels; a rejection (with a comment) returns the interview to its status
    before the request; asking for more detail (with a question) waits for the candidate."""
    level = _check_level(request, actor)
    comment = (comment or "").strip() or None
    if action in (ApprovalAction.REJECT, ApprovalAction.ASK_DETAIL) and not comment:
        raise CommentRequired("驳回或要求补充说明时请填写意见" if action == ApprovalAction.REJECT
                              else "请填写需要候选人补充的内容", details={"field": "comment"})
    if comment and len(comment) > COMMENT_MAX_LENGTH:
        raise CommentTooLong(details={"field": "comment", "max_length": COMMENT_MAX_LENGTH})
    interview = request.interview
    candidate_id = interview.candidate.id
    last_level = max(a.level for a in request.approvals)

    if action == ApprovalAction.ASK_DETAIL:
        return ApprovalOutcome(
            request, actor, action, level, False, interview.status,
            CancellationState.DETAIL_REQUESTED, False, "detail_requested",
            "interview.cancel_detail_requested",
            tuple(recipients("detail_requested", interview, candidate_id)), comment, now)
    if action == ApprovalAction.REJECT:
        back = interview.status_before_request or S.SCHEDULED
        if back not in TRANSITIONS[interview.status]:
            back = S.SCHEDULED
        return ApprovalOutcome(
            request, actor, action, level, True, back, CancellationState.REJECTED, False,
            "cancel_rejected", "interview.cancel_rejected",
            tuple(recipients("cancel_rejected", interview, candidate_id)), comment, now)
    if level < last_level:
        return ApprovalOutcome(
            request, actor, action, level, False, interview.status,
            CancellationState.REQUESTED, False, "second_level_needed",
            "interview.cancel_level_approved",
            tuple(recipients("second_level_needed", interview, candidate_id,
                             exclude_user=actor.id)), comment, now)
    if S.CANCELLED not in TRANSITIONS[interview.status]:
        raise NotCancellable()
    return ApprovalOutcome(
        request, actor, action, level, True, S.CANCELLED, CancellationState.EFFECTIVE,
        interview.session_id is not None, "cancel_approved", "interview.cancel_approved",
        tuple(recipients("cancel_approved", interview, candidate_id,
                         exclude_user=actor.id)), comment, now)


# --- requests nobody decided (a system rule at the interview's start) ----------------------

SETTLE_APPROVE = "approve"
SETTLE_REJECT = "reject"
# Not a setting: the candidate's erasure request reached its deadline (any time before
# the start); approved, and only the team told (system.cancel_for_erasure).
SETTLE_ERASURE = "erasure"
SETTLE_COMMENTS = {
    SETTLE_APPROVE: "面试开始时仍未审批，系统按规则通过（候选人已表示不参加）",
    SETTLE_REJECT: "面试开始时仍未审批，系统按规则驳回，面试保持原安排",
    SETTLE_ERASURE: "候选人申请删除个人信息，系统按期限通过其取消申请",
}
# The roles told when an interview ends with its candidate's erasure: never the candidate
# (they asked to be forgotten, and the address a message would go to is erased with them).
TEAM_ONLY = frozenset({"recruiter", "hiring_manager", "interviewer"})


class NotStartedYet(ValidationFailed):
    status = 409
    code = "request_not_due"
    message = "面试尚未开始，取消申请仍由HR审批"


def open_request(request: RequestFacts) -> bool:
    """Still waiting for someone: under review or waiting for the candidate's detail,
    with the interview still pending its cancellation."""
    return request.state in (CancellationState.REQUESTED, CancellationState.DETAIL_REQUESTED) \
        and request.interview.status == S.CANCEL_PENDING and pending_level(request) is not None


def decide_settlement(request: RequestFacts, actor: Actor, rule: str, now: datetime
                      ) -> ApprovalOutcome:
    """At the start of the interview a request still open is settled by the system, by the
    rule unanswered_request_at_start: "approve" cancels (every open level approved), as if
    the last approver had; "reject" returns the interview to its status before the
    request. Only the system settles, only from the start, only an open request; at any
    time for SETTLE_ERASURE (approve, the team told, not the candidate)."""
    if actor.type != ActorType.SYSTEM:
        raise PermissionDenied()
    if not open_request(request):
        raise RequestDecided()
    interview = request.interview
    if now < interview.scheduled_at and rule != SETTLE_ERASURE:
        raise NotStartedYet()
    level = pending_level(request)
    candidate_id = interview.candidate.id
    comment = SETTLE_COMMENTS[rule]
    if rule == SETTLE_REJECT:
        back = interview.status_before_request or S.SCHEDULED
        if back not in TRANSITIONS[interview.status]:
            back = S.SCHEDULED
        return ApprovalOutcome(
            request, actor, ApprovalAction.REJECT, level, True, back,
            CancellationState.REJECTED, False, "cancel_rejected", "interview.cancel_rejected",
            tuple(recipients("cancel_rejected", interview, candidate_id)), comment, now,
            settles_all=True)
    return ApprovalOutcome(
        request, actor, ApprovalAction.APPROVE, level, True, S.CANCELLED,
        CancellationState.EFFECTIVE, interview.session_id is not None, "cancel_approved",
        "interview.cancel_approved",
        tuple(recipients("cancel_approved", interview, candidate_id,
                         notify=TEAM_ONLY if rule == SETTLE_ERASURE else None)), comment, now,
        settles_all=True)


class NoDetailRequested(ValidationFailed):
    status = 409
    code = "no_detail_requested"
    message = "HR未要求补充说明，无需提交"


def check_detail_answer(request: RequestFacts | None, note: str | None, rules: Rules) -> str:
    """The candidate's answer to 要求补充说明: only while asked, not empty, not too long."""
    if request is None or request.state != CancellationState.DETAIL_REQUESTED:
        raise NoDetailRequested()
    answer = (note or "").strip()
    if not answer:
        raise NoteRequired("请填写补充说明", details={"field": "note"})
    if len(answer) > rules.note_max_length:
        raise NoteTooLong(f"说明最多{rules.note_max_length}个字",
                          details={"field": "note", "max_length": rules.note_max_length})
    return answer
