"""app.services.delivery.record_delivery: matching rows and moving them forward only."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sandbox_helpers import outbox_row

from app.core.timeutil import utcnow
from app.extensions import db
from app.models import OutboxMessage, OutboxStatus
from app.services.notifications.receipts import apply_pending_delivery, record_delivery

TPL = "tpl-interview-cancelled"


def _record(flask_app, /, **kwargs):
    values = {"app": "mp", "msgid": "1001", "openid": "o-1", "template_id": TPL, "ok": True,
              "errcode": None, "status_text": "success"}
    values.update(kwargs)
    with flask_app.app_context():
        return record_delivery(**values)


@pytest.mark.parametrize("status", [OutboxStatus.SENT, OutboxStatus.SENDING,
                                    OutboxStatus.RETRYING, OutboxStatus.QUEUED])
def test_success_moves_open_rows_to_delivered(app, make_outbox, status):
    row_id = make_outbox(app="mp", touser="o-1", template_id=TPL, msgid="1001", status=status)
    assert _record(app) == 1
    row = outbox_row(app, row_id)
    assert row.status == OutboxStatus.DELIVERED and row.delivered_at is not None


def test_read_row_stays_read(app, make_outbox):
    row_id = make_outbox(app="mp", touser="o-1", template_id=TPL, msgid="1001",
                         status=OutboxStatus.READ, read_at=utcnow())
    assert _record(app) == 1  # delivered_at filled in, status kept
    row = outbox_row(app, row_id)
    assert row.status == OutboxStatus.READ and row.delivered_at is not None
    assert _record(app) == 0
    assert _record(app, ok=False, status_text="failed:user block") == 0
    assert outbox_row(app, row_id).status == OutboxStatus.READ


def test_delivered_row_is_not_failed_later(app, make_outbox):
    row_id = make_outbox(app="mp", touser="o-1", template_id=TPL, msgid="1001")
    assert _record(app) == 1
    assert _record(app, ok=False, errcode=10005, status_text="failed:user block") == 0
    row = outbox_row(app, row_id)
    assert row.status == OutboxStatus.DELIVERED and row.errcode is None


def test_failed_row_is_not_delivered_later(app, make_outbox):
    row_id = make_outbox(app="oa", touser="oa-1", template_id="oa-tpl", msgid="2002")
    assert _record(app, app="oa", msgid="2002", openid="oa-1", template_id=None, ok=False,
                   status_text="failed: system failed") == 1
    assert _record(app, app="oa", msgid="2002", openid="oa-1", template_id=None) == 0
    row = outbox_row(app, row_id)
    assert row.status == OutboxStatus.FAILED and row.last_error == "微信系统错误"


def test_msgid_of_another_user_does_not_match(app, make_outbox):
    row_id = make_outbox(app="mp", touser="o-1", template_id=TPL, msgid="1001",
                         status=OutboxStatus.SENDING)  # SENDING: no fallback either
    assert _record(app, openid="o-2") == 0
    assert outbox_row(app, row_id).status == OutboxStatus.SENDING


def test_event_of_the_other_app_does_not_match(app, make_outbox):
    row_id = make_outbox(app="mp", touser="o-1", template_id=TPL, msgid="1001")
    assert _record(app, app="oa", template_id=None) == 0
    assert outbox_row(app, row_id).status == OutboxStatus.SENT


def test_mp_fallback_picks_latest_sent_row_without_delivery(app, make_outbox):
    now = utcnow()
    older = make_outbox(app="mp", touser="o-1", template_id=TPL, sent_at=now - timedelta(hours=1))
    newer = make_outbox(app="mp", touser="o-1", template_id=TPL, sent_at=now)
    done = make_outbox(app="mp", touser="o-1", template_id=TPL, sent_at=now,
                       status=OutboxStatus.DELIVERED, delivered_at=now)
    other_tpl = make_outbox(app="mp", touser="o-1", template_id="other", sent_at=now)
    assert _record(app, msgid="9999") == 1
    assert outbox_row(app, newer).status == OutboxStatus.DELIVERED
    assert outbox_row(app, newer).msgid == "9999"
    assert outbox_row(app, older).status == OutboxStatus.SENT
    assert outbox_row(app, done).delivered_at == now
    assert outbox_row(app, other_tpl).status == OutboxStatus.SENT
    assert _record(app, msgid="9998") == 1
    assert outbox_row(app, older).status == OutboxStatus.DELIVERED


def test_oa_has_no_fallback(app, make_outbox):
    row_id = make_outbox(app="oa", touser="oa-1", template_id="oa-tpl")
    assert _record(app, app="oa", msgid="3003", openid="oa-1", template_id="oa-tpl") == 0
    assert outbox_row(app, row_id).status == OutboxStatus.SENT


@pytest.mark.parametrize("channel", ["sms", "email", None])
def test_row_of_no_wechat_app_is_never_matched(app, make_outbox, channel):
    """An SMS serial number or e-mail id equal to a WeChat MsgID, to the same address."""
    row_id = make_outbox(touser="o-1", template_id=TPL, msgid="1001", channel=channel)
    assert _record(app) == 0
    assert _record(app, ok=False, errcode=10005, status_text="failed:user block") == 0
    assert outbox_row(app, row_id).status == OutboxStatus.SENT


@pytest.mark.parametrize("wechat_app, channel", [("mp", "oa_template"), ("mp", "sms"),
                                                 ("oa", "subscribe"), ("oa", "email")])
def test_row_of_another_channel_is_never_matched(app, make_outbox, wechat_app, channel):
    row_id = make_outbox(app=wechat_app, touser="o-1", template_id=TPL, msgid="1001",
                         channel=channel)
    assert _record(app, app=wechat_app, ok=False, status_text="failed:user block") == 0
    assert outbox_row(app, row_id).status == OutboxStatus.SENT


def test_row_not_routed_yet_matches_by_msgid(app, make_outbox):
    row_id = make_outbox(app="mp", touser="o-1", template_id=TPL, msgid="1001", channel=None)
    assert _record(app) == 1
    assert outbox_row(app, row_id).status == OutboxStatus.DELIVERED


def test_failure_records_errcode_and_explanation(app, make_outbox):
    row_id = make_outbox(app="mp", touser="o-1", template_id=TPL, msgid="1001")
    assert _record(app, ok=False, errcode=10005, status_text="failed:user block") == 1
    row = outbox_row(app, row_id)
    assert (row.status, row.errcode, row.last_error) == (OutboxStatus.FAILED, 10005,
                                                        "用户拒收消息")


def test_result_before_the_msgid_is_kept_and_applied_later(app, make_outbox):
    row_id = make_outbox(app="mp", touser="o-1", template_id=TPL, status=OutboxStatus.SENDING)
    assert _record(app, msgid="5005") == 0
    with app.app_context():
        row = db.session.get(OutboxMessage, row_id)
        row.status, row.msgid = OutboxStatus.SENT, "5005"  # the dispatcher records the send
        assert apply_pending_delivery(row) is True
        db.session.commit()
        assert apply_pending_delivery(row) is False  # used once
    assert outbox_row(app, row_id).status == OutboxStatus.DELIVERED


def test_invalid_app_is_refused(app):
    with pytest.raises(ValueError):
        _record(app, app="sms")
