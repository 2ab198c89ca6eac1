"""Watchdogs alert HR once per condition (an OA message to the responsible HR users and a
console banner), driven by the clock: exactly at a threshold, just past it, again while
still true (nothing new), cleared, and happening again (a new alert)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.jobs import watchdogs
from app.models import Alert, AuditEntry, OutboxMessage, OutboxStatus, Role
from app.models.webhook import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from tests import factories

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # 14:00 Beijing


def _alerts(app, kind=None):
    with app.app_context():
        stmt = select(Alert).order_by(Alert.id)
        if kind:
            stmt = stmt.where(Alert.kind == kind)
        rows = db.session.scalars(stmt).all()
        db.session.expunge_all()
        return rows


def _alert_messages(app):
    with app.app_context():
        return [(m.event, m.recipient_id) for m in db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "staff_watchdog_alert")
            .order_by(OutboxMessage.id))]


def _run(app, now):
    with app.app_context():
        return watchdogs.run(now)


def _team(app):
    recruiter = factories.hr_user(app, "recruiter1", display_name="李招聘")
    other = factories.hr_user(app, "sales1", departments=("销售部",))
    position = factories.position(app, recruiter_id=recruiter)
    iv = factories.interview(app, position_id=position)
    return recruiter, other, iv


def test_a_message_late_by_exactly_the_promise_is_not_yet_overdue_then_alerts_once(app):
    recruiter, _, iv = _team(app)
    row = factories.outbox_message(app, iv.id, status=OutboxStatus.RETRYING,
                                   recipient_id=iv.candidate_id,
                                   created_at=NOW - timedelta(minutes=60))
    assert _run(app, NOW) == 0                       # 60 minutes: still within the promise
    assert _alerts(app) == []
    assert _run(app, NOW + timedelta(seconds=1)) == 1
    [alert] = _alerts(app, "message_overdue")
    assert alert.department == "技术部" and alert.open_key == "message_overdue:技术部"
    assert alert.recipients == [recruiter]
    assert _alert_messages(app) == [(f"alert:{alert.id}", recruiter)]
    # still overdue a minute later: nothing new
    assert _run(app, NOW + timedelta(minutes=1)) == 0
    assert len(_alerts(app)) == 1 and len(_alert_messages(app)) == 1
    # sent: the alert clears
    with factories.committed(app) as session:
        session.get(OutboxMessage, row).status = OutboxStatus.SENT
    assert _run(app, NOW + timedelta(minutes=2)) == 1
    [cleared] = _alerts(app)
    assert cleared.cleared_at == NOW + timedelta(minutes=2) and cleared.open_key is None
    # happening again later: a new alert and a new message
    factories.outbox_message(app, iv.id, status=OutboxStatus.QUEUED,
                             recipient_id=iv.candidate_id,
                             created_at=NOW + timedelta(minutes=3))
    assert _run(app, NOW + timedelta(minutes=64)) == 1
    assert [a.cleared_at is None for a in _alerts(app)] == [False, True]
    assert len(_alert_messages(app)) == 2


def test_the_promise_rule_sets_the_overdue_threshold(app):
    from app.services.rules import update_rules

    _, _, iv = _team(app)
    factories.outbox_message(app, iv.id, status=OutboxStatus.QUEUED,
                             recipient_id=iv.candidate_id, created_at=NOW - timedelta(minutes=11))
    with app.app_context():
        update_rules({"notify_promise_minutes": 10}, actor_id=None)
    assert _run(app, NOW) == 1


def test_a_candidate_nobody_could_reach_alerts_the_recruiter_once_until_reached(app):
    recruiter, _, iv = _team(app)
    factories.outbox_message(app, iv.id, status=OutboxStatus.UNREACHABLE,
                             recipient_id=iv.candidate_id, channel=None,
                             created_at=NOW - timedelta(minutes=5))
    assert _run(app, NOW) == 1
    [alert] = _alerts(app, "candidate_unreachable")
    assert alert.interview_id == iv.id and alert.recipients == [recruiter]
    assert iv.number in alert.subject and "13800138000" not in alert.subject + alert.detail
    assert _run(app, NOW + timedelta(minutes=5)) == 0
    # a later message reached them: cleared
    factories.outbox_message(app, iv.id, status=OutboxStatus.SENT,
                             recipient_id=iv.candidate_id, created_at=NOW)
    assert _run(app, NOW + timedelta(minutes=6)) == 1
    assert _alerts(app)[0].cleared_at is not None


def test_a_candidate_without_recruiter_alerts_the_departments_handlers_then_admins(app):
    manager = factories.hr_user(app, "mgr", role=Role.RECRUITING_MANAGER)
    factories.hr_user(app, "viewer", role=Role.INTERVIEWER)
    iv = factories.interview(app)
    factories.outbox_message(app, iv.id, status=OutboxStatus.FAILED,
                             recipient_id=iv.candidate_id, created_at=NOW)
    _run(app, NOW)
    assert _alerts(app)[0].recipients == [manager]


def _failing_endpoint(app, first_attempt_at, *, last_success_at=None):
    endpoint = factories.webhook_endpoint(app, "https://ats.example.com/hook")
    factories.webhook_event(app)
    with factories.committed(app) as session:
        ep = session.get(WebhookEndpoint, endpoint)
        ep.last_success_at = last_success_at
        delivery = session.scalars(select(WebhookDelivery)).one()
        delivery.status = DeliveryStatus.RETRYING
        delivery.first_attempt_at = first_attempt_at
    return endpoint


def test_a_webhook_failing_for_exactly_the_hours_alerts_the_admins(app):
    admin = factories.hr_user(app, "admin1", role=Role.ADMIN)
    hours = app.config["WATCHDOG_WEBHOOK_FAILING_HOURS"]
    endpoint = _failing_endpoint(app, NOW - timedelta(hours=hours) + timedelta(seconds=1),
                                 last_success_at=NOW - timedelta(days=1))
    assert _run(app, NOW) == 0                      # a second short of the hours
    assert _run(app, NOW + timedelta(seconds=1)) == 1  # exactly the hours
    [alert] = _alerts(app, "webhook_failing")
    assert alert.department is None and alert.recipients == [admin]
    assert alert.data["endpoint_id"] == endpoint
    # it succeeds again: cleared
    with factories.committed(app) as session:
        session.get(WebhookEndpoint, endpoint).last_success_at = NOW + timedelta(minutes=1)
    assert _run(app, NOW + timedelta(minutes=2)) == 1
    assert _alerts(app)[0].cleared_at is not None


def test_a_disabled_webhook_endpoint_is_not_a_failing_one(app):
    factories.hr_user(app, "admin1", role=Role.ADMIN)
    endpoint = _failing_endpoint(app, NOW - timedelta(hours=10))
    with factories.committed(app) as session:
        session.get(WebhookEndpoint, endpoint).active = False
    assert _run(app, NOW) == 0


def test_a_channel_paused_by_quota_alerts_once_and_clears_when_resumed(app):
    from app.extensions import redis_store
    from app.services.notifications import routing

    admin = factories.hr_user(app, "admin1", role=Role.ADMIN)
    with app.app_context():
        routing.pause_channel("subscribe", NOW + timedelta(days=1))
    assert _run(app, NOW) == 1
    [alert] = _alerts(app, "channel_paused")
    assert alert.subject == "小程序订阅消息" and "45009" in alert.detail
    assert alert.recipients == [admin]
    assert _run(app, NOW) == 0
    with app.app_context():
        redis_store.client.delete(routing._pause_key("subscribe"))
    assert _run(app, NOW) == 1
    assert _alerts(app)[0].cleared_at is not None


def test_opening_and_clearing_are_audited_without_personal_data(app):
    _, _, iv = _team(app)
    factories.outbox_message(app, iv.id, status=OutboxStatus.UNREACHABLE,
                             recipient_id=iv.candidate_id, created_at=NOW)
    _run(app, NOW)
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(
            AuditEntry.object_type == "alert")).all()
        assert [e.action for e in entries] == ["alert.opened"]
        assert "张三" not in str(entries[0].data)


def test_the_alert_message_fits_the_2023_oa_template_rules(app):
    from templates_msg import render
    from templates_msg.catalogue import get_kind

    _, _, iv = _team(app)
    factories.outbox_message(app, iv.id, status=OutboxStatus.QUEUED,
                             recipient_id=iv.candidate_id, created_at=NOW - timedelta(hours=5))
    _run(app, NOW)
    with app.app_context():
        message = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "staff_watchdog_alert")).one()
        rendered = render("staff_watchdog_alert", message.context, app="oa",
                          config=app.config, open_token="t")
    assert set(rendered.data) == set(get_kind("staff_watchdog_alert").fields)
    assert "first" not in rendered.data and "remark" not in rendered.data
    assert rendered.data["thing1"]["value"] == "候选人通知超时未发出"
    assert all(len(v["value"]) <= 20 for k, v in rendered.data.items() if k.startswith("thing"))


def test_two_watchdog_runs_at_once_open_one_alert(app):
    """The unique open key: a second opening of the same condition inserts nothing."""
    from app.services.watchdogs.alerts import Condition, reconcile

    condition = Condition("channel_paused", "channel_paused:sms", "短信", "暂停", ())
    with app.app_context():
        first = reconcile(("channel_paused",), [condition], NOW)
        second = reconcile(("channel_paused",), [condition], NOW)
        db.session.commit()
    assert len(first.opened) == 1 and second.opened == []
    assert len(_alerts(app)) == 1


def test_hr_told_of_the_failure_by_dispatch_get_the_banner_but_no_second_message(app):
    from app.models import Interview
    from app.services.notifications.alerts import alert_failed_notification

    recruiter, _, iv = _team(app)
    row_id = factories.outbox_message(app, iv.id, status=OutboxStatus.UNREACHABLE,
                                      recipient_id=iv.candidate_id, created_at=NOW,
                                      context={"candidate_name": "张三", "position_title": "J",
                                               "scheduled_at": "2026-12-02T10:00:00+08:00",
                                               "interview_number": iv.number})
    with app.app_context():
        row = db.session.get(OutboxMessage, row_id)
        assert db.session.get(Interview, iv.id) is not None
        assert alert_failed_notification(row) == 1      # dispatch's own message, unchanged
        db.session.commit()
    assert _run(app, NOW) == 1
    [alert] = _alerts(app, "candidate_unreachable")
    assert alert.recipients == [recruiter]
    assert _alert_messages(app) == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == "staff_notification_failed")) == 1
