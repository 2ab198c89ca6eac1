"""The dispatcher: channel order and fallbacks, every WeChat errcode, retries, final failure."""
from datetime import timedelta
from email import message_from_bytes
from email.policy import default

import pytest
from sqlalchemy import select, update

from app.core.timeutil import utcnow
from app.extensions import db
from app.jobs.worker import drain
from app.models import HrUser, OutboxMessage, OutboxStatus, Role, Subscription


def _sms_messages(app):
    from app.channels.sms.sandbox.state import list_messages

    with app.app_context():
        return list_messages()


def test_subscribe_first_when_the_candidate_holds_a_credit(app, queue, row, sandbox):
    rid = queue()
    drain(app)
    r = row(rid)
    assert (r.status, r.channel, r.app) == (OutboxStatus.SENT, "subscribe", "mp")
    assert len(sandbox.messages(queue.candidate["openid"])) == 1
    with app.app_context():
        assert db.session.scalars(select(Subscription.credits)).one() == 0  # credit spent


def test_oa_template_when_no_credit_but_following(app, queue, row, sandbox):
    rid = queue(credit=False, follow_oa=True)
    drain(app)
    r = row(rid)
    assert (r.status, r.channel) == (OutboxStatus.SENT, "oa_template")
    msg = sandbox.messages("oa-" + queue.candidate["openid"])[0]
    assert msg["api"] == "template_send" and msg["client_msg_id"] == f"outbox-{rid}"
    assert msg["data"]["thing1"]["value"] == "面试已取消"


def test_sms_when_neither_wechat_channel(app, queue, row):
    rid = queue(credit=False)
    drain(app)
    r = row(rid)
    assert (r.status, r.channel) == (OutboxStatus.SENT, "sms")
    assert "****" in r.touser  # the phone is not stored in clear on the row
    assert len(_sms_messages(app)) == 1


def test_email_when_no_phone(app, queue, row, smtp_server):
    server = smtp_server()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port,
                      MAIL_FROM="AI面试通知 <noreply@example.com>")
    rid = queue(credit=False, phone=False)
    drain(app)
    r = row(rid)
    assert (r.status, r.channel) == (OutboxStatus.SENT, "email")
    assert len(server.received) == 1
    mail = message_from_bytes(server.received[0]["content"], policy=default)
    assert mail["Subject"] == "面试取消通知" and "/m/open?t=" in mail.get_content()


def test_unreachable_alerts_hr(app, queue, row):
    rid = queue(credit=False, phone=False, email=False)
    drain(app)
    r = row(rid)
    assert r.status == OutboxStatus.UNREACHABLE and "没有可用的通知渠道" in r.last_error
    with app.app_context():
        alerts = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "staff_notification_failed")).all()
        assert alerts and all(a.status == OutboxStatus.SENT for a in alerts)  # sent to HR too


def test_43101_zeroes_the_credit_and_falls_back(app, queue, row, sandbox):
    sandbox.fault(api="subscribe_send", errcode=43101, times=1)
    rid = queue()
    drain(app)
    r = row(rid)
    assert (r.status, r.channel) == (OutboxStatus.SENT, "sms")
    with app.app_context():
        assert db.session.scalars(select(Subscription.credits)).one() == 0


def test_45009_pauses_the_channel_until_tomorrow(app, queue, row, sandbox):
    from app.services.notifications.routing import channel_paused

    sandbox.fault(api="subscribe_send", errcode=45009, times=1)
    rid = queue()
    drain(app)
    assert row(rid).channel == "sms"
    with app.app_context():
        assert channel_paused("subscribe")
    rid2 = queue()  # a new credit, but the channel is paused for the day
    drain(app)
    assert row(rid2).channel == "sms"


@pytest.mark.parametrize("errcode,admins", [(40003, False), (40037, True), (41030, True),
                                            (47003, True)])
def test_final_errcodes_fail_with_an_explanation(app, queue, row, sandbox, errcode, admins):
    sandbox.fault(api="subscribe_send", errcode=errcode)
    rid = queue()
    drain(app)
    r = row(rid)
    assert r.status == OutboxStatus.FAILED and r.errcode == errcode
    assert str(errcode) in r.last_error and any("\u4e00" <= ch <= "\u9fff" for ch in r.last_error)
    with app.app_context():
        admin_ids = set(db.session.scalars(select(HrUser.id).where(HrUser.role == Role.ADMIN)))
        alerted = set(db.session.scalars(select(OutboxMessage.recipient_id).where(
            OutboxMessage.kind == "staff_notification_failed")))
        assert bool(admin_ids & alerted) == admins


@pytest.mark.parametrize("spec", [{"errcode": -1}, {"errcode": 99999}])
def test_transient_errors_retry_with_backoff(app, queue, row, sandbox, spec):
    sandbox.fault(api="subscribe_send", **spec)
    rid = queue()
    before = utcnow()
    drain(app)
    r = row(rid)
    assert r.status == OutboxStatus.RETRYING and r.attempts == 1
    assert before + timedelta(seconds=2) < r.next_attempt_at < before + timedelta(seconds=10)


def test_backoff_grows_and_ends_in_failure(app, queue, row, sandbox):
    from app.services.notifications import dispatch

    sandbox.fault(api="subscribe_send", errcode=-1)
    rid = queue()
    delays = []
    for _ in range(dispatch.MAX_ATTEMPTS):
        with app.app_context():
            db.session.execute(update(OutboxMessage).where(OutboxMessage.id == rid)
                               .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
            db.session.commit()
        start = utcnow()
        drain(app)
        r = row(rid)
        if r.status == OutboxStatus.RETRYING:
            delays.append((r.next_attempt_at - start).total_seconds())
    assert r.status == OutboxStatus.FAILED and r.attempts == dispatch.MAX_ATTEMPTS
    assert "多次重试后仍失败" in r.last_error
    assert delays[-1] > delays[0] * 8  # exponential


def test_token_expiry_is_refreshed_once_and_sent(app, queue, row, sandbox):
    drain(app)  # nothing queued; warm a token
    sandbox.fault(expire_tokens=True)
    rid = queue()
    drain(app)
    assert row(rid).status == OutboxStatus.SENT


def test_persistent_invalid_token_is_bounded_and_retried(app, queue, row, sandbox):
    sandbox.fault(api="subscribe_send", errcode=40001)
    rid = queue()
    drain(app)
    r = row(rid)
    assert r.status == OutboxStatus.RETRYING and r.errcode == 40001


def test_wechat_timeout_is_retried(app, queue, row, sandbox):
    app.config["WECHAT_HTTP_TIMEOUT"] = 0.3
    sandbox.fault(api="subscribe_send", latency_ms=1500, times=1)
    rid = queue()
    drain(app)
    assert row(rid).status == OutboxStatus.RETRYING


def test_staff_get_oa_then_email(app, demo, queue, row, sandbox, smtp_server):
    server = smtp_server()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port)
    manager = demo["hr_users"]["recruiting_manager"]["id"]
    rid = queue("staff_candidate_cancelled", credit=False, recipient="hr_user",
                recipient_id=manager)
    drain(app)
    assert row(rid).channel == "oa_template"
    sandbox.post("followers", openid="sandbox-hr-manager")  # still following, but we unbind:
    from app.models import WechatAccount

    with app.app_context():
        db.session.execute(update(WechatAccount).where(WechatAccount.hr_user_id == manager)
                           .values(followed=False))
        db.session.commit()
    rid2 = queue("staff_interview_cancelled", credit=False, recipient="hr_user",
                 recipient_id=manager)
    drain(app)
    assert row(rid2).channel == "email" and len(server.received) == 1
