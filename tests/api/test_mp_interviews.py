"""Interviews, the two taps under the rules, confirm, open tracking and feedback."""
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.core.timeutil import utcnow
from app.extensions import db
from app.jobs.worker import drain
from app.models import AuditEntry, Feedback, Interview, OutboxMessage, OutboxStatus
from tests.factories import API, console_login


def _first(demo, review=False):
    return next(c for c in demo["candidates"] if c["position_review"] == review)


def _move(app, public_id, **changes):
    with app.app_context():
        iv = db.session.scalars(select(Interview).where(Interview.public_id == public_id)).one()
        for k, v in changes.items():
            setattr(iv, k, v)
        db.session.commit()


def _set_rules(app, **changes):
    from app.services.rules import update_rules

    with app.app_context():
        update_rules(changes, actor_id=None)


def test_list_has_the_contract_fields(client, demo, mp_login):
    items = client.get(f"{API}/interviews", headers=mp_login(demo["candidates"][0]["openid"])
                       ).get_json()["items"]
    assert len(items) == 1
    iv = items[0]
    for key in ("id", "number", "status", "status_label", "position", "scheduled_at",
                "duration_minutes", "join_url", "can_cancel", "can_reschedule", "cancel_deadline",
                "confirm_by"):
        assert key in iv
    assert iv["scheduled_at"].endswith("+08:00") and iv["number"].startswith("AI-")


def test_detail_timeline_in_chinese(app, client, demo, mp_login, sandbox):
    cand = _first(demo)
    auth = mp_login(cand["openid"])
    iv_id = cand["interview_ids"][0]
    tpl = app.config["WECHAT_TPL_INTERVIEW_CANCELLED"]
    sandbox.post("subscriptions", openid=cand["openid"], template_id=tpl)
    client.post(f"{API}/subscriptions", headers=auth, json={"results": {tpl: "accept"}})
    assert client.post(f"{API}/interviews/{iv_id}/cancel", headers=auth,
                       json={"reason_code": "personal"}).status_code == 200
    drain(app)
    body = client.get(f"{API}/interviews/{iv_id}", headers=auth).get_json()
    labels = [e["label"] for e in body["timeline"]]
    assert labels[0] == "面试已安排"
    assert "面试已取消" in labels and "通知已发送" in labels
    assert next(e for e in body["timeline"] if e["type"] == "cancelled")["detail"] == "个人原因"


def test_cancel_after_deadline_is_refused_with_hr_contact(app, client, demo, mp_login):
    cand = _first(demo)
    _move(app, cand["interview_ids"][0], scheduled_at=utcnow() + timedelta(hours=1))
    _set_rules(app, hr_contact="请致电招聘HR 010-12345678")
    auth = mp_login(cand["openid"])
    iv = client.get(f"{API}/interviews/{cand['interview_ids'][0]}", headers=auth).get_json()
    assert iv["can_cancel"] is False
    r = client.post(f"{API}/interviews/{cand['interview_ids'][0]}/cancel", headers=auth,
                    json={"reason_code": "time_conflict"})
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "cancel_deadline_passed" and "010-12345678" in err["message"]


def test_cancel_after_deadline_becomes_a_request_when_configured(app, client, demo, mp_login):
    cand = _first(demo)
    _move(app, cand["interview_ids"][0], scheduled_at=utcnow() + timedelta(hours=1))
    _set_rules(app, after_deadline="request")
    r = client.post(f"{API}/interviews/{cand['interview_ids'][0]}/cancel",
                    headers=mp_login(cand["openid"]), json={"reason_code": "time_conflict"})
    assert r.status_code == 200 and r.get_json()["status"] == "cancel_pending"


