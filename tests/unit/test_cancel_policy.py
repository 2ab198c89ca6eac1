"""decide_cancel and can_cancel as one table: actor x status x time x position -> outcome.

Pure: the facts dataclasses are built directly; no app, no database, no clock. Every row
writes its expected outcome: the name of an outcome spelled out in full below, or an
error code.

The cast: the interview is in department "tech"; its position's recruiter is the
specialist (SPEC), its hiring manager is MANAGER, its interviewer is INTERVIEWER.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest

from app.core.errors import AppError
from app.core.timeutil import iso
from app.models import ActorType, CancellationState, InterviewStatus
from app.models.cancellation import ReasonActor
from app.services.cancellation.facts import (
    CandidateFacts,
    InterviewFacts,
    PositionFacts,
    ReasonFacts,
)
from app.services.cancellation.policy import can_cancel, decide_cancel
from app.services.rules.store import Rules
from app.services.users.actor import Actor
from tests.unit.policy_cast import ACTORS as ALL_ACTORS
from tests.unit.policy_cast import (
    CANDIDATE,
    INTERVIEWER,
    MANAGER,
    NOW,
    SPEC,
)

S = InterviewStatus
C = CancellationState
DEADLINE_HOURS = 2
ACTORS = ALL_ACTORS

# The interview's start, relative to NOW (deadline: DEADLINE_HOURS before the start).
WHEN = {
    "early": NOW + timedelta(hours=3),            # before the deadline
    "at_deadline": NOW + timedelta(hours=2),      # now == deadline: past it
    "late": NOW + timedelta(hours=1),             # past the deadline, before the start
    "at_start": NOW,                              # now == start: started
    "started": NOW - timedelta(minutes=10),
}

CANDIDATE_REASON = ReasonFacts(1, "schedule_conflict", "时间冲突", ReasonActor.CANDIDATE)
COMPANY_REASON = ReasonFacts(2, "position_closed", "岗位已关闭", ReasonActor.COMPANY)


def interview(status: str, when: str, kind: str = "plain") -> InterviewFacts:
    """kind: words among "plain", "review" (cancel_requires_review), "senior",
    "nosession" (no session, so no place to free)."""
    flags = kind.split()
    return InterviewFacts(
        id=101, public_id="iv_policy", number="AI-2026-11-23-001", status=S(status),
        status_before_request=None, scheduled_at=WHEN[when], duration_minutes=30,
        join_url=None, confirm_by=None,
        session_id=None if "nosession" in flags else 501,
        interviewer_id=INTERVIEWER, version=3,
        position=PositionFacts("后端工程师", "tech", is_senior="senior" in flags,
                               cancel_requires_review="review" in flags,
                               recruiter_id=SPEC, hiring_manager_id=MANAGER),
        candidate=CandidateFacts(CANDIDATE, "张三", None))


@dataclass(frozen=True)
class Done:
    """A successful decision, as expected."""
    status: InterviewStatus
    state: CancellationState
    levels: int
    frees_place: bool
    event: str
    event_type: str
    told: tuple[tuple[str, str, int], ...]    # (message kind, recipient type, id), in order


CANDIDATE_CANCELLED = Done(
    S.CANCELLED, C.EFFECTIVE, 0, True, "candidate_cancelled", "interview.cancelled",
    (("candidate_cancel_confirmed", "candidate", CANDIDATE),
     ("staff_candidate_cancelled", "hr_user", SPEC),
     ("staff_candidate_cancelled", "hr_user", MANAGER),
     ("staff_candidate_cancelled", "hr_user", INTERVIEWER)))
REQUEST_1 = Done(
    S.CANCEL_PENDING, C.REQUESTED, 1, False, "cancel_requested", "interview.cancel_requested",
    (("candidate_cancel_requested", "candidate", CANDIDATE),
     ("staff_approval_needed", "hr_user", SPEC),
     ("staff_approval_needed", "hr_user", MANAGER)))
REQUEST_2 = replace(REQUEST_1, levels=2)
# HR: the candidate gets the company-cancelled message; staff are told, not the acting user.
BY_SPEC = Done(
    S.CANCELLED, C.EFFECTIVE, 0, True, "company_cancelled", "interview.cancelled",
    (("candidate_cancelled_by_company", "candidate", CANDIDATE),
     ("staff_interview_cancelled", "hr_user", MANAGER),
     ("staff_interview_cancelled", "hr_user", INTERVIEWER)))
BY_MANAGER = replace(BY_SPEC, told=(
    ("candidate_cancelled_by_company", "candidate", CANDIDATE),
    ("staff_interview_cancelled", "hr_user", SPEC),
    ("staff_interview_cancelled", "hr_user", INTERVIEWER)))
BY_ADMIN = replace(BY_SPEC, told=(
    ("candidate_cancelled_by_company", "candidate", CANDIDATE),
    ("staff_interview_cancelled", "hr_user", SPEC),
    ("staff_interview_cancelled", "hr_user", MANAGER),
    ("staff_interview_cancelled", "hr_user", INTERVIEWER)))
BY_SYSTEM = replace(BY_ADMIN, event="system_cancelled")

HTTP_STATUS = {
    "interview_not_found": 404, "permission_denied": 403, "cancel_pending": 409,
    "already_cancelled": 409, "not_cancellable": 409, "interview_started": 409,
    "cancel_deadline_passed": 409, "invalid_reason": 422, "note_required": 422,
    "note_too_long": 422,
}


def rows(actor, table):
    """One actor's rows: (status, when, position, after_deadline, expected)."""
    return [pytest.param(actor, status, when, kind, after, expected,
                         id=f"{actor}-{status}-{when}-{kind.replace(' ', '+')}"
                            + ("" if after == "refuse" else "-request"))
            for status, when, kind, after, expected in table]


