"""decide_approval (and may_decide, check_detail_answer) as tables: actor x request level x
action -> outcome.

Pure: the facts dataclasses are built directly; no app, no database. Every row writes its
expected outcome: the name of an outcome spelled out in full below, or an error code.

The cast: the interview is in department "tech"; its position's recruiter is the
specialist (SPEC), its hiring manager is MANAGER, its interviewer is INTERVIEWER.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import pytest

from app.core.errors import AppError
from app.models import ApprovalDecision, CancellationState, InterviewStatus
from app.models.cancellation import ReasonActor
from app.services.cancellation.facts import (
    ApprovalFacts,
    CandidateFacts,
    InterviewFacts,
    PositionFacts,
    ReasonFacts,
    RequestFacts,
)
from app.services.cancellation.policy import (
    ApprovalAction,
    check_detail_answer,
    decide_approval,
    decide_settlement,
    may_decide,
    pending_level,
)
from app.services.rules.store import Rules
from app.services.users.actor import Actor
from tests.unit.policy_cast import ACTORS as ALL_ACTORS
from tests.unit.policy_cast import (
    ADMIN,
    CANDIDATE,
    INTERVIEWER,
    MANAGER,
    NOW,
    SPEC,
)

S = InterviewStatus
C = CancellationState
D = ApprovalDecision
ACTORS = {k: v for k, v in ALL_ACTORS.items() if k != "system"}

REASON = ReasonFacts(1, "schedule_conflict", "时间冲突", ReasonActor.CANDIDATE)


def _interview(status: S, before: S | None, *, senior: bool, session: bool) -> InterviewFacts:
    return InterviewFacts(
        id=101, public_id="iv_policy", number="AI-2026-11-23-001", status=status,
        status_before_request=before, scheduled_at=NOW + timedelta(days=1),
        duration_minutes=30, join_url=None, confirm_by=None,
        session_id=501 if session else None, interviewer_id=INTERVIEWER, version=4,
        position=PositionFacts("后端工程师", "tech", is_senior=senior,
                               cancel_requires_review=True, recruiter_id=SPEC,
                               hiring_manager_id=MANAGER),
        candidate=CandidateFacts(CANDIDATE, "张三", None))


# The requests: (state, the interview's status, approval levels as (level, decision, by)).
REQUESTS = {
    # one level (a review position, not senior), level 1 open
    "1of1": (C.REQUESTED, S.CANCEL_PENDING, ((1, D.PENDING, None),)),
    # two levels (senior): level 1 open; level 2 open after level 1 by spec/manager/admin
    "1of2": (C.REQUESTED, S.CANCEL_PENDING, ((1, D.PENDING, None), (2, D.PENDING, None))),
    "2of2/spec": (C.REQUESTED, S.CANCEL_PENDING,
                  ((1, D.APPROVED, SPEC), (2, D.PENDING, None))),
    "2of2/manager": (C.REQUESTED, S.CANCEL_PENDING,
                     ((1, D.APPROVED, MANAGER), (2, D.PENDING, None))),
    "2of2/admin": (C.REQUESTED, S.CANCEL_PENDING,
                   ((1, D.APPROVED, ADMIN), (2, D.PENDING, None))),
    # HR asked the candidate for more detail: nobody decides until the answer
    "detail": (C.DETAIL_REQUESTED, S.CANCEL_PENDING, ((1, D.PENDING, None),)),
    "detail/2of2": (C.DETAIL_REQUESTED, S.CANCEL_PENDING,
                    ((1, D.APPROVED, SPEC), (2, D.PENDING, None))),
    # settled already
    "rejected": (C.REJECTED, S.CONFIRMED, ((1, D.REJECTED, SPEC),)),
    "approved": (C.EFFECTIVE, S.CANCELLED, ((1, D.APPROVED, SPEC),)),
    # still open on paper, but the interview was cancelled meanwhile
    "stale": (C.REQUESTED, S.CANCELLED, ((1, D.PENDING, None),)),
}


def request(variant: str, before: str = "confirmed", session: bool = True) -> RequestFacts:
    state, status, levels = REQUESTS[variant]
    approvals = tuple(ApprovalFacts(level, decision, by) for level, decision, by in levels)
    interview = _interview(status, S(before) if status == S.CANCEL_PENDING else None,
                           senior=len(approvals) == 2, session=session)
    return RequestFacts(301, state, interview, REASON, "家里有事", approvals)


COMMENTS = {
    "-": None,
    "blank": "   ",
    "ok": "  请说明具体原因  ",
    "500": "意" * 500,
    "501": "意" * 501,
}


@dataclass(frozen=True)
class Step:
    """A successful approval step, as expected."""
    status: InterviewStatus            # the interview's status afterwards
    state: CancellationState
    final: bool
    frees_place: bool
    event: str | None
    event_type: str
    told: tuple[tuple[str, str, int], ...]    # (message kind, recipient type, id), in order


# The final approval cancels; the candidate and staff are told, not the approver.
APPROVED_BY_SPEC = Step(
    S.CANCELLED, C.EFFECTIVE, True, True, "cancel_approved", "interview.cancel_approved",
    (("candidate_cancel_approved", "candidate", CANDIDATE),
     ("staff_interview_cancelled", "hr_user", MANAGER),
     ("staff_interview_cancelled", "hr_user", INTERVIEWER)))
APPROVED_BY_MANAGER = replace(APPROVED_BY_SPEC, told=(
    ("candidate_cancel_approved", "candidate", CANDIDATE),
    ("staff_interview_cancelled", "hr_user", SPEC),
    ("staff_interview_cancelled", "hr_user", INTERVIEWER)))
APPROVED_BY_ADMIN = replace(APPROVED_BY_SPEC, told=(
    ("candidate_cancel_approved", "candidate", CANDIDATE),
    ("staff_interview_cancelled", "hr_user", SPEC),
    ("staff_interview_cancelled", "hr_user", MANAGER),
    ("staff_interview_cancelled", "hr_user", INTERVIEWER)))
# Level 1 of two approved: the hiring manager is told that level 2 waits for them
# (unless they approved level 1 themselves).
LEVEL_1_APPROVED = Step(S.CANCEL_PENDING, C.REQUESTED, False, False, "second_level_needed",
                        "interview.cancel_level_approved",
                        (("staff_approval_needed", "hr_user", MANAGER),))
LEVEL_1_APPROVED_BY_MANAGER = replace(LEVEL_1_APPROVED, told=())
REJECTED_TO_CONFIRMED = Step(S.CONFIRMED, C.REJECTED, True, False, "cancel_rejected",
                             "interview.cancel_rejected",
                             (("candidate_cancel_rejected", "candidate", CANDIDATE),))
REJECTED_TO_SCHEDULED = replace(REJECTED_TO_CONFIRMED, status=S.SCHEDULED)
DETAIL_ASKED = Step(S.CANCEL_PENDING, C.DETAIL_REQUESTED, False, False, "detail_requested",
                    "interview.cancel_detail_requested",
                    (("candidate_detail_requested", "candidate", CANDIDATE),))

HTTP_STATUS = {
    "interview_not_found": 404, "permission_denied": 403, "same_approver": 403,
    "comment_required": 422, "comment_too_long": 422, "awaiting_detail": 409,
    "request_decided": 409, "no_detail_requested": 409, "note_required": 422,
    "note_too_long": 422,
}
# Refusals about who may act on the request now (may_decide says no); the rest are about
# the comment.
NOT_THEIRS = {"interview_not_found", "permission_denied", "same_approver",
              "awaiting_detail", "request_decided"}

A = {"approve": ApprovalAction.APPROVE, "reject": ApprovalAction.REJECT,
     "ask_detail": ApprovalAction.ASK_DETAIL}


def rows(variant, table, *, before="confirmed", session=True):
    """One request's rows: (actor, action, comment, expected)."""
    suffix = ("" if before == "confirmed" else f"-from_{before}") + \
        ("" if session else "-nosession")
    return [pytest.param(variant, before, session, actor, action, comment, expected,
                         id=f"{variant}-{actor}-{action}-{comment}{suffix}")
            for actor, action, comment, expected in table]


