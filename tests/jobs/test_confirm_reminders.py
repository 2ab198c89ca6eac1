"""The confirmation reminder by the clock: reminder_lead_hours (12) before the deadline, to
the candidate, once per interview and deadline; none once the deadline passed, once
confirmed or cancelled; and a reminder queued before a cancel is never sent (checked at
dispatch)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.core.timeutil import iso, utcnow
from app.extensions import db
from app.jobs.worker import drain
from app.models import InterviewStatus, OutboxMessage, OutboxStatus
from app.services.cancellation import commands
from app.services.interviews import reminders
from app.services.rules.store import update_rules
from app.services.users.actor import Actor
from tests.jobs.automation_cases import STARTS, interview, messages, position, seconds, team

REMINDER = "candidate_confirm_reminder"


def _run(app, now) -> int:
    with app.app_context():
        try:
            return reminders.send_confirmation_reminders(now)
        finally:
            db.session.remove()


@pytest.mark.parametrize("when", sorted(STARTS))
def test_the_reminder_goes_out_twelve_hours_before_the_deadline_once(app, when):
    people = team(app)
    start = STARTS[when]
    deadline = start - timedelta(hours=24)
    due = deadline - timedelta(hours=12)
    iv = interview(app, people, position(app, people), start, "AI-1", confirm_by=deadline)
    assert _run(app, due - seconds(1)) == 0
    assert _run(app, due) == 1                                   # exactly at its time
    assert messages(app, iv.id) == [(REMINDER, "candidate", iv.candidate_id)]
    assert _run(app, due + timedelta(hours=1)) == 0              # once
    assert _run(app, deadline - seconds(1)) == 0
    with app.app_context():
        context = db.session.scalars(select(OutboxMessage.context)).one()
    assert context["confirm_by"] == iso(deadline)
    assert context["scheduled_at"] == iso(start)


def test_no_reminder_after_the_deadline_or_for_confirmed_or_cancelled(app):
    people = team(app)
    start = STARTS["working_day"]
    deadline = start - timedelta(hours=24)
    pos = position(app, people)
    late = interview(app, people, pos, start, "AI-1", confirm_by=deadline)
    interview(app, people, pos, start, "AI-2", confirm_by=deadline,
              status=InterviewStatus.CONFIRMED)
    interview(app, people, pos, start, "AI-3", confirm_by=deadline,
              status=InterviewStatus.CANCELLED)
    assert _run(app, deadline) == 0            # the deadline itself: auto-cancel's turn
    assert _run(app, deadline + seconds(1)) == 0
    assert messages(app, late.id) == []


def test_without_confirm_by_the_invitation_plus_the_position_hours_is_the_deadline(app):
    people = team(app)
    start = STARTS["working_day"]
    invited = start - timedelta(days=5)
    pos = position(app, people, auto_cancel_unconfirmed_hours=48)
    iv = interview(app, people, pos, start, "AI-1", created_at=invited)
    assert _run(app, invited + timedelta(hours=36) - seconds(1)) == 0
    assert _run(app, invited + timedelta(hours=36)) == 1
    assert messages(app, iv.id) == [(REMINDER, "candidate", iv.candidate_id)]


def test_the_lead_is_the_rule_hr_sets(app):
    people = team(app)
    start = STARTS["working_day"]
    deadline = start - timedelta(hours=24)
    interview(app, people, position(app, people), start, "AI-1", confirm_by=deadline)
    with app.app_context():
        update_rules({"reminder_lead_hours": 2}, actor_id=None)
    assert _run(app, deadline - timedelta(hours=3)) == 0
    assert _run(app, deadline - timedelta(hours=2)) == 1


def test_a_new_deadline_gets_its_own_reminder(app):
    people = team(app)
    start = STARTS["working_day"]
    deadline = start - timedelta(hours=24)
    iv = interview(app, people, position(app, people), start, "AI-1", confirm_by=deadline)
    assert _run(app, deadline - timedelta(hours=12)) == 1
    later = deadline + timedelta(hours=6)
    with app.app_context():
        from app.models import Interview

        db.session.get(Interview, iv.id).confirm_by = later
        db.session.commit()
    assert _run(app, later - timedelta(hours=12)) == 1
    assert len(messages(app, iv.id)) == 2


def test_a_reminder_queued_before_a_cancel_is_never_sent(app, demo):
    """The reminder is queued, then HR cancels before the dispatcher ran: the cancel's
    messages go out, the reminder never does."""
    with app.app_context():
        from app.models import Interview

        iv = db.session.scalars(select(Interview).where(
            Interview.status == InterviewStatus.SCHEDULED).order_by(Interview.id)).first()
        iv.confirm_by = iv.scheduled_at - timedelta(hours=1)
        db.session.commit()
        iv_id, public_id, deadline = iv.id, iv.public_id, iv.confirm_by
    assert _run(app, deadline - timedelta(hours=12)) >= 1   # the demo's others may be due
    assert messages(app, iv_id, REMINDER)
    with app.app_context():
        from app.models import HrUser

        admin = db.session.get(HrUser, demo["hr_users"]["admin"]["id"])
        commands.cancel_by_hr(Actor.hr(admin), public_id, reason_code="position_paused")
        # The job ran at a clock that may be ahead of the real one (after Beijing midnight
        # "tomorrow" moves): make the reminder due now, so the dispatcher does see it.
        db.session.execute(update(OutboxMessage).where(
            OutboxMessage.interview_id == iv_id, OutboxMessage.kind == REMINDER)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        db.session.remove()
    drain(app)
    with app.app_context():
        rows = {m.kind: m for m in db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.interview_id == iv_id))}
        reminder = rows.pop(REMINDER)
        assert reminder.sent_at is None and reminder.status not in (
            OutboxStatus.SENT, OutboxStatus.DELIVERED, OutboxStatus.READ, OutboxStatus.QUEUED)
        assert rows["candidate_cancelled_by_company"].sent_at is not None