ROWS = [
    # candidate (their own interview)
    *rows("candidate", [
        # status          when           position           after      expected
        # before the deadline: a cancel, or a request on a review position
        ("scheduled",      "early",       "plain",           "refuse",  CANDIDATE_CANCELLED),
        ("scheduled",      "early",       "plain",           "request", CANDIDATE_CANCELLED),
        ("scheduled",      "early",       "senior",          "refuse",  CANDIDATE_CANCELLED),
        ("scheduled",      "early",       "plain nosession", "refuse",
         replace(CANDIDATE_CANCELLED, frees_place=False)),
        ("scheduled",      "early",       "review",          "refuse",  REQUEST_1),
        ("scheduled",      "early",       "review",          "request", REQUEST_1),
        ("scheduled",      "early",       "review senior",   "refuse",  REQUEST_2),
        ("confirmed",      "early",       "plain",           "refuse",  CANDIDATE_CANCELLED),
        ("confirmed",      "early",       "review",          "refuse",  REQUEST_1),
        ("confirmed",      "early",       "review senior",   "request", REQUEST_2),
        # past the deadline: refused, or a request, as rules.after_deadline says
        ("scheduled",      "at_deadline", "plain",           "refuse",  "cancel_deadline_passed"),
        ("scheduled",      "at_deadline", "plain",           "request", REQUEST_1),
        ("scheduled",      "late",        "plain",           "refuse",  "cancel_deadline_passed"),
        ("scheduled",      "late",        "plain",           "request", REQUEST_1),
        ("scheduled",      "late",        "senior",          "refuse",  "cancel_deadline_passed"),
        ("scheduled",      "late",        "senior",          "request", REQUEST_2),
        ("scheduled",      "late",        "review",          "refuse",  "cancel_deadline_passed"),
        ("scheduled",      "late",        "review",          "request", REQUEST_1),
        ("scheduled",      "late",        "review senior",   "refuse",  "cancel_deadline_passed"),
        ("scheduled",      "late",        "review senior",   "request", REQUEST_2),
        ("confirmed",      "late",        "plain",           "refuse",  "cancel_deadline_passed"),
        ("confirmed",      "late",        "plain",           "request", REQUEST_1),
        ("confirmed",      "late",        "review senior",   "refuse",  "cancel_deadline_passed"),
        ("confirmed",      "late",        "review senior",   "request", REQUEST_2),
        # started, or not in a cancellable status
        ("scheduled",      "at_start",    "plain",           "request", "interview_started"),
        ("scheduled",      "started",     "plain",           "refuse",  "interview_started"),
        ("scheduled",      "started",     "review senior",   "request", "interview_started"),
        ("confirmed",      "started",     "plain",           "request", "interview_started"),
        ("cancel_pending", "early",       "review",          "refuse",  "cancel_pending"),
        ("cancel_pending", "late",        "plain",           "request", "cancel_pending"),
        ("cancelled",      "early",       "plain",           "refuse",  "already_cancelled"),
        ("cancelled",      "late",        "review",          "request", "already_cancelled"),
        ("cancelled",      "started",     "plain",           "refuse",  "already_cancelled"),
        ("completed",      "early",       "plain",           "refuse",  "not_cancellable"),
        ("completed",      "started",     "plain",           "request", "not_cancellable"),
    ]),
    # specialist of the department: at once, no deadline, no review; only before the start
    *rows("spec", [
        ("scheduled",      "early",       "plain",           "refuse",  BY_SPEC),
        ("scheduled",      "late",        "plain",           "refuse",  BY_SPEC),
        ("scheduled",      "at_deadline", "review senior",   "refuse",  BY_SPEC),
        ("confirmed",      "late",        "review senior",   "request", BY_SPEC),
        ("confirmed",      "early",       "plain nosession", "refuse",
         replace(BY_SPEC, frees_place=False)),
        ("scheduled",      "at_start",    "plain",           "refuse",  "interview_started"),
        ("confirmed",      "started",     "plain",           "refuse",  "interview_started"),
        ("cancel_pending", "early",       "review",          "refuse",  "cancel_pending"),
        ("cancelled",      "early",       "plain",           "refuse",  "already_cancelled"),
        ("completed",      "started",     "plain",           "refuse",  "not_cancellable"),
    ]),
    # specialist / manager of another department: not found, whatever the status
    *rows("spec_other", [
        ("scheduled",      "early",       "plain",           "refuse",  "interview_not_found"),
        ("confirmed",      "late",        "review senior",   "refuse",  "interview_not_found"),
        ("cancel_pending", "early",       "review",          "refuse",  "interview_not_found"),
        ("cancelled",      "early",       "plain",           "refuse",  "interview_not_found"),
        ("completed",      "started",     "plain",           "refuse",  "interview_not_found"),
    ]),
    *rows("manager_other", [
        ("scheduled",      "early",       "plain",           "refuse",  "interview_not_found"),
        ("cancelled",      "early",       "plain",           "refuse",  "interview_not_found"),
    ]),
    # recruiting manager
    *rows("manager", [
        ("scheduled",      "late",        "review senior",   "refuse",  BY_MANAGER),
        ("confirmed",      "early",       "plain",           "refuse",  BY_MANAGER),
        ("confirmed",      "at_deadline", "senior",          "request", BY_MANAGER),
        ("scheduled",      "started",     "plain",           "refuse",  "interview_started"),
        ("cancel_pending", "late",        "review senior",   "refuse",  "cancel_pending"),
        ("cancelled",      "early",       "plain",           "refuse",  "already_cancelled"),
        ("completed",      "started",     "plain",           "refuse",  "not_cancellable"),
    ]),
    # admin (no department links: sees every department)
    *rows("admin", [
        ("scheduled",      "early",       "plain",           "refuse",  BY_ADMIN),
        ("confirmed",      "late",        "review senior",   "refuse",  BY_ADMIN),
        ("confirmed",      "at_start",    "plain",           "refuse",  "interview_started"),
        ("cancel_pending", "early",       "review senior",   "refuse",  "cancel_pending"),
        ("cancelled",      "late",        "plain",           "refuse",  "already_cancelled"),
        ("completed",      "early",       "plain",           "refuse",  "not_cancellable"),
    ]),
    # interviewer: sees their own interview but may not cancel it; others: not found
    *rows("iv_own", [
        ("scheduled",      "early",       "plain",           "refuse",  "permission_denied"),
        ("confirmed",      "late",        "review",          "refuse",  "permission_denied"),
        ("cancel_pending", "early",       "review",          "refuse",  "permission_denied"),
        ("cancelled",      "early",       "plain",           "refuse",  "permission_denied"),
        ("completed",      "started",     "plain",           "refuse",  "permission_denied"),
    ]),
    *rows("iv_other", [
        ("scheduled",      "early",       "plain",           "refuse",  "interview_not_found"),
        ("confirmed",      "late",        "plain",           "refuse",  "interview_not_found"),
        ("cancelled",      "early",       "plain",           "refuse",  "interview_not_found"),
    ]),
    # system (auto_cancel_unconfirmed): at once, only unconfirmed, only before the start
    *rows("system", [
        ("scheduled",      "early",       "plain",           "refuse",  BY_SYSTEM),
        ("scheduled",      "late",        "review senior",   "refuse",  BY_SYSTEM),
        ("scheduled",      "early",       "plain nosession", "refuse",
         replace(BY_SYSTEM, frees_place=False)),
        ("scheduled",      "at_start",    "plain",           "refuse",  "interview_started"),
        ("scheduled",      "started",     "plain",           "refuse",  "interview_started"),
        ("confirmed",      "early",       "plain",           "refuse",  "not_cancellable"),
        ("confirmed",      "late",        "plain",           "refuse",  "not_cancellable"),
        ("cancel_pending", "early",       "review",          "refuse",  "cancel_pending"),
        ("cancelled",      "early",       "plain",           "refuse",  "already_cancelled"),
        ("completed",      "started",     "plain",           "refuse",  "not_cancellable"),
    ]),
]


