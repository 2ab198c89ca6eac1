"""Events WeChat pushes (issue 10 §2): subscription credits, followers, delivery reports,
driven by the sandbox pushing as WeChat does (wechatpy's WeChatCrypto as the sender) in
each encryption mode, and to another instance's base URL."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from sandbox_helpers import cancelled_data, hr_alert_data, outbox_row
from sqlalchemy import select
from wechat_sender import Sender, event, subscribe_change, subscribe_popup

from app.extensions import db
from app.models import OutboxStatus, Subscription, WechatAccount, WechatApp
from app.services.candidates import followers, subscriptions
from app.services.notifications import routing
from tests import factories

TPL = "tpl-interview-cancelled"


def _subscription(flask_app, openid: str, template_id: str = TPL):
    with flask_app.app_context():
        sub = db.session.scalars(select(Subscription).where(
            Subscription.openid == openid, Subscription.template_id == template_id)).first()
        result = None if sub is None else (sub.credits, sub.last_result)
        db.session.rollback()
    return result


def _oa_account(flask_app, openid: str):
    with flask_app.app_context():
        acc = db.session.scalars(select(WechatAccount).where(
            WechatAccount.app == WechatApp.OFFICIAL_ACCOUNT,
            WechatAccount.openid == openid)).first()
        result = None if acc is None else (acc.followed, acc.unionid)
        db.session.rollback()
    return result


def _popup(sandbox, openid: str, results: dict) -> dict:
    res = sandbox.post("/mp/subscribe-popup", {"openid": openid, "results": results})
    assert res["errcode"] == 0 and res["callback_status"] == 200, res
    return res


def _settings(sandbox, openid: str, results: dict) -> dict:
    res = sandbox.post("/mp/subscribe-settings", {"openid": openid, "results": results})
    assert res["errcode"] == 0 and res["callback_status"] == 200, res
    return res


def _inbound(sandbox, openid: str, action: str) -> dict:
    res = sandbox.post("/oa/inbound", {"openid": openid, "action": action})
    assert res["errcode"] == 0 and res["callback_status"] == 200, res
    return res


# --- subscription credits ------------------------------------------------------------------

def test_popup_accept_grants_one_credit_and_wechat_accepts_one_send(app, sandbox):
    _popup(sandbox, "o-cand", {TPL: "accept"})
    assert _subscription(app, "o-cand") == (1, "accept")
    send = {"touser": "o-cand", "template_id": TPL, "data": cancelled_data()}
    assert sandbox.subscribe_send(send)["errcode"] == 0
    assert sandbox.subscribe_send(send)["errcode"] == 43101  # WeChat: one credit, one send


def test_popup_reject_grants_nothing_and_keeps_earlier_credits(app, sandbox):
    _popup(sandbox, "o-cand", {TPL: "accept"})
    _popup(sandbox, "o-cand", {TPL: "reject"})
    assert _subscription(app, "o-cand") == (1, "reject")


def test_each_popup_accept_is_one_more_credit(app, sandbox):
    other = "tpl-cancel-request"
    _popup(sandbox, "o-cand", {TPL: "accept", other: "accept"})
    _popup(sandbox, "o-cand", {TPL: "accept"})
    assert _subscription(app, "o-cand") == (2, "accept")
    assert _subscription(app, "o-cand", other) == (1, "accept")


@pytest.mark.parametrize("order", ["api_first", "event_first"])
def test_one_tap_reported_by_the_mini_program_and_by_wechat_is_one_credit(app, sandbox,
                                                                          order):
    def report():
        with app.app_context():
            subscriptions.record_results("o-cand", {TPL: "accept"})

    if order == "api_first":
        report()
        _popup(sandbox, "o-cand", {TPL: "accept"})
    else:
        _popup(sandbox, "o-cand", {TPL: "accept"})
        report()
    assert _subscription(app, "o-cand") == (1, "accept")
    # the next tap, reported twice too, is the second credit
    _popup(sandbox, "o-cand", {TPL: "accept"})
    report()
    assert _subscription(app, "o-cand") == (2, "accept")


def test_switching_a_template_off_in_settings_voids_its_credits(app, sandbox):
    _popup(sandbox, "o-cand", {TPL: "accept"})
    _popup(sandbox, "o-cand", {TPL: "accept"})
    _settings(sandbox, "o-cand", {TPL: "reject"})
    assert _subscription(app, "o-cand") == (0, "reject")
    send = {"touser": "o-cand", "template_id": TPL, "data": cancelled_data()}
    assert sandbox.subscribe_send(send)["errcode"] == 43101


def test_switching_it_on_again_grants_nothing(app, sandbox):
    _settings(sandbox, "o-cand", {TPL: "reject"})
    _settings(sandbox, "o-cand", {TPL: "accept"})
    assert _subscription(app, "o-cand") == (0, "accept")


def test_ban_voids_credits(app):
    with app.app_context():
        subscriptions.record_results("o-cand", {TPL: "accept"})
        subscriptions.record_results("o-cand", {TPL: "ban"})
    assert _subscription(app, "o-cand") == (0, "ban")


def test_popup_credit_lets_routing_choose_the_subscribe_message(app, sandbox):
    cand = factories.candidate(app, phone="13800138000")
    factories.wechat_account(app, "o-cand", candidate_id=cand)
    row = factories.outbox_message(app, status=OutboxStatus.QUEUED, recipient_id=cand,
                                   kind="candidate_cancel_confirmed", channel=None)

    def route():
        with app.app_context():
            from app.models import OutboxMessage

            found = routing.resolve(db.session.get(OutboxMessage, row), set())
            db.session.rollback()
            return found.channel if found else None

    assert route() == "sms"
    _popup(sandbox, "o-cand", {TPL: "accept"})
    assert route() == "subscribe"


def test_several_templates_in_one_event_with_a_wechat_sender(app, client):
    mp = Sender(app, client, "mp")
    res = mp.send(subscribe_popup("o-cand", {TPL: "accept", "tpl-cancel-request": "reject"}))
    assert res.status_code == 200
    assert _subscription(app, "o-cand") == (1, "accept")
    assert _subscription(app, "o-cand", "tpl-cancel-request") == (0, "reject")
    assert mp.send(subscribe_change("o-cand", {TPL: "reject"})).status_code == 200
    assert _subscription(app, "o-cand") == (0, "reject")


# --- followers -----------------------------------------------------------------------------

def test_follow_and_unfollow_set_the_follower_status(app, client, sandbox):
    _inbound(sandbox, "oa-user", "subscribe")
    assert _oa_account(app, "oa-user") == (True, None)
    _inbound(sandbox, "oa-user", "unsubscribe")
    assert _oa_account(app, "oa-user") == (False, None)
    # following again a second later (the same second would be WeChat's retry)
    oa = Sender(app, client, "oa")
    assert oa.send(event("oa-user", "subscribe",
                         create_time=int(time.time()) + 1)).status_code == 200
    assert _oa_account(app, "oa-user") == (True, None)


def test_an_older_event_arriving_late_does_not_undo_a_newer_one(app, client):
    oa = Sender(app, client, "oa")
    now = int(time.time())
    assert oa.send(event("oa-user", "unsubscribe", create_time=now)).status_code == 200
    assert oa.send(event("oa-user", "subscribe", create_time=now - 5)).status_code == 200
    assert _oa_account(app, "oa-user") == (False, None)


def test_unfollow_keeps_the_hr_binding(app, sandbox):
    user = factories.hr_user(app, "hr-follow")
    factories.wechat_account(app, "oa-hr", wechat_app=WechatApp.OFFICIAL_ACCOUNT,
                             hr_user_id=user, followed=True)
    _inbound(sandbox, "oa-hr", "unsubscribe")
    with app.app_context():
        acc = db.session.scalars(select(WechatAccount).where(
            WechatAccount.openid == "oa-hr")).one()
        assert (acc.followed, acc.hr_user_id) == (False, user)


def test_follower_unionid_comes_from_wechat_and_routes_oa_messages_to_the_candidate(
        app, sandbox):
    cand = factories.candidate(app, phone="13800138000")
    factories.wechat_account(app, "o-cand", candidate_id=cand, unionid="union-cand")
    sandbox.follow("oa-cand", unionid="union-cand")   # the same person in the OA
    _inbound(sandbox, "oa-cand", "subscribe")
    assert _oa_account(app, "oa-cand") == (True, None)  # the event carries no unionid
    row = factories.outbox_message(app, status=OutboxStatus.QUEUED, recipient_id=cand,
                                   kind="candidate_cancel_confirmed", channel=None)

    def route():
        with app.app_context():
            from app.models import OutboxMessage

            found = routing.resolve(db.session.get(OutboxMessage, row), set())
            db.session.rollback()
            return (found.channel, found.address) if found else None

    assert route()[0] == "sms"
    with app.app_context():
        assert followers.fill_unionids_from_wechat() == 1
        assert followers.fill_unionids_from_wechat() == 0
    assert _oa_account(app, "oa-cand") == (True, "union-cand")
    assert route() == ("oa_template", "oa-cand")
    _inbound(sandbox, "oa-cand", "unsubscribe")
    assert route()[0] == "sms"


def test_unionid_job_is_registered():
    from app.jobs.schedule import get_job

    assert get_job("oa_follower_unionids").every_seconds == 60


# --- delivery events in every mode -----------------------------------------------------------

@pytest.mark.parametrize("mode", ["safe", "compatible", "plain"])
def test_sandbox_pushes_deliveries_in_the_apps_mode(app, sandbox, make_outbox, mode):
    app.config["WECHAT_OA_ENCRYPT_MODE"] = mode
    app.config["WECHAT_MP_ENCRYPT_MODE"] = mode
    sandbox.follow("oa-hr")
    sent = sandbox.template_send({"touser": "oa-hr", "template_id": sandbox.tpl_hr_alert,
                                  "data": hr_alert_data()})
    oa_row = make_outbox(app="oa", channel="oa_template", touser="oa-hr",
                         recipient_type="hr_user", msgid=str(sent["msgid"]))
    sandbox.grant("o-cand")
    mp_sent = sandbox.subscribe_send({"touser": "o-cand", "template_id": TPL,
                                      "data": cancelled_data()})
    mp_row = make_outbox(app="mp", channel="subscribe", touser="o-cand", template_id=TPL,
                         msgid=str(mp_sent["msgid"]))
    assert sandbox.post("/deliveries", {"msgid": sent["msgid"]})["callback_status"] == 200
    res = sandbox.post("/deliveries", {"msgid": mp_sent["msgid"], "status": "failed:user block",
                                       "error_code": 10005})
    assert res["callback_status"] == 200
    assert outbox_row(app, oa_row).status == OutboxStatus.DELIVERED
    assert outbox_row(app, mp_row).status == OutboxStatus.FAILED


@pytest.mark.parametrize("mode", ["safe", "compatible", "plain"])
def test_sandbox_pushes_user_events_in_the_apps_mode(app, sandbox, mode):
    app.config["WECHAT_OA_ENCRYPT_MODE"] = mode
    app.config["WECHAT_MP_ENCRYPT_MODE"] = mode
    _inbound(sandbox, "oa-user", "subscribe")
    _popup(sandbox, "o-cand", {TPL: "accept"})
    assert _oa_account(app, "oa-user") == (True, None)
    assert _subscription(app, "o-cand") == (1, "accept")


class _Recorder(BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length") or 0)
        self.seen.append((self.path, self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"success")

    def log_message(self, *args):
        pass


def test_sandbox_pushes_to_another_instance_when_configured(app, sandbox, make_outbox):
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        app.config["SANDBOX_PUSH_BASE_URL"] = f"http://127.0.0.1:{server.server_port}/staging"
        sandbox.grant("o-cand")
        sent = sandbox.subscribe_send({"touser": "o-cand", "template_id": TPL,
                                       "data": cancelled_data()})
        row = make_outbox(app="mp", channel="subscribe", touser="o-cand", template_id=TPL,
                          msgid=str(sent["msgid"]))
        assert sandbox.post("/deliveries", {"msgid": sent["msgid"]})["callback_status"] == 200
    finally:
        server.shutdown()
    (path, body), = _Recorder.seen
    url = urlparse(path)
    assert url.path == "/staging/wechat/mp/callback"
    query = parse_qs(url.query)
    assert query["encrypt_type"] == ["aes"] and query["msg_signature"]
    assert b"<Encrypt>" in body and b"subscribe_msg_sent_event" not in body
    assert outbox_row(app, row).status == OutboxStatus.SENT  # not ours: we were not told