def test_deadline_hours_come_from_settings(app, client, demo, mp_login):
    cand = _first(demo)
    _move(app, cand["interview_ids"][0], scheduled_at=utcnow() + timedelta(hours=5))
    _set_rules(app, cancel_deadline_hours=6)
    r = client.post(f"{API}/interviews/{cand['interview_ids'][0]}/cancel",
                    headers=mp_login(cand["openid"]), json={"reason_code": "time_conflict"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "cancel_deadline_passed"


def test_started_interview_cannot_be_cancelled(app, client, demo, mp_login):
    cand = _first(demo)
    _move(app, cand["interview_ids"][0], scheduled_at=utcnow() - timedelta(minutes=5))
    _set_rules(app, after_deadline="request")
    r = client.post(f"{API}/interviews/{cand['interview_ids'][0]}/cancel",
                    headers=mp_login(cand["openid"]), json={"reason_code": "time_conflict"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "interview_started"


@pytest.mark.parametrize("body,status,code,field", [
    ({}, 422, "field_required", "reason_code"),
    ({"reason_code": "position_paused"}, 422, "invalid_reason", "reason_code"),  # company side
    ({"reason_code": "nope"}, 422, "invalid_reason", "reason_code"),
    ({"reason_code": "other", "note": "   "}, 422, "note_required", "note"),
    ({"reason_code": "other", "note": "长" * 201}, 422, "note_too_long", "note"),
    ({"reason_code": "time_conflict", "note": 7}, 422, "field_invalid", "note"),
])
def test_cancel_validation_names_the_field(client, demo, mp_login, body, status, code, field):
    cand = _first(demo)
    r = client.post(f"{API}/interviews/{cand['interview_ids'][0]}/cancel",
                    headers=mp_login(cand["openid"]), json=body)
    assert r.status_code == status
    err = r.get_json()["error"]
    assert err["code"] == code and err["details"]["field"] == field


def test_inactive_reason_is_refused(app, client, demo, mp_login):
    from app.models import CancelReason

    with app.app_context():
        db.session.scalars(select(CancelReason).where(CancelReason.code == "personal")
                           ).one().active = False
        db.session.commit()
    cand = _first(demo)
    auth = mp_login(cand["openid"])
    labels = [r["label"] for r in client.get(f"{API}/cancel-reasons", headers=auth)
              .get_json()["items"]]
    assert "个人原因" not in labels
    r = client.post(f"{API}/interviews/{cand['interview_ids'][0]}/cancel", headers=auth,
                    json={"reason_code": "personal"})
    assert r.status_code == 422


def test_idempotency_key_reused_for_another_request(client, demo, mp_login):
    cand = _first(demo)
    auth = {**mp_login(cand["openid"]), "Idempotency-Key": str(uuid.uuid4())}
    url = f"{API}/interviews/{cand['interview_ids'][0]}/cancel"
    assert client.post(url, headers=auth, json={"reason_code": "time_conflict"}).status_code == 200
    r = client.post(url, headers=auth, json={"reason_code": "personal"})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "idempotency_key_reused"


def test_confirm_attendance(app, client, demo, mp_login):
    cand = _first(demo)
    auth = mp_login(cand["openid"])
    url = f"{API}/interviews/{cand['interview_ids'][0]}/confirm"
    _move(app, cand["interview_ids"][0], confirm_by=utcnow() + timedelta(hours=2))
    r = client.post(url, headers=auth)
    assert r.status_code == 200 and r.get_json()["interview"]["status"] == "confirmed"
    assert client.post(url, headers=auth).status_code == 200  # twice is harmless
    with app.app_context():
        assert db.session.scalars(select(AuditEntry.action)).all().count("interview.confirmed") == 1


def test_confirm_after_confirm_by(app, client, demo, mp_login):
    cand = _first(demo)
    _move(app, cand["interview_ids"][0], confirm_by=utcnow() - timedelta(minutes=1))
    r = client.post(f"{API}/interviews/{cand['interview_ids'][0]}/confirm",
                    headers=mp_login(cand["openid"]))
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "confirm_deadline_passed"


def test_confirm_a_cancelled_interview(client, demo, mp_login):
    cand = _first(demo)
    auth = mp_login(cand["openid"])
    client.post(f"{API}/interviews/{cand['interview_ids'][0]}/cancel", headers=auth,
                json={"reason_code": "time_conflict"})
    r = client.post(f"{API}/interviews/{cand['interview_ids'][0]}/confirm", headers=auth)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "already_cancelled"


def _sent_message(app, client, demo, mp_login, sandbox):
    cand = _first(demo)
    auth = mp_login(cand["openid"])
    tpl = app.config["WECHAT_TPL_INTERVIEW_CANCELLED"]
    sandbox.post("subscriptions", openid=cand["openid"], template_id=tpl)
    client.post(f"{API}/subscriptions", headers=auth, json={"results": {tpl: "accept"}})
    client.post(f"{API}/interviews/{cand['interview_ids'][0]}/cancel", headers=auth,
                json={"reason_code": "time_conflict"})
    drain(app)
    page = sandbox.messages(cand["openid"])[0]["page"]
    return auth, page.split("t=", 1)[1]


def test_open_marks_read_with_first_time_and_count(app, client, demo, mp_login, sandbox):
    auth, token = _sent_message(app, client, demo, mp_login, sandbox)
    first = client.post(f"{API}/notifications/{token}/open", headers=auth).get_json()
    second = client.post(f"{API}/notifications/{token}/open", headers=auth).get_json()
    assert first["open_count"] == 1 and second["open_count"] == 2
    assert first["first_opened_at"] == second["first_opened_at"]
    with app.app_context():
        row = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.open_token == token)).one()
        assert row.status == OutboxStatus.READ and row.read_at is not None


def test_someone_elses_open_token_does_nothing_visible(app, client, demo, mp_login, sandbox):
    _, token = _sent_message(app, client, demo, mp_login, sandbox)
    other = mp_login(_first(demo, review=True)["openid"])
    r = client.post(f"{API}/notifications/{token}/open", headers=other)
    unknown = client.post(f"{API}/notifications/not-a-token/open", headers=other)
    assert r.status_code == unknown.status_code == 404
    assert r.get_json() == unknown.get_json()
    with app.app_context():
        row = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.open_token == token)).one()
        assert row.open_count == 0 and row.read_at is None and row.status == OutboxStatus.SENT