def _rules(after_deadline: str) -> Rules:
    return Rules(cancel_deadline_hours=DEADLINE_HOURS, after_deadline=after_deadline,
                 note_max_length=200, hr_contact="请联系招聘HR 010-12345678")


def _valid_reason(actor: Actor) -> ReasonFacts:
    return CANDIDATE_REASON if actor.type == ActorType.CANDIDATE else COMPANY_REASON


def _told(decision) -> tuple[tuple[str, str, int], ...]:
    return tuple((t.kind, t.recipient_type, t.recipient_id) for t in decision.recipients)


@pytest.mark.parametrize(("actor", "status", "when", "kind", "after_deadline", "expected"), ROWS)
def test_cancel_table(actor, status, when, kind, after_deadline, expected):
    facts = interview(status, when, kind)
    who, rules = ACTORS[actor], _rules(after_deadline)
    allowed = can_cancel(facts, who, rules, NOW)

    if isinstance(expected, str):
        with pytest.raises(AppError) as caught:
            decide_cancel(facts, who, _valid_reason(who), "家里有事", rules, NOW)
        assert caught.value.code == expected
        assert caught.value.status == HTTP_STATUS[expected]
        if expected == "cancel_deadline_passed":
            assert caught.value.details == {
                "cancel_deadline": iso(WHEN[when] - timedelta(hours=DEADLINE_HOURS)),
                "hr_contact": rules.hr_contact}
        assert allowed is False, "can_cancel says yes, decide_cancel refuses"
        return

    decision = decide_cancel(facts, who, _valid_reason(who), "  家里有事  ", rules, NOW)
    assert allowed is True, "can_cancel says no, decide_cancel succeeds"
    assert (decision.status, decision.state, decision.approval_levels) == \
        (expected.status, expected.state, expected.levels)
    assert decision.needs_review == (expected.state == C.REQUESTED)
    assert decision.frees_place is expected.frees_place
    assert (decision.event, decision.event_type) == (expected.event, expected.event_type)
    assert _told(decision) == expected.told
    assert decision.after.version == facts.version + 1
    assert decision.after.status_before_request == \
        (facts.status if expected.state == C.REQUESTED else None)
    assert decision.note == "家里有事"
    assert decision.interview is facts and decision.actor is who and decision.now == NOW