ROWS = [
    # one level: level 1 by anyone with "approve" in the department
    *rows("1of1", [
        # actor          action        comment  expected
        ("spec",          "approve",    "-",     APPROVED_BY_SPEC),
        ("spec",          "approve",    "ok",    APPROVED_BY_SPEC),
        ("manager",       "approve",    "-",     APPROVED_BY_MANAGER),
        ("admin",         "approve",    "-",     APPROVED_BY_ADMIN),
        ("spec_other",    "approve",    "-",     "interview_not_found"),
        ("manager_other", "approve",    "ok",    "interview_not_found"),
        ("spec_other",    "reject",     "-",     "interview_not_found"),
        ("iv_own",        "approve",    "-",     "permission_denied"),
        ("iv_own",        "reject",     "ok",    "permission_denied"),
        ("iv_other",      "approve",    "-",     "interview_not_found"),
        ("candidate",     "approve",    "-",     "permission_denied"),
        ("spec",          "reject",     "ok",    REJECTED_TO_CONFIRMED),
        ("manager",       "reject",     "500",   REJECTED_TO_CONFIRMED),
        ("spec",          "reject",     "-",     "comment_required"),
        ("spec",          "reject",     "blank", "comment_required"),
        ("manager",       "reject",     "501",   "comment_too_long"),
        ("spec",          "approve",    "501",   "comment_too_long"),
        ("spec",          "ask_detail", "ok",    DETAIL_ASKED),
        ("spec",          "ask_detail", "-",     "comment_required"),
        ("admin",         "ask_detail", "blank", "comment_required"),
        ("iv_own",        "ask_detail", "ok",    "permission_denied"),
    ]),
    # a request made from "scheduled" goes back to "scheduled" when rejected
    *rows("1of1", [
        ("spec",          "reject",     "ok",    REJECTED_TO_SCHEDULED),
        ("spec",          "approve",    "-",     APPROVED_BY_SPEC),
    ], before="scheduled"),
    # no session: nothing to free
    *rows("1of1", [
        ("admin",         "approve",    "-",     replace(APPROVED_BY_ADMIN, frees_place=False)),
    ], session=False),
    # two levels, level 1: not final yet
    *rows("1of2", [
        ("spec",          "approve",    "-",     LEVEL_1_APPROVED),
        ("manager",       "approve",    "ok",    LEVEL_1_APPROVED_BY_MANAGER),
        ("admin",         "approve",    "-",     LEVEL_1_APPROVED),
        ("spec",          "reject",     "ok",    REJECTED_TO_CONFIRMED),
        ("spec",          "reject",     "-",     "comment_required"),
        ("spec",          "ask_detail", "ok",    DETAIL_ASKED),
        ("iv_own",        "approve",    "-",     "permission_denied"),
        ("spec_other",    "approve",    "-",     "interview_not_found"),
    ]),
    # two levels, level 2 (level 1 by the specialist): "approve_senior" only
    *rows("2of2/spec", [
        ("spec",          "approve",    "-",     "permission_denied"),
        ("spec",          "reject",     "ok",    "permission_denied"),
        ("spec",          "ask_detail", "ok",    "permission_denied"),
        ("manager",       "approve",    "-",     APPROVED_BY_MANAGER),
        ("admin",         "approve",    "ok",    APPROVED_BY_ADMIN),
        ("manager",       "reject",     "ok",    REJECTED_TO_CONFIRMED),
        ("manager",       "reject",     "-",     "comment_required"),
        ("admin",         "ask_detail", "ok",    DETAIL_ASKED),
        ("admin",         "ask_detail", "501",   "comment_too_long"),
        ("manager_other", "approve",    "-",     "interview_not_found"),
        ("iv_own",        "approve",    "-",     "permission_denied"),
        ("candidate",     "approve",    "-",     "permission_denied"),
    ]),
    *rows("2of2/spec", [
        ("manager",       "reject",     "ok",    REJECTED_TO_SCHEDULED),
    ], before="scheduled"),
    *rows("2of2/spec", [
        ("manager",       "approve",    "-",     replace(APPROVED_BY_MANAGER, frees_place=False)),
    ], session=False),
    # level 2 by whoever decided level 1: same_approver, whatever the action
    *rows("2of2/manager", [
        ("manager",       "approve",    "-",     "same_approver"),
        ("manager",       "reject",     "ok",    "same_approver"),
        ("manager",       "ask_detail", "ok",    "same_approver"),
        ("manager",       "reject",     "-",     "same_approver"),
        ("admin",         "approve",    "-",     APPROVED_BY_ADMIN),
        ("spec",          "approve",    "-",     "permission_denied"),
    ]),
    *rows("2of2/admin", [
        ("admin",         "approve",    "-",     "same_approver"),
        ("admin",         "reject",     "ok",    "same_approver"),
        ("manager",       "approve",    "-",     APPROVED_BY_MANAGER),
    ]),
    # waiting for the candidate's detail: anyone in scope who tries to decide is told so
    *rows("detail", [
        ("spec",          "approve",    "-",     "awaiting_detail"),
        ("manager",       "reject",     "ok",    "awaiting_detail"),
        ("admin",         "ask_detail", "ok",    "awaiting_detail"),
        ("spec",          "reject",     "-",     "awaiting_detail"),
        ("spec_other",    "approve",    "-",     "interview_not_found"),
    ]),
    *rows("detail/2of2", [
        ("manager",       "approve",    "-",     "awaiting_detail"),
    ]),
    # settled: nothing left to decide
    *rows("rejected", [
        ("spec",          "approve",    "-",     "request_decided"),
        ("manager",       "reject",     "ok",    "request_decided"),
    ]),
    *rows("approved", [
        ("admin",         "approve",    "-",     "request_decided"),
    ]),
    *rows("stale", [
        ("admin",         "approve",    "-",     "request_decided"),
        ("spec",          "ask_detail", "ok",    "request_decided"),
    ]),
]


