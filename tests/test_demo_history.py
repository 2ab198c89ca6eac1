"""`flask seed-demo` writes a month of history so the reports of a fresh `make run` show
figures: past interviews of every position with every outcome, cancellations by the
candidate, the company and the system with seeded reasons, messages on several channels
with a few failures and two candidates nobody could reach, and audit entries that seal
into an intact chain. The tests' small demo set (seed_demo(candidates=12)) has none."""
from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from app.cli.demo import seed_demo
from app.cli.demo_history import HISTORY_DAYS, PER_POSITION, UNREACHABLE_CANDIDATES
from app.core.timeutil import SHANGHAI, utcnow
from app.extensions import db
from app.models import (
    AuditEntry,
    Cancellation,
    CancelReason,
    HrUser,
    Interview,
    InterviewStatus,
    OutboxMessage,
    OutboxStatus,
    Position,
)
from app.services.audit.seal import seal_pending
from app.services.audit.verify import verify_chain
from app.services.reports import figures
from app.services.users.actor import Actor


def test_the_demo_history_feeds_every_report_with_consistent_rows(app):
    with app.app_context():
        summary = seed_demo(candidates=2, history=True)
        assert summary["history"]["interviews"] == 4 * PER_POSITION
        now = utcnow()
        today = now.astimezone(SHANGHAI).date()
        past = db.session.scalars(select(Interview).where(Interview.scheduled_at < now)).all()
        assert len(past) == 4 * PER_POSITION
        assert {i.scheduled_at.astimezone(SHANGHAI).date() for i in past} <= {
            today.fromordinal(today.toordinal() - d) for d in range(1, HISTORY_DAYS + 1)}
        per_position = Counter(i.position_id for i in past)
        assert set(per_position.values()) == {PER_POSITION}
        assert len(per_position) == db.session.scalar(select(func.count()).select_from(Position))
        statuses = Counter(i.status for i in past)
        assert {InterviewStatus.COMPLETED, InterviewStatus.NO_SHOW,
                InterviewStatus.CANCELLED} == set(statuses)
        # every cancelled interview has one effective cancellation with a seeded reason
        cancelled = {i.id for i in past if i.status == InterviewStatus.CANCELLED}
        rows = db.session.scalars(select(Cancellation)).all()
        assert sorted(c.interview_id for c in rows) == sorted(cancelled)
        codes = set(db.session.scalars(select(CancelReason.code)))
        assert {c.reason.code for c in rows} <= codes
        by_actor = Counter(c.actor_type for c in rows)
        assert set(by_actor) == {"candidate", "hr", "system"}

        admin = Actor.hr(db.session.scalar(select(HrUser).where(HrUser.username == "admin")))
        month = figures.report_filters(today=today)
        report = figures.cancellation_report(admin, month)
        in_month = [c for c in rows if (c.decided_at or c.requested_at) >= month.start]
        assert report.by_initiator == {
            k: v for k, v in {
                "candidate": sum(c.actor_type == "candidate" for c in in_month),
                "company": sum(c.actor_type == "hr" for c in in_month),
                "system": sum(c.actor_type == "system" for c in in_month)}.items() if v}
        assert sum(report.per_day.values()) == len(in_month)

        messages = db.session.scalars(select(OutboxMessage)).all()
        assert {m.channel for m in messages} >= {"subscribe", "oa_template", "sms"}
        for m in messages:  # the columns agree with the status, as the dispatcher leaves them
            assert (m.read_at is not None) == (m.status == OutboxStatus.READ)
            if m.status in (OutboxStatus.DELIVERED, OutboxStatus.READ):
                assert m.created_at < m.sent_at <= m.delivered_at
            if m.status in (OutboxStatus.FAILED, OutboxStatus.UNREACHABLE):
                assert m.sent_at is None and m.last_error
        notifications = figures.notification_report(admin, month)
        assert notifications.total.failed > 0 and notifications.total.opened > 0
        assert 0 < notifications.total.arrival_rate < 1
        assert len(notifications.unreachable) == UNREACHABLE_CANDIDATES

        # the audit entries of the history seal into an intact chain
        actions = set(db.session.scalars(select(AuditEntry.action)))
        assert {"interview.cancelled", "interview.cancel_requested",
                "interview.cancel_approved"} <= actions
        while seal_pending():
            pass
        assert verify_chain().ok


def test_the_tests_demo_set_has_no_history(app, demo):
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Cancellation)) == 0
        assert db.session.scalar(select(func.count()).select_from(Interview).where(
            Interview.scheduled_at < utcnow())) == 0
