"""Recording an accepted send: one statement committed at once, only while the row is
still this worker's, a delivery event that came first applied right after, and on
PostgreSQL a recorder connection that survives being cut."""
import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models import OutboxMessage, OutboxStatus, Subscription
from app.services.notifications import dispatch
from app.services.notifications.claim import Plan
from app.services.notifications.receipts import record_delivery
from app.services.notifications.routing import Route
from app.services.notifications.transmit import Outcome
from tests import factories

TPL = "tpl-interview-cancelled"


def sending(app, worker="w-1", **fields) -> int:
    return factories.outbox_message(app, status=OutboxStatus.SENDING, claimed_by=worker,
                                    attempts=1, channel=None, **fields)


def record(app, row_id, *, worker="w-1", msgid="9001", route=None) -> bool:
    route = route or Route("subscribe", "mp", "o-1")
    with app.app_context():
        try:
            return dispatch.record_sent(Plan(row_id, "candidate_cancel_confirmed", {}, None,
                                             route), Outcome("sent", msgid=msgid,
                                                             template_id=TPL), worker)
        finally:
            db.session.remove()


def test_a_recorded_send_is_committed_at_once_and_spends_its_credit(app):
    rid = sending(app)
    factories.subscription(app, "o-1", TPL, credits=2)
    assert record(app, rid) is True
    row = factories.detached(app, OutboxMessage, rid)
    assert (row.status, row.msgid, row.channel, row.touser, row.lease_until) == (
        OutboxStatus.SENT, "9001", "subscribe", "o-1", None)
    with app.app_context():
        assert db.session.scalar(select(Subscription.credits)) == 1


def test_a_send_of_a_row_another_worker_took_over_records_nothing(app):
    rid = sending(app, worker="w-2")  # our lease ran out; w-2 claimed it
    factories.subscription(app, "o-1", TPL, credits=1)
    assert record(app, rid, worker="w-1") is False
    row = factories.detached(app, OutboxMessage, rid)
    assert (row.status, row.claimed_by, row.msgid) == (OutboxStatus.SENDING, "w-2", None)
    with app.app_context():
        assert db.session.scalar(select(Subscription.credits)) == 1  # not spent by us


def test_a_delivery_event_that_came_before_the_record_is_applied_after_it(app):
    rid = sending(app)
    with app.app_context():  # WeChat pushed the delivery before our commit
        assert record_delivery(app="mp", msgid="9001", openid="o-1", template_id=TPL,
                               ok=True, errcode=None, status_text="success") == 0
    assert record(app, rid) is True
    assert factories.detached(app, OutboxMessage, rid).status == OutboxStatus.SENT
    with app.app_context():  # looked for in batches: at the latest before the next claim
        assert dispatch.claim(10, "w-1") == []
    row = factories.detached(app, OutboxMessage, rid)
    assert row.status == OutboxStatus.DELIVERED and row.delivered_at is not None


def test_the_recorder_connection_survives_being_cut(app, backend):
    if backend.name != "services":
        pytest.skip("the recorder's own connection exists on PostgreSQL only")
    first, second = sending(app), sending(app)
    assert record(app, first, msgid="1") is True
    with app.app_context():
        pid = dispatch._recorder(db.engine).raw.info.backend_pid
        db.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        db.session.commit()
    assert record(app, second, msgid="2") is True
    assert factories.detached(app, OutboxMessage, second).status == OutboxStatus.SENT