def _told(outcome) -> tuple[tuple[str, str, int], ...]:
    return tuple((t.kind, t.recipient_type, t.recipient_id) for t in outcome.recipients)


@pytest.mark.parametrize(
    ("variant", "before", "session", "actor", "action", "comment", "expected"), ROWS)
def test_approval_table(variant, before, session, actor, action, comment, expected):
    req, who, text = request(variant, before, session), ACTORS[actor], COMMENTS[comment]
    allowed = may_decide(req, who)

    if isinstance(expected, str):
        with pytest.raises(AppError) as caught:
            decide_approval(req, who, A[action], text, NOW)
        assert caught.value.code == expected
        assert caught.value.status == HTTP_STATUS[expected]
        assert allowed is (expected not in NOT_THEIRS), "may_decide disagrees"
        return

    outcome = decide_approval(req, who, A[action], text, NOW)
    assert allowed is True, "may_decide says no, decide_approval succeeds"
    assert outcome.level == pending_level(req)
    assert (outcome.new_status, outcome.cancellation_state, outcome.final) == \
        (expected.status, expected.state, expected.final)
    assert outcome.frees_place is expected.frees_place
    assert (outcome.event, outcome.event_type) == (expected.event, expected.event_type)
    assert _told(outcome) == expected.told
    assert outcome.comment == (text.strip() if text else None)
    assert outcome.changes_interview == (expected.status != S.CANCEL_PENDING)
    assert outcome.action == A[action] and outcome.actor is who and outcome.now == NOW