def test_feedback_is_stored_for_hr(app, client, demo, mp_login):
    cand = _first(demo)
    auth = mp_login(cand["openid"])
    r = client.post(f"{API}/feedback", headers=auth,
                    json={"interview_id": cand["interview_ids"][0], "content": "能否改到下周？"})
    assert r.status_code == 201
    r = client.post(f"{API}/feedback", headers=auth, json={"content": "没有关联面试的反馈"})
    assert r.status_code == 201
    assert client.post(f"{API}/feedback", headers=auth, json={"content": ""}).status_code == 422
    with app.app_context():
        items = db.session.scalars(select(Feedback).order_by(Feedback.id)).all()
        assert [f.content for f in items] == ["能否改到下周？", "没有关联面试的反馈"]
        assert items[0].interview_id is not None and items[1].interview_id is None


def test_subscriptions_record_credits(app, client, demo, mp_login):
    from app.models import Subscription

    auth = mp_login(demo["candidates"][0]["openid"])
    tpls = client.get(f"{API}/subscriptions/templates", headers=auth).get_json()["template_ids"]
    assert len(tpls) <= 3
    r = client.post(f"{API}/subscriptions", headers=auth,
                    json={"results": {tpls[0]: "accept", tpls[1]: "reject"}})
    assert r.get_json() == {"recorded": 2, "credits_granted": 1}
    client.post(f"{API}/subscriptions", headers=auth, json={"results": {tpls[0]: "accept"}})
    with app.app_context():
        subs = {s.template_id: s for s in db.session.scalars(select(Subscription))}
        assert subs[tpls[0]].credits == 2 and subs[tpls[1]].credits == 0
    bad = client.post(f"{API}/subscriptions", headers=auth, json={"results": {tpls[0]: "maybe"}})
    assert bad.status_code == 422


def test_feedback_is_visible_in_the_console(app, client, demo, mp_login):
    cand = _first(demo)
    client.post(f"{API}/feedback", headers=mp_login(cand["openid"]),
                json={"interview_id": cand["interview_ids"][0], "content": "<b>能否改到下周？</b>"})
    assert console_login(client, "interviewer", demo["password"]).status_code == 302
    html = client.get("/console/feedback").get_data(as_text=True)
    assert "&lt;b&gt;能否改到下周？&lt;/b&gt;" in html  # shown, escaped
    assert cand["name"] in html and "AI-" in html


def test_can_reschedule_follows_the_deadline(app, client, demo, mp_login):
    cand = _first(demo)
    auth = mp_login(cand["openid"])
    url = f"{API}/interviews/{cand['interview_ids'][0]}"
    assert client.get(url, headers=auth).get_json()["can_reschedule"] is True
    _move(app, cand["interview_ids"][0], scheduled_at=utcnow() + timedelta(hours=1))
    assert client.get(url, headers=auth).get_json()["can_reschedule"] is False
