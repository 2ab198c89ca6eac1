"""WeChat callbacks (/wechat/oa/callback, /wechat/mp/callback) fed by the sandbox's pushes."""
from __future__ import annotations

import time

import pytest
import requests
from sandbox_helpers import cancelled_data, hr_alert_data, outbox_row
from wechatpy.utils import WeChatSigner

from app.models import OutboxStatus
from app.services.notifications import receipts as delivery
from app.wechat.sandbox import push


def _now() -> str:
    return str(int(time.time()))


def _signature(token: str, timestamp: str, nonce: str) -> str:
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce)
    return signer.signature


@pytest.fixture
def record_calls(monkeypatch):
    """Count record_delivery calls while keeping its behaviour."""
    calls = []
    real = delivery.record_delivery

    def counting(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(delivery, "record_delivery", counting)
    return calls


def _mp_sent(sandbox, make_outbox, openid="o-cand", **row):
    """A subscribe message accepted by the sandbox and its outbox row (status sent)."""
    sandbox.grant(openid)
    res = sandbox.subscribe_send({"touser": openid, "template_id": sandbox.tpl_cancelled,
                                  "data": cancelled_data()})
    assert res["errcode"] == 0
    fields = {"app": "mp", "channel": "subscribe", "touser": openid,
              "template_id": sandbox.tpl_cancelled, "msgid": str(res["msgid"]), **row}
    return res["msgid"], make_outbox(**fields)


def _oa_sent(sandbox, make_outbox, openid="oa-hr"):
    sandbox.follow(openid)
    res = sandbox.template_send({"touser": openid, "template_id": sandbox.tpl_hr_alert,
                                 "data": hr_alert_data()})
    assert res["errcode"] == 0
    row_id = make_outbox(app="oa", channel="oa_template", touser=openid,
                         recipient_type="hr_user", template_id=sandbox.tpl_hr_alert,
                         msgid=str(res["msgid"]))
    return res["msgid"], row_id


# --- GET: server verification -----------------------------------------------------------

@pytest.mark.parametrize("app_name, token_key", [("oa", "WECHAT_OA_TOKEN"),
                                                 ("mp", "WECHAT_MP_TOKEN")])
def test_echostr_check(app, client, app_name, token_key):
    ts, nonce = _now(), "12345"
    sig = _signature(app.config[token_key], ts, nonce)
    res = client.get(f"/wechat/{app_name}/callback", query_string={
        "signature": sig, "timestamp": ts, "nonce": nonce, "echostr": "echo-123"})
    assert res.status_code == 200 and res.get_data(as_text=True) == "echo-123"
    bad = client.get(f"/wechat/{app_name}/callback", query_string={
        "signature": "0" * 40, "timestamp": ts, "nonce": nonce, "echostr": "echo-123"})
    assert bad.status_code == 403 and "echo-123" not in bad.get_data(as_text=True)


def test_echostr_without_parameters_is_403(client):
    assert client.get("/wechat/oa/callback").status_code == 403


# --- delivery events pushed by the sandbox ---------------------------------------------

def test_subscribe_msg_sent_event_marks_row_delivered(app, sandbox, make_outbox):
    msgid, row_id = _mp_sent(sandbox, make_outbox)
    res = sandbox.post("/deliveries", {"msgid": msgid})
    assert res["errcode"] == 0
    assert res["callback_status"] == 200 and res["attempts"] == 1
    row = outbox_row(app, row_id)
    assert row.status == OutboxStatus.DELIVERED and row.delivered_at is not None
    assert sandbox.messages("o-cand")[0]["delivery"]["status"] == "success"


def test_subscribe_msg_failure_marks_row_failed(app, sandbox, make_outbox):
    msgid, row_id = _mp_sent(sandbox, make_outbox)
    res = sandbox.post("/deliveries", {"msgid": msgid, "status": "failed:user block",
                                       "error_code": 10005})
    assert res["callback_status"] == 200
    row = outbox_row(app, row_id)
    assert row.status == OutboxStatus.FAILED
    assert row.errcode == 10005 and row.last_error == "用户拒收消息"
    assert row.delivered_at is None


@pytest.mark.parametrize("status, explanation", [
    ("failed:user block", "用户拒收消息"),
    ("failed: system failed", "微信系统错误"),
    ("failed:freq limit", "failed:freq limit"),
])
def test_templatesendjobfinish_failure_marks_oa_row_failed(app, sandbox, make_outbox,
                                                           status, explanation):
    msgid, row_id = _oa_sent(sandbox, make_outbox)
    res = sandbox.post("/deliveries", {"msgid": msgid, "status": status})
    assert res["callback_status"] == 200
    row = outbox_row(app, row_id)
    assert row.status == OutboxStatus.FAILED and row.last_error == explanation


def test_templatesendjobfinish_success_marks_oa_row_delivered(app, sandbox, make_outbox):
    msgid, row_id = _oa_sent(sandbox, make_outbox)
    sandbox.post("/deliveries", {"msgid": msgid})
    assert outbox_row(app, row_id).status == OutboxStatus.DELIVERED


def test_delivery_status_fault_decides_the_pushed_status(app, sandbox, make_outbox):
    sandbox.fault(openid="oa-blocked", delivery_status="failed:user block")
    msgid, row_id = _oa_sent(sandbox, make_outbox, openid="oa-blocked")
    assert sandbox.post("/deliveries", {"msgid": msgid})["status"] == "failed:user block"
    assert outbox_row(app, row_id).status == OutboxStatus.FAILED


def test_unknown_msgid_is_404(sandbox):
    res = requests.post(sandbox.base + "/deliveries", json={"msgid": 42}, timeout=5)
    assert res.status_code == 404


# --- dedupe and retries -------------------------------------------------------------------

def test_same_delivery_event_twice_changes_the_row_once(app, sandbox, make_outbox,
                                                       monkeypatch):
    """Delivery handlers are idempotent (no Redis dedupe on this hot path): WeChat's retry
    and a fresh push of the same delivery run again and change nothing."""
    changed = []
    real = delivery.record_delivery
    monkeypatch.setattr(delivery, "record_delivery",
                        lambda **kw: changed.append(real(**kw)) or changed[-1])
    msgid, row_id = _mp_sent(sandbox, make_outbox)
    with app.app_context():
        message = {"app": "mp", "touser": "o-cand", "template_id": sandbox.tpl_cancelled,
                   "msgid": msgid}
        xml = push.event_xml(message, "success", None, int(time.time()))
        url, params, body = push.signed_request("mp", xml, "o-cand")
    for _ in range(2):  # WeChat's retry: the very same request
        res = requests.post(url, params=params, data=body.encode(), timeout=5)
        assert res.status_code == 200 and res.text == "success"
    delivered_at = outbox_row(app, row_id).delivered_at
    failed = sandbox.post("/deliveries", {"msgid": msgid, "status": "failed:user block",
                                          "error_code": 10005})
    assert failed["callback_status"] == 200
    assert changed == [1, 0, 0]
    row = outbox_row(app, row_id)
    assert row.status == OutboxStatus.DELIVERED and row.delivered_at == delivered_at


def test_failed_handling_answers_500_and_wechat_retries(app, sandbox, make_outbox,
                                                        monkeypatch):
    msgid, row_id = _mp_sent(sandbox, make_outbox)
    attempts = []

    def broken(**kwargs):
        attempts.append(kwargs)
        raise RuntimeError("database down")

    monkeypatch.setattr(delivery, "record_delivery", broken)
    res = sandbox.post("/deliveries", {"msgid": msgid})
    assert res["callback_status"] == 500 and res["attempts"] == 3
    assert len(attempts) == 3  # the dedupe mark is released so each retry is handled
    monkeypatch.undo()
    assert sandbox.post("/deliveries", {"msgid": msgid})["attempts"] == 1
    assert outbox_row(app, row_id).status == OutboxStatus.DELIVERED


# --- signatures ---------------------------------------------------------------------------

def test_plain_mode_post_with_wrong_signature_is_403(app, client, record_calls):
    xml = ("<xml><ToUserName>gh_x</ToUserName><FromUserName>oa-hr</FromUserName>"
           "<CreateTime>1700000000</CreateTime><MsgType>event</MsgType>"
           "<Event>TEMPLATESENDJOBFINISH</Event><MsgID>1</MsgID><Status>success</Status></xml>")
    app.config["WECHAT_OA_ENCRYPT_MODE"] = "compatible"
    res = client.post("/wechat/oa/callback", data=xml, query_string={
        "signature": "0" * 40, "timestamp": _now(), "nonce": "1"})
    assert res.status_code == 403
    assert record_calls == []


def test_plain_post_with_good_signature_in_compatible_mode(app, client, sandbox,
                                                            make_outbox):
    app.config["WECHAT_OA_ENCRYPT_MODE"] = "compatible"
    msgid, row_id = _oa_sent(sandbox, make_outbox)
    xml = ("<xml><ToUserName><![CDATA[gh_x]]></ToUserName>"
           "<FromUserName><![CDATA[oa-hr]]></FromUserName>"
           "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType>"
           "<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event>"
           f"<MsgID>{msgid}</MsgID><Status><![CDATA[success]]></Status></xml>")
    ts, nonce = _now(), "777"
    res = client.post("/wechat/oa/callback", data=xml, query_string={
        "signature": _signature(app.config["WECHAT_OA_TOKEN"], ts, nonce),
        "timestamp": ts, "nonce": nonce, "openid": "oa-hr"})
    assert res.status_code == 200 and res.get_data(as_text=True) == "success"
    assert outbox_row(app, row_id).status == OutboxStatus.DELIVERED


def test_aes_mode_with_wrong_msg_signature_is_403(app, client, record_calls):
    with app.app_context():
        xml = "<xml><MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event></xml>"
        _, params, body = push.signed_request("oa", xml, "oa-hr")
    params["msg_signature"] = "0" * 40
    res = client.post("/wechat/oa/callback", data=body, query_string=params)
    assert res.status_code == 403
    assert record_calls == []


def test_aes_mode_with_the_other_apps_key_is_403(app, client):
    with app.app_context():
        xml = "<xml><MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event></xml>"
        _, params, body = push.signed_request("mp", xml, "o-x")
    assert client.post("/wechat/oa/callback", data=body, query_string=params).status_code == 403


def test_aes_mode_garbage_body_is_400(app, client):
    with app.app_context():
        _, params, _ = push.signed_request("oa", "<xml/>", "oa-hr")
    res = client.post("/wechat/oa/callback", data="not xml", query_string=params)
    assert res.status_code == 400


# --- other messages -------------------------------------------------------------------------

def test_unknown_event_is_logged_and_answered_success(app, client, record_calls):
    with app.app_context():
        xml = ("<xml><ToUserName>gh_x</ToUserName><FromUserName>o-x</FromUserName>"
               "<CreateTime>1700000000</CreateTime><MsgType>event</MsgType>"
               "<Event>subscribe_msg_popup_event</Event></xml>")
        _, params, body = push.signed_request("mp", xml, "o-x")
    res = client.post("/wechat/mp/callback", data=body, query_string=params)
    assert res.status_code == 200 and res.get_data(as_text=True) == "success"
    assert record_calls == []


def test_several_list_items_in_one_event(app, client, sandbox, make_outbox):
    first, row1 = _mp_sent(sandbox, make_outbox, openid="o-multi")
    sandbox.grant("o-multi", sandbox.tpl_changed)
    data = {"thing1": {"value": "岗位"}, "time2": {"value": "14:00"},
            "time3": {"value": "15:00"}, "thing4": {"value": "备注"}}
    second = sandbox.subscribe_send({"touser": "o-multi", "template_id": sandbox.tpl_changed,
                                     "data": data})["msgid"]
    row2 = make_outbox(app="mp", touser="o-multi", template_id=sandbox.tpl_changed,
                       msgid=str(second))
    items = "".join(
        f"<List><TemplateId>{tpl}</TemplateId><MsgID>{mid}</MsgID>"
        f"<ErrorCode>{code}</ErrorCode><ErrorStatus>{st}</ErrorStatus></List>"
        for tpl, mid, code, st in ((sandbox.tpl_cancelled, first, 0, "success"),
                                   (sandbox.tpl_changed, second, 10005, "failed:user block")))
    xml = ("<xml><ToUserName>gh_x</ToUserName><FromUserName>o-multi</FromUserName>"
           "<CreateTime>1700000000</CreateTime><MsgType>event</MsgType>"
           "<Event>subscribe_msg_sent_event</Event>"
           f"<SubscribeMsgSentEvent>{items}</SubscribeMsgSentEvent></xml>")
    with app.app_context():
        _, params, body = push.signed_request("mp", xml, "o-multi")
    assert client.post("/wechat/mp/callback", data=body, query_string=params).status_code == 200
    assert outbox_row(app, row1).status == OutboxStatus.DELIVERED
    assert outbox_row(app, row2).status == OutboxStatus.FAILED


# --- automatic push -------------------------------------------------------------------------

def _wait_for(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_auto_push_after_send(app, sandbox, make_outbox):
    app.config["SANDBOX_AUTO_PUSH"] = True
    sandbox.fault(openid="o-blocked", delivery_status="failed:user block")
    ok_row = make_outbox(app="mp", touser="o-auto", template_id=sandbox.tpl_cancelled)
    bad_row = make_outbox(app="mp", touser="o-blocked", template_id=sandbox.tpl_cancelled)
    for openid in ("o-auto", "o-blocked"):
        sandbox.grant(openid)
        assert sandbox.subscribe_send({"touser": openid, "template_id": sandbox.tpl_cancelled,
                                       "data": cancelled_data()})["errcode"] == 0
    # rows without msgid are matched by touser + template (the mp fallback)
    assert _wait_for(lambda: outbox_row(app, ok_row).status == OutboxStatus.DELIVERED)
    assert _wait_for(lambda: outbox_row(app, bad_row).status == OutboxStatus.FAILED)
    assert outbox_row(app, bad_row).last_error == "用户拒收消息"
    assert outbox_row(app, ok_row).msgid == str(sandbox.messages("o-auto")[0]["msgid"])


def test_no_auto_push_in_testing_by_default(app, sandbox, make_outbox, record_calls):
    row = make_outbox(app="mp", touser="o-quiet", template_id=sandbox.tpl_cancelled)
    sandbox.grant("o-quiet")
    sandbox.subscribe_send({"touser": "o-quiet", "template_id": sandbox.tpl_cancelled,
                            "data": cancelled_data()})
    time.sleep(0.5)
    assert record_calls == [] and outbox_row(app, row).status == OutboxStatus.SENT


def test_oversized_body_is_413(app, client):
    app.config["WECHAT_OA_ENCRYPT_MODE"] = "compatible"
    ts, nonce = _now(), "1"
    res = client.post("/wechat/oa/callback", data="x" * (300 * 1024), query_string={
        "signature": _signature(app.config["WECHAT_OA_TOKEN"], ts, nonce),
        "timestamp": ts, "nonce": nonce})
    assert res.status_code == 413