def test_two_levels_then_detail_then_final():
    """A senior request walked through: level 1 by the specialist; the manager asks for
    detail (nobody may decide meanwhile; the candidate may answer only now); once
    answered, the manager approves level 2 and the interview is cancelled."""
    req = request("1of2")
    first = decide_approval(req, ACTORS["spec"], ApprovalAction.APPROVE, None, NOW)
    assert (first.final, first.new_status) == (False, S.CANCEL_PENDING)
    req = replace(req, approvals=(ApprovalFacts(1, D.APPROVED, SPEC),
                                  ApprovalFacts(2, D.PENDING, None)))
    assert check_detail_answer_code(req, "补充") == "no_detail_requested"

    asked = decide_approval(req, ACTORS["manager"], ApprovalAction.ASK_DETAIL, "具体原因?", NOW)
    assert (asked.level, asked.cancellation_state) == (2, C.DETAIL_REQUESTED)
    waiting = replace(req, state=asked.cancellation_state, detail_question="具体原因?")
    for actor in ("spec", "manager", "admin"):
        assert may_decide(waiting, ACTORS[actor]) is False
    assert check_detail_answer(waiting, "  家里老人住院  ", Rules()) == "家里老人住院"

    answered = replace(waiting, state=C.REQUESTED)
    final = decide_approval(answered, ACTORS["manager"], ApprovalAction.APPROVE, None, NOW)
    assert (final.final, final.new_status, final.cancellation_state) == \
        (True, S.CANCELLED, C.EFFECTIVE)
    assert final.frees_place is True


