"""A candidate who follows the Official Account writes to it (issue 10 §4): the text becomes
feedback on their latest interview, and HR answers it from the console with a
customer-service message while WeChat's 48-hour window is open; after it the console says
so (our own record, and WeChat's 45015 when its clock says so)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from oa_hr_helpers import entries, phone_of
from sqlalchemy import select, update

from app.core.timeutil import utcnow
from app.extensions import db
from app.models import Feedback, FeedbackReply, FeedbackSource, Interview, WechatApp
from tests import factories
from tests.factories import CSRF_RE

OPENID = "oa-candidate-follower"


@pytest.fixture
def candidate(app, demo, live_url):
    """A demo candidate of 技术部 who follows the OA (linked by unionid, as the follower
    records and their unionid leave it), and their phone."""
    cand = next(c for c in demo["candidates"] if c["department"] == "技术部"
                and not c["position_review"])
    factories.wechat_account(app, OPENID, wechat_app=WechatApp.OFFICIAL_ACCOUNT,
                             unionid=f"sandbox-union-{cand['openid']}", followed=True)
    return cand, phone_of(live_url, OPENID)


def _feedback(app) -> list[Feedback]:
    with app.app_context():
        rows = db.session.scalars(select(Feedback).order_by(Feedback.id)).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def _reply(client, feedback_id: int, text: str):
    match = CSRF_RE.search(client.get("/console/feedback").get_data(as_text=True))
    assert match
    return client.post(f"/console/feedback/{feedback_id}/reply",
                       data={"csrf_token": match.group(1), "reply": text},
                       follow_redirects=True)


def _sent(live_url, touser=OPENID) -> list[dict]:
    items = requests.get(f"{live_url}/_sandbox/wechat/messages", params={"touser": touser},
                         timeout=5).json()["items"]
    return [m for m in items if m["api"] == "custom_send"]


def test_a_followers_text_becomes_feedback_on_their_latest_interview(app, candidate):
    cand, phone = candidate
    reply = phone.send("请问面试可以改到下午吗？")
    assert "已收到您的留言" in reply
    [item] = _feedback(app)
    assert item.candidate_id == cand["id"] and item.content == "请问面试可以改到下午吗？"
    with app.app_context():
        assert db.session.get(Interview, item.interview_id).public_id == cand["interview_ids"][0]
        source = db.session.get(FeedbackSource, item.id)
        assert source.openid == OPENID and source.app == "oa" and source.msgid
    [entry] = entries(app, "feedback.submitted")
    assert entry.actor_type == "candidate" and entry.actor_id == cand["id"]


def test_a_follower_we_do_not_know_gets_told_and_nothing_is_stored(app, demo, live_url):
    reply = phone_of(live_url, "oa-unknown").send("你好，我想咨询")
    assert "暂未查到与您的微信关联的面试" in reply
    assert _feedback(app) == []


def test_hr_answers_within_48_hours_with_a_customer_service_message(app, candidate, live_url):
    _, phone = candidate
    phone.send("请问面试可以改到下午吗？")
    [item] = _feedback(app)
    client = factories.console_client(app, "manager")
    page = client.get("/console/feedback").get_data(as_text=True)
    assert "请问面试可以改到下午吗？" in page and "公众号" in page and "前回复" in page
    html = _reply(client, item.id, "可以，已为您改到下午三点。").get_data(as_text=True)
    assert "已通过公众号客服消息回复候选人" in html
    [sent] = _sent(live_url)
    assert sent["content"] == "可以，已为您改到下午三点。" and sent["msgtype"] == "text"
    with app.app_context():
        reply = db.session.scalars(select(FeedbackReply)).one()
        assert reply.status == "sent" and reply.sent_at is not None
        assert db.session.get(Feedback, item.id).handled_at is not None
    [entry] = entries(app, "feedback.replied")
    assert entry.actor_type == "hr" and entry.data["feedback_id"] == item.id
    assert "可以，已为您改到下午三点。" in client.get("/console/feedback").get_data(as_text=True)


def test_after_48_hours_the_console_says_the_window_is_closed(app, candidate, live_url):
    _, phone = candidate
    phone.send("请问面试可以改到下午吗？")
    [item] = _feedback(app)
    with factories.committed(app) as session:
        session.execute(update(FeedbackSource).values(
            received_at=utcnow() - timedelta(hours=49)))
    client = factories.console_client(app, "manager")
    page = client.get("/console/feedback").get_data(as_text=True)
    assert "已超过48小时" in page and "微信不允许再发送客服消息" in page
    assert f"/console/feedback/{item.id}/reply" not in page
    html = _reply(client, item.id, "您好").get_data(as_text=True)
    assert "候选人最后一次在公众号发消息已超过48小时" in html
    assert _sent(live_url) == []
    with app.app_context():
        assert db.session.scalars(select(FeedbackReply)).all() == []


def test_a_new_message_opens_the_window_again(app, candidate, live_url):
    _, phone = candidate
    phone.send("第一条")
    with factories.committed(app) as session:
        session.execute(update(FeedbackSource).values(
            received_at=utcnow() - timedelta(hours=49)))
    phone.send("第二条")
    first = _feedback(app)[0]
    client = factories.console_client(app, "manager")
    assert "已通过公众号客服消息回复候选人" in _reply(client, first.id, "收到").get_data(
        as_text=True)
    assert len(_sent(live_url)) == 1


def test_wechat_refusing_with_45015_reads_as_the_closed_window(app, candidate, live_url):
    _, phone = candidate
    phone.send("请问面试可以改到下午吗？")
    [item] = _feedback(app)
    requests.post(f"{live_url}/_sandbox/wechat/clock", json={"advance_seconds": 49 * 3600},
                  timeout=5)
    client = factories.console_client(app, "manager")
    html = _reply(client, item.id, "您好").get_data(as_text=True)
    assert "候选人最后一次在公众号发消息已超过48小时" in html
    assert _sent(live_url) == []
    with app.app_context():
        reply = db.session.scalars(select(FeedbackReply)).one()
        assert reply.status == "failed" and reply.errcode == 45015


def test_feedback_outside_the_users_departments_is_neither_shown_nor_answered(
        app, candidate, live_url):
    _, phone = candidate
    phone.send("请问面试可以改到下午吗？")
    [item] = _feedback(app)
    client = factories.console_client(app, "sales_manager")
    assert "请问面试可以改到下午吗？" not in client.get("/console/feedback").get_data(as_text=True)
    match = CSRF_RE.search(client.get("/console/feedback").get_data(as_text=True))
    r = client.post(f"/console/feedback/{item.id}/reply",
                    data={"csrf_token": match.group(1), "reply": "您好"})
    assert r.status_code == 404
    assert _sent(live_url) == []


def test_replying_needs_the_csrf_token_and_some_text(app, candidate, live_url):
    _, phone = candidate
    phone.send("请问面试可以改到下午吗？")
    [item] = _feedback(app)
    client = factories.console_client(app, "manager")
    assert client.post(f"/console/feedback/{item.id}/reply",
                       data={"reply": "您好"}).status_code in (302, 400)
    assert "请填写回复内容" in _reply(client, item.id, "  ").get_data(as_text=True)
    assert _sent(live_url) == []


def test_mini_program_feedback_has_no_reply_form(app, demo, client, mp_login):
    cand = next(c for c in demo["candidates"] if c["department"] == "技术部")
    auth = mp_login(cand["openid"], bound=True)
    r = client.post(f"{factories.API}/feedback", json={"content": "小程序里的留言"}, headers=auth)
    assert r.status_code in (200, 201), r.get_json()
    hr = factories.console_client(app, "admin")
    page = hr.get("/console/feedback").get_data(as_text=True)
    assert "小程序里的留言" in page and "小程序反馈，请通过电话或短信联系" in page
    [item] = _feedback(app)
    html = _reply(hr, item.id, "您好").get_data(as_text=True)
    assert "该反馈来自小程序" in html


def test_an_unexpected_error_while_sending_leaves_a_failed_reply_not_a_sending_one(
        app, candidate, live_url, monkeypatch):
    from app.wechat import client as wechat_client

    _, phone = candidate
    phone.send("请问面试可以改到下午吗？")
    [item] = _feedback(app)
    client = factories.console_client(app, "manager")

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(wechat_client, "official_account_client", broken)
    _reply(client, item.id, "可以，已为您改到下午三点。")
    with app.app_context():
        reply = db.session.scalars(select(FeedbackReply)).one()
        assert reply.status == "failed" and "RuntimeError" in reply.error
    assert "发送失败" in client.get("/console/feedback").get_data(as_text=True)


def test_a_reply_left_sending_by_a_dead_process_reads_as_unknown(app, candidate, live_url):
    _, phone = candidate
    phone.send("请问面试可以改到下午吗？")
    [item] = _feedback(app)
    client = factories.console_client(app, "manager")
    with factories.committed(app) as session:
        session.add(FeedbackReply(feedback_id=item.id, hr_user_id=1, content="稍后回复您",
                                  status="sending"))
    assert "发送中" in client.get("/console/feedback").get_data(as_text=True)
    with app.app_context():
        db.session.execute(update(FeedbackReply).values(
            created_at=utcnow() - timedelta(minutes=3)))
        db.session.commit()
    page = client.get("/console/feedback").get_data(as_text=True)
    assert "发送结果未知" in page and "稍后回复您" in page
