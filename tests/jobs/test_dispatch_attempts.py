"""No row stays `sending` past its lease without counting an attempt: a send that raises
(SMS_PROVIDER=tencent without its keys) retries with backoff and then fails for good like
any other error, with the reason; a row a dead worker left `sending` is reclaimed after
its lease with an attempt counted, and fails for good after MAX_ATTEMPTS such claims."""
from datetime import timedelta

from sqlalchemy import func, select, update

from app.core.timeutil import utcnow
from app.extensions import db
from app.jobs.worker import drain
from app.models import OutboxMessage, OutboxStatus
from app.services.notifications import claim, dispatch


def _due_now(app, rid, **values):
    with app.app_context():
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id == rid)
                           .values(next_attempt_at=utcnow() - timedelta(seconds=1), **values))
        db.session.commit()


def _alerts(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == "staff_notification_failed"))


def test_a_send_that_raises_is_an_attempt_that_retries_with_backoff(app, queue, row):
    app.config.update(SMS_PROVIDER="tencent", TENCENT_SECRET_ID=None, TENCENT_SECRET_KEY=None)
    rid = queue(credit=False)  # SMS is the candidate's first channel
    before = utcnow()
    drain(app)
    r = row(rid)
    assert (r.status, r.attempts, r.lease_until) == (OutboxStatus.RETRYING, 1, None)
    assert r.last_error.startswith("发送时出现异常：SmsConfigError")
    assert "TENCENT_SECRET_ID" in r.last_error
    assert r.next_attempt_at > before + timedelta(seconds=2)  # backoff, not at once


def test_a_send_that_keeps_raising_ends_in_final_failure_and_hr_is_told(app, queue, row):
    app.config.update(SMS_PROVIDER="tencent", TENCENT_SECRET_ID=None, TENCENT_SECRET_KEY=None)
    rid = queue(credit=False)
    for _ in range(dispatch.MAX_ATTEMPTS):
        _due_now(app, rid)
        drain(app)
        assert row(rid).status != OutboxStatus.SENDING
    r = row(rid)
    assert r.status == OutboxStatus.FAILED and r.attempts == dispatch.MAX_ATTEMPTS
    assert r.last_error.startswith("多次重试后仍失败：发送时出现异常：SmsConfigError")
    assert _alerts(app) >= 1


def test_a_row_left_sending_by_a_dead_worker_is_sent_after_its_lease(app, queue, row):
    rid = queue()
    _due_now(app, rid, status=OutboxStatus.SENDING, claimed_by="w-dead", attempts=1,
             lease_until=utcnow() - timedelta(seconds=1))
    drain(app)
    r = row(rid)
    assert (r.status, r.attempts, r.last_error) == (OutboxStatus.SENT, 2, None)


def test_a_row_still_leased_is_left_to_its_worker(app, queue, row):
    rid = queue()
    _due_now(app, rid, status=OutboxStatus.SENDING, claimed_by="w-alive", attempts=1,
             lease_until=utcnow() + timedelta(seconds=60))
    drain(app)
    assert (row(rid).status, row(rid).claimed_by) == (OutboxStatus.SENDING, "w-alive")


def test_a_row_whose_lease_ran_out_max_attempts_times_fails_for_good(app, queue, row,
                                                                     sandbox):
    rid = queue()
    _due_now(app, rid, status=OutboxStatus.SENDING, claimed_by="w-dead",
             attempts=dispatch.MAX_ATTEMPTS, lease_until=utcnow() - timedelta(seconds=1))
    drain(app)
    r = row(rid)
    assert (r.status, r.lease_until) == (OutboxStatus.FAILED, None)
    assert r.last_error == claim.EXHAUSTED_NOTE
    assert sandbox.messages(queue.candidate["openid"]) == []  # not sent a ninth time
    assert _alerts(app) >= 1


def test_an_unknown_message_kind_fails_for_good_without_blocking_the_batch(app, queue, row):
    bad, good = queue(), queue()
    with app.app_context():
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id == bad)
                           .values(kind="no_such_kind"))
        db.session.commit()
    drain(app)
    assert row(bad).status == OutboxStatus.FAILED
    assert "未知的消息类型 no_such_kind" in row(bad).last_error
    assert row(good).status == OutboxStatus.SENT