def check_detail_answer_code(req, note, rules=None):
    try:
        check_detail_answer(req, note, rules or Rules())
    except AppError as error:
        return error.code
    return None


def d(state, note, expected, row_id, *, note_max_length=200):
    return pytest.param(state, note, note_max_length, expected, id=row_id)


DETAIL_ROWS = [
    # request state       answer           expected (the stored answer, or the error)
    d(None,               "补充",            "no_detail_requested", "no-request"),
    d(C.REQUESTED,        "补充",            "no_detail_requested", "not-asked"),
    d(C.EFFECTIVE,        "补充",            "no_detail_requested", "settled"),
    d(C.REJECTED,         "补充",            "no_detail_requested", "rejected"),
    d(C.DETAIL_REQUESTED, None,             "note_required",       "asked-none"),
    d(C.DETAIL_REQUESTED, "",               "note_required",       "asked-empty"),
    d(C.DETAIL_REQUESTED, "  \n ",          "note_required",       "asked-blank"),
    d(C.DETAIL_REQUESTED, "  家里老人住院 ",  "家里老人住院",          "asked-answered"),
    d(C.DETAIL_REQUESTED, "字" * 200,        "字" * 200,             "asked-at-limit"),
    d(C.DETAIL_REQUESTED, "字" * 201,        "note_too_long",       "asked-over-limit"),
    d(C.DETAIL_REQUESTED, "字" * 50,         "字" * 50,              "asked-rules-limit-exact",
      note_max_length=50),
    d(C.DETAIL_REQUESTED, "字" * 51,         "note_too_long",       "asked-rules-limit-over",
      note_max_length=50),
]


@pytest.mark.parametrize(("state", "note", "note_max_length", "expected"), DETAIL_ROWS)
def test_check_detail_answer(state, note, note_max_length, expected):
    req = None if state is None else replace(request("detail"), state=state)
    rules = Rules(note_max_length=note_max_length)
    if expected in HTTP_STATUS:
        with pytest.raises(AppError) as caught:
            check_detail_answer(req, note, rules)
        assert caught.value.code == expected
        assert caught.value.status == HTTP_STATUS[expected]
        return
    assert check_detail_answer(req, note, rules) == expected