def test_can_cancel_agrees_with_decide_cancel_everywhere():
    """Beyond the table: over every actor, status, time, position and rule, can_cancel is
    True exactly when decide_cancel (with a valid reason) succeeds."""
    kinds = ("plain", "senior", "review", "review senior", "plain nosession")
    checked = 0
    for actor, status, when, kind, after in itertools.product(
            ACTORS, [s.value for s in S], WHEN, kinds, ("refuse", "request")):
        facts, who, rules = interview(status, when, kind), ACTORS[actor], _rules(after)
        try:
            decide_cancel(facts, who, _valid_reason(who), None, rules, NOW)
            decided = True
        except AppError:
            decided = False
        assert can_cancel(facts, who, rules, NOW) is decided, (actor, status, when, kind, after)
        checked += 1
    assert checked == 9 * len(S) * 5 * 5 * 2


# --- the reason and the note ------------------------------------------------------------

RETIRED = replace(CANDIDATE_REASON, id=3, code="old", active=False)
RETIRED_COMPANY = replace(COMPANY_REASON, id=4, code="old_company", active=False)
NOTE_NEEDED = replace(CANDIDATE_REASON, id=5, code="other", requires_note=True)
SHORT_NOTE = replace(CANDIDATE_REASON, id=6, code="short", note_max_length=50)
LONG_NOTE = replace(COMPANY_REASON, id=7, code="long", note_max_length=300)
COMPANY_NOTE_NEEDED = replace(COMPANY_REASON, id=8, code="company_other", requires_note=True)


