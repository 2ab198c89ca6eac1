"""The vertical slice through HTTP: a candidate cancels in the mini program, the worker sends a
subscribe message through wechatpy to the sandbox, and HR sees it in the console."""
import re
import uuid

import requests
from sqlalchemy import func, select

from app.extensions import db
from app.jobs.worker import drain
from app.models import AuditEntry, Cancellation, Interview, OutboxMessage, OutboxStatus
from tests.factories import API, console_login, mp_login


def test_candidate_cancels_and_is_told_through_wechat(app, client, demo, live_url):
    cand = next(c for c in demo["candidates"] if not c["position_review"])
    openid = cand["openid"]
    auth = mp_login(client, openid, bound=True)

    interviews = client.get(f"{API}/interviews", headers=auth).get_json()["items"]
    target = next(iv for iv in interviews if iv["can_cancel"])
    assert target["status"] == "scheduled" and target["id"] == cand["interview_ids"][0]

    reasons = client.get(f"{API}/cancel-reasons", headers=auth).get_json()["items"]
    assert [r["label"] for r in reasons] == ["时间冲突", "已找到其他工作", "个人原因", "其他"]
    assert [r["requires_note"] for r in reasons] == [False, False, False, True]

    # Inside the 确认取消 tap: the user allows the subscription (in WeChat, i.e. the sandbox)
    # and the mini program reports the result to us.
    templates = client.get(f"{API}/subscriptions/templates", headers=auth).get_json()
    assert 1 <= len(templates["template_ids"]) <= 3
    tpl = templates["template_ids"][0]
    assert requests.post(f"{live_url}/_sandbox/wechat/subscriptions",
                         json={"openid": openid, "template_id": tpl}).status_code == 200
    r = client.post(f"{API}/subscriptions", headers=auth, json={"results": {tpl: "accept"}})
    assert r.status_code == 200

    key = str(uuid.uuid4())
    r = client.post(f"{API}/interviews/{target['id']}/cancel",
                    headers={**auth, "Idempotency-Key": key}, json={"reason_code": "time_conflict"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "cancelled"
    assert body["interview"]["status_label"] == "已取消"
    assert body["interview"]["can_cancel"] is False
    assert body["cancellation"]["reason_label"] == "时间冲突"

    # Same key: the first response replayed, nothing done again.
    again = client.post(f"{API}/interviews/{target['id']}/cancel",
                        headers={**auth, "Idempotency-Key": key},
                        json={"reason_code": "time_conflict"})
    assert again.status_code == 200 and again.get_json() == body
    assert again.headers["Idempotent-Replayed"] == "true"
    # Another key: the interview is already cancelled.
    other = client.post(f"{API}/interviews/{target['id']}/cancel",
                        headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
                        json={"reason_code": "time_conflict"})
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "already_cancelled"

    with app.app_context():
        iv = db.session.scalars(select(Interview).where(Interview.public_id == target["id"])).one()
        assert db.session.scalar(select(func.count()).select_from(Cancellation)
                                 .where(Cancellation.interview_id == iv.id)) == 1
        assert db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.object_id == iv.id)).all() == ["interview.cancelled"]
        rows = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.interview_id == iv.id)).all()
        assert {r.recipient_type for r in rows} == {"candidate", "hr_user"}
        assert all(r.status == OutboxStatus.QUEUED for r in rows)  # nothing sent before commit

    assert drain(app) >= 1

    msgs = requests.get(f"{live_url}/_sandbox/wechat/messages",
                        params={"touser": openid}).json()["items"]
    assert len(msgs) == 1
    msg = msgs[0]
    assert msg["api"] == "subscribe_send" and msg["template_id"] == tpl
    assert msg["page"].startswith("pages/message/open?t=")
    assert msg["data"]["thing3"]["value"] == "时间冲突"
    assert re.fullmatch(r"\d{4}年\d{2}月\d{2}日 \d{2}:\d{2}", msg["data"]["time2"]["value"])

    with app.app_context():
        cand_row = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient_type == "candidate")).one()
        assert cand_row.status == OutboxStatus.SENT
        assert cand_row.channel == "subscribe" and cand_row.msgid == str(msg["msgid"])
        staff = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient_type == "hr_user")).all()
        assert staff and all(r.status == OutboxStatus.SENT and r.channel == "oa_template"
                             for r in staff)

    # HR sees it: the console lists the interview as cancelled with the message status.
    page = _console_get(client, demo, f"/console/interviews?q={target['number']}")
    assert target["number"] in page and "已取消" in page and "已发送" in page


def test_review_position_turns_cancel_into_a_request(app, client, demo):
    cand = next(c for c in demo["candidates"] if c["position_review"])
    auth = mp_login(client, cand["openid"], bound=True)
    r = client.post(f"{API}/interviews/{cand['interview_ids'][0]}/cancel", headers=auth,
                    json={"reason_code": "found_other_job"})
    assert r.status_code == 200
    assert r.get_json()["status"] == "cancel_pending"
    assert r.get_json()["cancellation"]["state"] == "requested"


def test_other_requires_a_note_and_names_the_field(app, client, demo):
    cand = demo["candidates"][0]
    auth = mp_login(client, cand["openid"], bound=True)
    r = client.post(f"{API}/interviews/{cand['interview_ids'][0]}/cancel", headers=auth,
                    json={"reason_code": "other"})
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert err["code"] == "note_required" and err["details"]["field"] == "note"
    assert err["message"] == "选择该原因时需要填写说明"


def test_another_candidates_interview_is_not_found(app, client, demo):
    mine, theirs = demo["candidates"][0], demo["candidates"][1]
    auth = mp_login(client, mine["openid"], bound=True)
    r = client.post(f"{API}/interviews/{theirs['interview_ids'][0]}/cancel", headers=auth,
                    json={"reason_code": "time_conflict"})
    assert r.status_code == 404
    assert client.get(f"{API}/interviews/{theirs['interview_ids'][0]}",
                      headers=auth).status_code == 404


def test_api_requires_a_session(client):
    r = client.get(f"{API}/interviews")
    assert r.status_code == 401
    assert r.get_json()["error"]["code"] == "session_invalid"


def _console_get(client, demo, path):
    r = console_login(client, "specialist", demo["password"])
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    r = client.get(path)
    assert r.status_code == 200
    return r.get_data(as_text=True)
