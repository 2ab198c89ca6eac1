"""Checked at dispatch, not only at enqueue: a queued message that no longer fits its
interview (a confirm reminder after a cancel or a confirmation, a message about the old
time after a reschedule) ends `skipped` with the reason and is never sent; messages about
the change itself still go out."""
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.core.timeutil import iso, utcnow
from app.extensions import db
from app.jobs.worker import drain
from app.models import Interview, OutboxMessage, OutboxStatus
from app.services.notifications import outbox
from templates_msg import MESSAGE_KINDS, get_kind
from tests.factories import API, mp_login

REMINDER = "candidate_confirm_reminder"


@pytest.fixture
def cand(demo):
    return next(c for c in demo["candidates"] if not c["position_review"])


def queue_about(app, public_id, kind=REMINDER, recipient_type="candidate",
                recipient_id=None) -> int:
    """Queue `kind` about this interview as it is now (committed)."""
    with app.app_context():
        iv = db.session.scalars(select(Interview).where(Interview.public_id == public_id)).one()
        context = {**outbox.interview_context(iv, reason_label="时间冲突"),
                   "confirm_by": iso(iv.scheduled_at - timedelta(hours=2)),
                   "auto_cancel_hours": 24}
        row = outbox.enqueue(event=f"test:{kind}:{uuid.uuid4().hex[:8]}", kind=kind,
                             recipient_type=recipient_type,
                             recipient_id=recipient_id or iv.candidate_id,
                             interview=iv, context=context)
        db.session.commit()
        return row.id


def row(app, row_id) -> OutboxMessage:
    with app.app_context():
        r = db.session.get(OutboxMessage, row_id)
        db.session.expunge(r)
        return r


def sent_kinds(app, interview_public_id) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(
            select(OutboxMessage.kind).join(Interview, Interview.id == OutboxMessage.interview_id)
            .where(Interview.public_id == interview_public_id,
                   OutboxMessage.sent_at.is_not(None))))


def sms_count(app) -> int:
    from app.channels.sms.sandbox.state import list_messages

    with app.app_context():
        return len(list_messages())


def test_a_reminder_still_goes_out_while_the_interview_awaits_confirmation(app, cand):
    rid = queue_about(app, cand["interview_ids"][0])
    drain(app)
    assert row(app, rid).status == OutboxStatus.SENT
    assert sms_count(app) == 1


def test_a_reminder_queued_before_a_cancel_is_never_sent(app, client, cand):
    iv_id = cand["interview_ids"][0]
    rid = queue_about(app, iv_id)
    auth = mp_login(client, cand["openid"], bound=True)
    r = client.post(f"{API}/interviews/{iv_id}/cancel",
                    headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
                    json={"reason_code": "time_conflict"})
    assert r.status_code == 200 and r.get_json()["status"] == "cancelled"
    before = sms_count(app)
    drain(app)
    reminder = row(app, rid)
    assert reminder.status == OutboxStatus.SKIPPED and reminder.sent_at is None
    assert reminder.last_error == "面试已取消，此消息不再发送"
    assert reminder.attempts == 0  # settled, not tried
    # the cancellation's own messages went out; the reminder did not
    assert REMINDER not in sent_kinds(app, iv_id)
    assert "candidate_cancel_confirmed" in sent_kinds(app, iv_id)
    assert sms_count(app) - before == 1  # the cancel confirmation only


def test_a_reminder_after_the_candidate_confirmed_is_skipped(app, client, cand):
    iv_id = cand["interview_ids"][0]
    rid = queue_about(app, iv_id)
    auth = mp_login(client, cand["openid"], bound=True)
    assert client.post(f"{API}/interviews/{iv_id}/confirm", headers=auth).status_code == 200
    drain(app)
    reminder = row(app, rid)
    assert reminder.status == OutboxStatus.SKIPPED
    assert reminder.last_error == "面试状态已变为“已确认”，此消息不再适用，不再发送"
    assert sms_count(app) == 0


def test_a_message_about_the_old_time_is_skipped_after_a_reschedule(app, client, cand):
    iv_id = cand["interview_ids"][0]
    rid = queue_about(app, iv_id)
    auth = mp_login(client, cand["openid"], bound=True)
    slots = client.get(f"{API}/interviews/{iv_id}/reschedule-slots",
                       headers=auth).get_json()["items"]
    moved = client.post(f"{API}/interviews/{iv_id}/reschedule",
                        headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
                        json={"slot_id": slots[0]["slot_id"]})
    assert moved.status_code == 200, moved.get_json()
    drain(app)
    reminder = row(app, rid)
    assert reminder.status == OutboxStatus.SKIPPED
    assert reminder.last_error == "面试时间已变更，此消息针对原时间，不再发送"
    # a reminder queued about the new time is sent
    again = queue_about(app, iv_id)
    drain(app)
    assert row(app, again).status == OutboxStatus.SENT


def test_staff_are_not_asked_to_approve_a_request_already_decided(app, demo, cand):
    iv_id = cand["interview_ids"][0]  # scheduled: no request is pending
    manager = demo["hr_users"]["recruiting_manager"]["id"]
    rid = queue_about(app, iv_id, "staff_approval_needed", "hr_user", manager)
    drain(app)
    r = row(app, rid)
    assert r.status == OutboxStatus.SKIPPED
    assert r.last_error == "面试状态已变为“待确认”，此消息不再适用，不再发送"


@pytest.mark.parametrize("status,expected", [
    ("scheduled", None), ("confirmed", "interview_status_changed"),
    ("cancel_pending", "interview_status_changed"), ("cancelled", "interview_cancelled"),
    ("completed", "interview_status_changed")])
def test_the_reminder_fits_only_an_interview_awaiting_confirmation(status, expected):
    at = utcnow()
    assert get_kind(REMINDER).stale_reason({"scheduled_at": iso(at)}, status, at) == expected


def test_a_moved_time_makes_time_bound_kinds_stale_and_leaves_the_others():
    at = utcnow().replace(microsecond=0)
    moved = at + timedelta(days=1)
    for code, kind in MESSAGE_KINDS.items():
        if kind.valid_while is not None and "scheduled" not in kind.valid_while:
            continue  # stale in this status anyway
        reason = kind.stale_reason({"scheduled_at": iso(at)}, "scheduled", moved)
        if kind.about_time == "scheduled_at":
            assert reason == "interview_rescheduled", code
        else:
            assert reason is None, code
        # same time, seconds dropped by the stored text: not a move
        assert kind.stale_reason({"scheduled_at": iso(at)}, "scheduled",
                                 at + timedelta(microseconds=999)) is None, code


def test_messages_about_a_cancellation_fit_a_cancelled_interview():
    at = utcnow()
    for code in ("candidate_cancel_confirmed", "candidate_cancelled_by_company",
                 "candidate_cancel_approved", "staff_candidate_cancelled",
                 "staff_interview_cancelled", "staff_notification_failed"):
        assert get_kind(code).stale_reason({"scheduled_at": iso(at)}, "cancelled", at) is None
    # a message with no interview is never stale
    assert get_kind(REMINDER).stale_reason({}, None, None) is None
