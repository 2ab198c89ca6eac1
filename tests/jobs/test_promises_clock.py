"""The rescheduling promise, driven by the clock: the company cancels with 为候选人重新安排,
the job (`flask jobs run reschedule_promises --now ...`) opens one promise due at the end
of the N-th working day, warns the HR owner once from 09:00 on the working day before,
and breaks it one second after due; the edges: exactly at the deadline, across the
National Day holiday, over a year end chinese-calendar has no data for (HR's overrides)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select

from app.core.timeutil import SHANGHAI
from app.extensions import db
from app.jobs import promises as job
from app.jobs.schedule import get_job
from app.models import (
    AuditEntry,
    OutboxMessage,
    PromiseState,
    ReschedulePromise,
    WorkdayOverride,
)
from tests import factories


def bj(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def cancelled_with_promise(app, now: datetime, scheduled_at: datetime, **kw):
    """A recruiter's position, a candidate's interview there, cancelled by the company at
    `now` with 为候选人重新安排. Returns (interview, recruiter id)."""
    recruiter = factories.hr_user(app, f"rec-{now:%m%d%H%M}", display_name="李招聘")
    position = factories.position(app, recruiter_id=recruiter)
    iv = factories.interview(app, number=f"AI-{scheduled_at:%Y-%m-%d}-001",
                             scheduled_at=scheduled_at, position_id=position, **kw)
    factories.company_cancel(app, iv.public_id, now)
    return iv, recruiter


def promise(app) -> ReschedulePromise:
    with app.app_context():
        return db.session.scalars(select(ReschedulePromise)).one()


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def warnings(app) -> int:
    return count(app, OutboxMessage, OutboxMessage.kind == "staff_promise_at_risk")


def run(app, now: datetime) -> int:
    with app.app_context():
        return job.run(now)


def test_the_job_is_in_the_schedule():
    assert get_job("reschedule_promises").run is not None


def test_a_company_cancel_with_reschedule_opens_one_promise_due_at_the_third_working_day(app):
    now = bj(2025, 12, 1, 10, 0)  # Monday
    iv, _ = cancelled_with_promise(app, now, bj(2025, 12, 3, 14, 0))
    assert run(app, now) >= 1
    assert run(app, now) == 0  # a second worker, the same minute: nothing more
    p = promise(app)
    assert (p.state, p.interview_id, p.candidate_id) == (PromiseState.OPEN, iv.id,
                                                         iv.candidate_id)
    assert p.due_at == bj(2025, 12, 4, 23, 59, 59)  # Thursday, the 3rd working day
    assert count(app, AuditEntry, AuditEntry.action == "promise.opened") == 1


def test_exactly_at_the_deadline_the_promise_holds_and_one_second_later_it_is_broken(app):
    now = bj(2025, 12, 1, 10, 0)
    cancelled_with_promise(app, now, bj(2025, 12, 3, 14, 0))
    run(app, now)
    due = promise(app).due_at
    run(app, due)
    assert promise(app).state == PromiseState.OPEN
    run(app, due.replace(microsecond=0) + (bj(2025, 1, 1, 0, 0, 1) - bj(2025, 1, 1)))
    p = promise(app)
    assert p.state == PromiseState.BROKEN and p.broken_at is not None
    entries = count(app, AuditEntry, AuditEntry.action == "promise.broken")
    run(app, bj(2025, 12, 6, 12, 0))
    assert entries == 1 == count(app, AuditEntry, AuditEntry.action == "promise.broken")


def test_the_hr_owner_is_warned_once_from_9_on_the_working_day_before_across_national_day(app):
    # Monday 09-29 before the holiday (10-01..10-08): working days 09-30, 10-09, 10-10
    now = bj(2025, 9, 29, 10, 0)
    _, recruiter = cancelled_with_promise(app, now, bj(2025, 9, 30, 15, 0))
    run(app, now)
    assert promise(app).due_at == bj(2025, 10, 10, 23, 59, 59)
    for quiet in (bj(2025, 9, 30, 12, 0), bj(2025, 10, 3, 9, 0), bj(2025, 10, 8, 23, 0),
                  bj(2025, 10, 9, 8, 59)):
        run(app, quiet)
        assert warnings(app) == 0, quiet
    run(app, bj(2025, 10, 9, 9, 0))
    run(app, bj(2025, 10, 9, 9, 1))
    run(app, bj(2025, 10, 10, 18, 0))
    assert warnings(app) == 1
    with app.app_context():
        message = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "staff_promise_at_risk")).one()
        assert (message.recipient_type, message.recipient_id) == ("hr_user", recruiter)
        assert message.context["due_at"] == "2025-10-10T23:59:59+08:00"
    assert promise(app).state == PromiseState.OPEN  # still the day of due
    assert count(app, AuditEntry, AuditEntry.action == "promise.warned") == 1


def test_over_a_year_end_without_calendar_data_hr_overrides_decide_due_and_warning(app):
    # chinese-calendar has no 2027 data: Monday-Friday, unless HR entered the holiday
    with factories.committed(app) as session:
        session.add(WorkdayOverride(day=date(2027, 1, 1), is_workday=False, note="元旦"))
    now = bj(2026, 12, 30, 10, 0)  # Wednesday
    cancelled_with_promise(app, now, bj(2026, 12, 31, 15, 0))
    run(app, now)
    # 12-31 (1), 01-01 holiday by override, 01-02/03 weekend, 01-04 (2), 01-05 (3)
    assert promise(app).due_at == bj(2027, 1, 5, 23, 59, 59)
    run(app, bj(2027, 1, 1, 9, 0))
    run(app, bj(2027, 1, 3, 9, 0))
    assert warnings(app) == 0
    run(app, bj(2027, 1, 4, 9, 0))
    assert warnings(app) == 1


def test_without_the_override_the_missing_year_counts_monday_to_friday(app):
    now = bj(2026, 12, 30, 10, 0)
    cancelled_with_promise(app, now, bj(2026, 12, 31, 15, 0))
    run(app, now)
    assert promise(app).due_at == bj(2027, 1, 4, 23, 59, 59)  # 12-31, 01-01, 01-04
    run(app, bj(2026, 12, 31, 23, 0))
    assert warnings(app) == 0
    run(app, bj(2027, 1, 1, 9, 0))  # the working day before due (no data: a Friday)
    assert warnings(app) == 1


def test_a_cancel_without_reschedule_makes_no_promise(app):
    now = bj(2025, 12, 1, 10, 0)
    iv = factories.interview(app, scheduled_at=bj(2025, 12, 3, 14, 0))
    factories.company_cancel(app, iv.public_id, now, reschedule=False)
    run(app, now)
    assert count(app, ReschedulePromise) == 0


def test_an_interview_hr_schedules_after_the_cancel_keeps_the_promise(app):
    now = bj(2025, 12, 1, 10, 0)
    iv, _ = cancelled_with_promise(app, now, bj(2025, 12, 3, 14, 0))
    run(app, now)
    new = factories.interview(app, number="AI-2025-12-05-001", scheduled_at=bj(2025, 12, 5, 10),
                              candidate_id=iv.candidate_id, position_id=iv.position_id,
                              created_at=bj(2025, 12, 2, 9, 30))
    run(app, bj(2025, 12, 2, 10, 0))
    p = promise(app)
    assert (p.state, p.kept_by_interview_id) == (PromiseState.KEPT, new.id)
    run(app, bj(2025, 12, 9, 10, 0))  # past due: kept stays kept
    assert promise(app).state == PromiseState.KEPT