def n(actor, reason, note, expected, row_id, *, rules_note_max=200):
    return pytest.param(actor, reason, note, rules_note_max, expected, id=row_id)


NOTE_ROWS = [
    # actor        reason             note        expected (the stored note, or the error)
    n("candidate", CANDIDATE_REASON,  None,        None,             "candidate-ok"),
    n("candidate", COMPANY_REASON,    None,        "invalid_reason", "candidate-company-reason"),
    n("spec",      CANDIDATE_REASON,  None,        "invalid_reason", "hr-candidate-reason"),
    n("admin",     CANDIDATE_REASON,  None,        "invalid_reason", "admin-candidate-reason"),
    n("system",    CANDIDATE_REASON,  None,        "invalid_reason", "system-candidate-reason"),
    n("system",    COMPANY_REASON,    None,        None,             "system-ok"),
    n("candidate", RETIRED,           None,        "invalid_reason", "candidate-retired"),
    n("manager",   RETIRED_COMPANY,   None,        "invalid_reason", "hr-retired"),
    n("candidate", None,              "说明",       "invalid_reason", "candidate-no-reason"),
    n("spec",      None,              None,        "invalid_reason", "hr-no-reason"),
    # out of scope wins over a bad reason: no hint that the interview exists
    n("spec_other", CANDIDATE_REASON, None,        "interview_not_found", "other-dept-bad-reason"),
    n("iv_own",    COMPANY_REASON,    None,        "permission_denied", "interviewer-good-reason"),
    n("candidate", NOTE_NEEDED,       None,        "note_required",  "note-needed-none"),
    n("candidate", NOTE_NEEDED,       "   ",       "note_required",  "note-needed-blank"),
    n("candidate", NOTE_NEEDED,       " 加班 ",     "加班",            "note-needed-given"),
    n("spec",      COMPANY_NOTE_NEEDED, "",        "note_required",  "hr-note-needed-empty"),
    n("spec",      COMPANY_NOTE_NEEDED, "岗位调整", "岗位调整",        "hr-note-needed-given"),
    n("candidate", CANDIDATE_REASON,  "   ",       None,             "blank-note-is-none"),
    # limit = min(reason.note_max_length, rules.note_max_length)
    n("candidate", CANDIDATE_REASON,  "字" * 200,  "字" * 200,        "rules-limit-exact"),
    n("candidate", CANDIDATE_REASON,  "字" * 201,  "note_too_long",  "rules-limit-over"),
    n("candidate", CANDIDATE_REASON,  " " + "字" * 200 + " ", "字" * 200, "limit-after-strip"),
    n("candidate", SHORT_NOTE,        "字" * 50,   "字" * 50,         "reason-limit-exact"),
    n("candidate", SHORT_NOTE,        "字" * 51,   "note_too_long",  "reason-limit-over"),
    n("admin",     LONG_NOTE,         "字" * 100,  "字" * 100,        "rules-lower-exact",
      rules_note_max=100),
    n("admin",     LONG_NOTE,         "字" * 101,  "note_too_long",  "rules-lower-over",
      rules_note_max=100),
]


@pytest.mark.parametrize(("actor", "reason", "note", "rules_note_max", "expected"), NOTE_ROWS)
def test_reason_and_note(actor, reason, note, rules_note_max, expected):
    facts = interview("scheduled", "early")
    rules = Rules(cancel_deadline_hours=DEADLINE_HOURS, note_max_length=rules_note_max)
    if expected in HTTP_STATUS:
        with pytest.raises(AppError) as caught:
            decide_cancel(facts, ACTORS[actor], reason, note, rules, NOW)
        assert caught.value.code == expected
        assert caught.value.status == HTTP_STATUS[expected]
        if expected == "note_too_long":
            limit = min(reason.note_max_length, rules_note_max)
            assert caught.value.details == {"field": "note", "max_length": limit}
        return
    decision = decide_cancel(facts, ACTORS[actor], reason, note, rules, NOW)
    assert decision.note == expected
    assert decision.reason is reason
    assert decision.status == S.CANCELLED
