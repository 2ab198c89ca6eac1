"""Jobs run on any number of workers at once: two watchdog rounds at the same moment
open one alert and send one message per recipient; two privacy runs anonymise each
candidate once (one audit entry); two digest runs queue one digest per owner."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.jobs import digest, privacy, watchdogs
from app.models import Alert, AuditEntry, InterviewStatus, OutboxMessage, OutboxStatus
from tests import factories

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)   # 09:00 Beijing


def _at_once(app, run, n=2):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def work():
        with app.app_context():
            try:
                barrier.wait(10)
                results.append(run(NOW))
            except Exception as exc:  # a failed run is a failed test
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def _count(app, model, *where):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_two_watchdog_rounds_at_once_open_one_alert_and_one_message(app):
    recruiter = factories.hr_user(app, "rec")
    position = factories.position(app, recruiter_id=recruiter)
    for i in range(3):
        iv = factories.interview(app, f"AI-C-{i}", position_id=position)
        factories.outbox_message(app, iv.id, status=OutboxStatus.UNREACHABLE,
                                 recipient_id=iv.candidate_id, created_at=NOW)
    results = _at_once(app, watchdogs.run)
    assert sum(results) == 3
    assert _count(app, Alert) == 3
    assert _count(app, OutboxMessage, OutboxMessage.kind == "staff_watchdog_alert") == 3
    assert _count(app, AuditEntry, AuditEntry.action == "alert.opened") == 3


def test_two_privacy_runs_at_once_anonymise_each_candidate_once(app):
    for i in range(4):
        factories.interview(app, f"AI-R-{i}", status=InterviewStatus.CANCELLED,
                            scheduled_at=NOW - timedelta(days=400),
                            cancelled_at=NOW - timedelta(days=400))
    results = _at_once(app, privacy.run)
    assert sum(results) == 4
    assert _count(app, AuditEntry, AuditEntry.action == "candidate.anonymised") == 4


def test_two_digest_runs_at_once_queue_one_digest_per_owner(app):
    for name in ("a", "b"):
        user = factories.hr_user(app, f"owner-{name}")
        factories.position(app, f"岗位{name}", recruiter_id=user)
    results = _at_once(app, digest.run)
    assert sum(results) == 2
    assert _count(app, OutboxMessage, OutboxMessage.kind == "staff_daily_digest") == 2