# --- requests nobody decided: the system settles them at the start ------------------------

START = NOW + timedelta(days=1)          # the requests' interviews start then
SYSTEM_SETTLES = Actor.system("unanswered_request_at_start")
# Settled by the system: nobody acted, so every staff member of the event is told.
SETTLED_APPROVED = replace(APPROVED_BY_SPEC, told=(
    ("candidate_cancel_approved", "candidate", CANDIDATE),
    ("staff_interview_cancelled", "hr_user", SPEC),
    ("staff_interview_cancelled", "hr_user", MANAGER),
    ("staff_interview_cancelled", "hr_user", INTERVIEWER)))


def settle(variant, rule, when, expected, *, before="confirmed", session=True,
           actor=SYSTEM_SETTLES, who="system"):
    return pytest.param(variant, rule, when, before, session, actor, expected,
                        id=f"{variant}-{rule}-{when}-{who}-from_{before}"
                           + ("" if session else "-nosession"))


SETTLE_WHEN = {"before_start": START - timedelta(seconds=1), "at_start": START,
               "after_start": START + timedelta(hours=1)}

SETTLE_ROWS = [
    # request        rule       when            expected
    settle("1of1",   "approve", "at_start",     SETTLED_APPROVED),
    settle("1of1",   "approve", "after_start",  SETTLED_APPROVED),
    settle("1of1",   "approve", "before_start", "request_not_due"),
    settle("1of1",   "reject",  "at_start",     REJECTED_TO_CONFIRMED),
    settle("1of1",   "reject",  "at_start",     REJECTED_TO_SCHEDULED, before="scheduled"),
    settle("1of1",   "approve", "at_start",     replace(SETTLED_APPROVED, frees_place=False),
           session=False),
    # two levels, none or one decided: settled in one step
    settle("1of2",   "approve", "at_start",     SETTLED_APPROVED),
    settle("2of2/spec", "approve", "at_start",  SETTLED_APPROVED),
    settle("1of2",   "reject",  "at_start",     REJECTED_TO_CONFIRMED),
    # waiting for the candidate's detail: nobody decided either
    settle("detail", "approve", "at_start",     SETTLED_APPROVED),
    settle("detail/2of2", "reject", "at_start", REJECTED_TO_CONFIRMED),
    # decided already, or the interview moved on: nothing to settle
    settle("rejected", "approve", "at_start",   "request_decided"),
    settle("approved", "approve", "at_start",   "request_decided"),
    settle("stale",  "approve", "at_start",     "request_decided"),
    # only the system settles
    settle("1of1",   "approve", "at_start",     "permission_denied", actor=ACTORS["admin"],
           who="admin"),
    settle("1of1",   "approve", "at_start",     "permission_denied",
           actor=ACTORS["candidate"], who="candidate"),
]


@pytest.mark.parametrize(("variant", "rule", "when", "before", "session", "actor", "expected"),
                         SETTLE_ROWS)
def test_settlement_table(variant, rule, when, before, session, actor, expected):
    req = request(variant, before, session)
    now = SETTLE_WHEN[when]
    if isinstance(expected, str):
        with pytest.raises(AppError) as caught:
            decide_settlement(req, actor, rule, now)
        assert caught.value.code == expected
        assert caught.value.status == {**HTTP_STATUS, "request_not_due": 409}[expected]
        return
    outcome = decide_settlement(req, actor, rule, now)
    assert outcome.settles_all and outcome.final and outcome.actor is actor
    assert outcome.level == pending_level(req)
    assert (outcome.new_status, outcome.cancellation_state) == (expected.status, expected.state)
    assert outcome.frees_place is expected.frees_place
    assert (outcome.event, outcome.event_type) == (expected.event, expected.event_type)
    assert _told(outcome) == expected.told
    assert outcome.comment and outcome.now == now
