"""The 1-hour promise: commit-to-sent latency and overdue messages, in the console and /metrics."""
import re
from datetime import timedelta

from sqlalchemy import update

from app.core.timeutil import utcnow
from app.extensions import db
from app.jobs.worker import drain
from app.models import OutboxMessage, OutboxStatus
from tests.factories import console_login


def _age(app, row_id, minutes):
    with app.app_context():
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id)
                           .values(created_at=utcnow() - timedelta(minutes=minutes)))
        db.session.commit()


def test_latency_percentiles_and_overdue(app, queue, row, sandbox):
    from app.queries.notifications.promise import promise_stats

    sent_ids = [queue() for _ in range(3)]
    for i, rid in enumerate(sent_ids):
        _age(app, rid, minutes=[1, 2, 90][i])
    drain(app)
    stuck = queue()
    sandbox.fault(api="subscribe_send", errcode=-1)
    _age(app, stuck, minutes=61)
    with app.app_context():
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id == stuck)
                           .values(status=OutboxStatus.RETRYING,
                                   next_attempt_at=utcnow() + timedelta(hours=1)))
        db.session.commit()
        stats = promise_stats()
    assert stats.sent == 3 and stats.late == 1
    assert 50 < stats.p50_seconds < 200 and stats.p95_seconds > 5000
    assert [m.id for m in stats.overdue] == [stuck]


def test_metrics_endpoint(app, client, queue):
    queue()
    drain(app)
    text = client.get("/metrics").get_data(as_text=True)
    assert re.search(r'aiic_outbox_messages\{status="sent"\} [1-9]', text)
    assert 'aiic_notify_latency_seconds{quantile="0.95"}' in text
    assert "aiic_notify_promise_seconds 3600.0" in text
    assert "aiic_notify_overdue_messages 0.0" in text


def test_metrics_token(app, client):
    app.config["METRICS_TOKEN"] = "s3cret-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"}
                      ).status_code == 200


def test_console_promise_page(app, client, demo, queue):
    rid = queue(credit=False, phone=False, email=False)
    _age(app, rid, minutes=120)
    with app.app_context():
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id == rid)
                           .values(status=OutboxStatus.RETRYING,
                                   next_attempt_at=utcnow() + timedelta(hours=1)))
        db.session.commit()
    assert console_login(client, "specialist", demo["password"]).status_code == 302
    html = client.get("/console/notifications/promise").get_data(as_text=True)
    assert "通知时效" in html and "面试取消通知" in html
    assert re.search(r'data-testid="overdue-count">1<', html)


def test_console_promise_page_shows_only_the_users_departments(app, client, demo, queue):
    """An overdue message of another department's interview is neither counted nor named."""
    from sqlalchemy import select

    from app.models import Interview, Position

    rid = queue(credit=False, phone=False, email=False)
    _age(app, rid, minutes=120)
    with app.app_context():
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id == rid)
                           .values(status=OutboxStatus.RETRYING,
                                   next_attempt_at=utcnow() + timedelta(hours=1)))
        db.session.commit()
        department = db.session.scalar(
            select(Position.department).join(Interview, Interview.position_id == Position.id)
            .join(OutboxMessage, OutboxMessage.interview_id == Interview.id)
            .where(OutboxMessage.id == rid))
        name = db.session.get(OutboxMessage, rid).interview.candidate.name
    assert department != "销售部"
    assert console_login(client, "sales_specialist", demo["password"]).status_code == 302
    html = client.get("/console/notifications/promise").get_data(as_text=True)
    assert re.search(r'data-testid="overdue-count">0<', html)
    assert name not in html
