"""Auto-cancel by the clock: an interview still 待确认 after its deadline is cancelled by the
system (超时未确认), candidate and team told; exactly at the deadline it still stands;
the deadline is confirm_by, or the invitation plus the position's hours (the rule's where
it sets none); hours are clock hours, across a statutory holiday and into a year
chinese-calendar has no data for."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Cancellation, InterviewStatus
from app.services.cancellation import system
from tests.jobs.automation_cases import STARTS, interview, messages, position, seconds, status, team


def _run(app, now) -> int:
    with app.app_context():
        try:
            return system.auto_cancel_unconfirmed(now)
        finally:
            db.session.remove()


@pytest.mark.parametrize("when", sorted(STARTS))
def test_unconfirmed_past_the_deadline_is_cancelled_exactly_after_it(app, when):
    people = team(app)
    start = STARTS[when]
    deadline = start - timedelta(hours=24)
    iv = interview(app, people, position(app, people), start, "AI-2026-12-09-001",
                   confirm_by=deadline, created_at=deadline - timedelta(days=2))
    assert _run(app, deadline) == 0                      # exactly at the deadline: stands
    assert status(app, iv.id) == InterviewStatus.SCHEDULED
    assert _run(app, deadline + seconds(1)) == 1
    assert status(app, iv.id) == InterviewStatus.CANCELLED
    assert messages(app, iv.id) == sorted([
        ("candidate_cancelled_by_company", "candidate", iv.candidate_id),
        ("staff_interview_cancelled", "hr_user", people.recruiter),
        ("staff_interview_cancelled", "hr_user", people.hiring_manager),
        ("staff_interview_cancelled", "hr_user", people.interviewer)])
    with app.app_context():
        c = db.session.scalars(select(Cancellation).where(
            Cancellation.interview_id == iv.id)).one()
        assert (c.actor_type, c.actor_rule, c.reason.label) == \
            ("system", "auto_cancel_unconfirmed", "超时未确认")
    assert _run(app, deadline + timedelta(hours=1)) == 0  # idempotent


def test_the_position_hours_override_the_rule(app):
    people = team(app)
    start = STARTS["working_day"]
    invited = start - timedelta(days=4)
    default_pos = position(app, people, title="测试工程师")
    slow_pos = position(app, people, title="架构师", auto_cancel_unconfirmed_hours=48)
    fast_pos = position(app, people, title="实习生", auto_cancel_unconfirmed_hours=6)
    default_iv = interview(app, people, default_pos, start, "AI-1", created_at=invited)
    slow_iv = interview(app, people, slow_pos, start, "AI-2", created_at=invited)
    fast_iv = interview(app, people, fast_pos, start, "AI-3", created_at=invited)
    assert _run(app, invited + timedelta(hours=6)) == 0              # exactly 6 h
    assert _run(app, invited + timedelta(hours=6) + seconds(1)) == 1
    assert status(app, fast_iv.id) == InterviewStatus.CANCELLED
    assert _run(app, invited + timedelta(hours=24) + seconds(1)) == 1
    assert status(app, default_iv.id) == InterviewStatus.CANCELLED
    assert status(app, slow_iv.id) == InterviewStatus.SCHEDULED      # 48 h not yet
    assert _run(app, invited + timedelta(hours=48) + seconds(1)) == 1
    assert status(app, slow_iv.id) == InterviewStatus.CANCELLED


def test_confirmed_started_and_pending_interviews_are_left_alone(app):
    people = team(app)
    start = STARTS["working_day"]
    pos = position(app, people)
    deadline = start - timedelta(hours=24)
    confirmed = interview(app, people, pos, start, "AI-1", confirm_by=deadline,
                          status=InterviewStatus.CONFIRMED)
    started = interview(app, people, pos, deadline + timedelta(hours=1), "AI-2",
                        confirm_by=deadline)
    assert _run(app, deadline + timedelta(hours=2)) == 0
    assert status(app, confirmed.id) == InterviewStatus.CONFIRMED
    assert status(app, started.id) == InterviewStatus.SCHEDULED      # already started
