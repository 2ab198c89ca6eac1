"""Requests nobody decided, by the clock: a candidate's request still open
escalation_lead_hours (2) before the start goes to the recruiting managers of the
position's department, once; at the start it is settled by the rule
unanswered_request_at_start through the approval core with a system actor: approved (the
system cancels, every open level approved) or rejected (the interview stays)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import (
    Approval,
    ApprovalDecision,
    AuditEntry,
    Cancellation,
    CancellationState,
    InterviewStatus,
)
from app.services.cancellation import commands, escalation
from app.services.rules.store import update_rules
from tests.jobs.automation_cases import (
    STARTS,
    audit_count,
    candidate_reason,
    interview,
    messages,
    position,
    seconds,
    status,
    team,
)

ESCALATED = "staff_request_escalated"


def _request(app, people, start, *, number="AI-1", department="技术部", senior=False,
             confirmed=False):
    """A candidate's request for review, made through the cancellation core a day ahead."""
    pos = position(app, people, department=department, cancel_requires_review=True,
                   is_senior=senior, title=f"岗位{number}")
    iv = interview(app, people, pos, start, number,
                   status=InterviewStatus.CONFIRMED if confirmed else InterviewStatus.SCHEDULED)
    reason = candidate_reason(app) if number == "AI-1" else "time_conflict"
    with app.app_context():
        outcome = commands.cancel_by_candidate(
            candidate_id=iv.candidate_id, interview_public_id=iv.public_id,
            reason_code=reason, now=start - timedelta(days=1))
        db.session.remove()
    assert outcome.state == CancellationState.REQUESTED
    iv.cancellation_id = outcome.cancellation_id
    return iv


def _escalate(app, now) -> int:
    with app.app_context():
        try:
            return escalation.escalate_pending(now)
        finally:
            db.session.remove()


def _settle(app, now) -> int:
    with app.app_context():
        try:
            return escalation.settle_started(now)
        finally:
            db.session.remove()


@pytest.mark.parametrize("when", sorted(STARTS))
def test_a_request_open_two_hours_before_the_start_goes_to_the_managers_once(app, when):
    people = team(app)
    start = STARTS[when]
    iv = _request(app, people, start)
    lead = start - timedelta(hours=2)
    assert _escalate(app, lead - seconds(1)) == 0
    assert _escalate(app, lead) == 1                                 # exactly at the lead
    assert messages(app, iv.id, ESCALATED) == sorted([
        (ESCALATED, "hr_user", people.manager), (ESCALATED, "hr_user", people.manager2)])
    with app.app_context():   # the manager sees what the candidate asked, and why
        from app.models import OutboxMessage

        context = db.session.scalars(select(OutboxMessage.context).where(
            OutboxMessage.kind == ESCALATED)).first()
        assert (context["reason_label"], context["interview_number"]) == ("时间冲突", "AI-1")
    assert _escalate(app, lead + timedelta(minutes=30)) == 0         # once
    assert len(messages(app, iv.id, ESCALATED)) == 2
    assert audit_count(app, "interview.cancel_request_escalated") == 1
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "interview.cancel_request_escalated")).one()
        assert (entry.actor_type, entry.data["rule"], entry.data["cancellation_id"]) == \
            ("system", "escalation_lead_hours", iv.cancellation_id)


def test_a_department_without_a_manager_escalates_to_the_admins(app):
    people = team(app)
    iv = _request(app, people, STARTS["working_day"], department="财务部")
    assert _escalate(app, STARTS["working_day"] - timedelta(hours=1)) == 1
    assert messages(app, iv.id, ESCALATED) == [(ESCALATED, "hr_user", people.admin)]


def test_decided_or_started_requests_are_not_escalated(app):
    people = team(app)
    start = STARTS["working_day"]
    decided = _request(app, people, start)
    started = _request(app, people, start - timedelta(hours=3), number="AI-2")
    with app.app_context():
        from app.models import HrUser
        from app.services.users.actor import Actor

        commands.reject(Actor.hr(db.session.get(HrUser, people.recruiter)),
                        decided.cancellation_id, "请按时参加", now=start - timedelta(hours=5))
        db.session.remove()
    assert _escalate(app, start - timedelta(hours=1)) == 0
    assert messages(app, started.id, ESCALATED) == []


def test_the_lead_is_the_rule_hr_sets(app):
    people = team(app)
    start = STARTS["working_day"]
    _request(app, people, start)
    with app.app_context():
        update_rules({"escalation_lead_hours": 6}, actor_id=None)
    assert _escalate(app, start - timedelta(hours=6) - seconds(1)) == 0
    assert _escalate(app, start - timedelta(hours=6)) == 1


@pytest.mark.parametrize("when", sorted(STARTS))
def test_at_the_start_an_open_request_is_approved_and_cancelled_by_the_system(app, when):
    people = team(app)
    start = STARTS[when]
    iv = _request(app, people, start, senior=True)       # two levels, neither decided
    assert _settle(app, start - seconds(1)) == 0
    assert status(app, iv.id) == InterviewStatus.CANCEL_PENDING
    assert _settle(app, start) == 1                        # exactly at the start
    assert status(app, iv.id) == InterviewStatus.CANCELLED
    with app.app_context():
        c = db.session.get(Cancellation, iv.cancellation_id)
        assert c.state == CancellationState.EFFECTIVE and c.decided_at is not None
        levels = db.session.scalars(select(Approval).where(
            Approval.cancellation_id == c.id).order_by(Approval.level)).all()
        assert [(a.level, a.decision, a.approver_id) for a in levels] == [
            (1, ApprovalDecision.APPROVED, None), (2, ApprovalDecision.APPROVED, None)]
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "interview.cancel_approved")).one()
        assert (entry.actor_type, entry.data["rule"]) == ("system",
                                                          "unanswered_request_at_start")
    told = messages(app, iv.id)
    assert ("candidate_cancel_approved", "candidate", iv.candidate_id) in told
    assert ("staff_interview_cancelled", "hr_user", people.recruiter) in told
    assert _settle(app, start + timedelta(minutes=5)) == 0   # once


def test_with_the_reject_rule_the_interview_stays_as_it_was(app):
    people = team(app)
    start = STARTS["working_day"]
    iv = _request(app, people, start, confirmed=True)
    with app.app_context():
        update_rules({"unanswered_request_at_start": "reject"}, actor_id=None)
    assert _settle(app, start + seconds(30)) == 1
    assert status(app, iv.id) == InterviewStatus.CONFIRMED
    with app.app_context():
        assert db.session.get(Cancellation, iv.cancellation_id).state == \
            CancellationState.REJECTED
    assert ("candidate_cancel_rejected", "candidate", iv.candidate_id) in messages(app, iv.id)


def test_a_request_waiting_for_the_candidates_detail_is_settled_too(app):
    people = team(app)
    start = STARTS["working_day"]
    iv = _request(app, people, start)
    with app.app_context():
        from app.models import HrUser
        from app.services.users.actor import Actor

        commands.ask_for_detail(Actor.hr(db.session.get(HrUser, people.recruiter)),
                                iv.cancellation_id, "请说明原因",
                                now=start - timedelta(hours=20))
        db.session.remove()
    assert _escalate(app, start - timedelta(hours=2)) == 1
    assert _settle(app, start) == 1
    assert status(app, iv.id) == InterviewStatus.CANCELLED


def test_the_settings_page_shows_and_saves_both_rules(app, demo):
    from tests.factories import console_client, csrf_token

    client = console_client(app, "admin", demo["password"])
    page = client.get("/console/settings/rules").get_data(as_text=True)
    assert "待审批申请上报招聘经理" in page and "面试开始时仍未审批的取消申请" in page
    with app.app_context():
        from dataclasses import asdict

        from app.services.rules import get_rules

        form = {k: v for k, v in asdict(get_rules()).items() if not isinstance(v, tuple)}
    form.update(escalation_lead_hours="3", unanswered_request_at_start="reject",
                csrf_token=csrf_token(client, "/console/settings/rules"))
    saved = client.post("/console/settings/rules", data=form)
    assert saved.status_code == 302, saved.get_data(as_text=True)[:500]
    with app.app_context():
        from app.services.rules import get_rules

        rules = get_rules()
        assert (rules.escalation_lead_hours, rules.unanswered_request_at_start) == (3, "reject")
    form.update(unanswered_request_at_start="maybe",
                csrf_token=csrf_token(client, "/console/settings/rules"))
    bad = client.post("/console/settings/rules", data=form)
    assert bad.status_code == 422 and "只能是" in bad.get_data(as_text=True)
