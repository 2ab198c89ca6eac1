"""Our wechatpy client factory against the sandbox, over real HTTP.

Proves the three base-URL overrides (client API_BASE_URL, wxa API_BASE_URL, the token
fetch), the token shared through Redis, and the bounded token refresh.
"""
from __future__ import annotations

import pytest
from sandbox_helpers import cancelled_data, hr_alert_data
from wechatpy.exceptions import WeChatClientException

from app.wechat.client import (
    WeChatUnavailable,
    code_to_session,
    mini_program_client,
    official_account_client,
)


def _subscribe(client, openid, tpl):
    return client.call(lambda c: c.wxa.send_subscribe_message(openid, tpl, cancelled_data(),
                                                              page="pages/interview/list"))


def test_base_urls_point_at_the_sandbox(app, live_url):
    base = live_url + "/_sandbox/wechat"
    with app.app_context():
        mp = mini_program_client()
        assert mp.API_BASE_URL == base + "/cgi-bin/"
        assert mp.wxa.API_BASE_URL == base + "/"
        assert mp.api_base == base


def test_subscribe_message_through_wxa(app, sandbox):
    sandbox.grant("o-client")
    with app.app_context():
        res = _subscribe(mini_program_client(), "o-client", sandbox.tpl_cancelled)
    assert res["errcode"] == 0
    [item] = sandbox.messages("o-client")
    assert item["msgid"] == res["msgid"] and item["page"] == "pages/interview/list"
    assert sandbox.calls()["stable_token"] == 1
    assert "token" not in sandbox.calls()  # the hard-coded /cgi-bin/token is never used


def test_two_clients_share_one_token(app, sandbox):
    sandbox.grant("o-share", count=2)
    with app.app_context():
        first, second = mini_program_client(), mini_program_client()
        assert _subscribe(first, "o-share", sandbox.tpl_cancelled)["errcode"] == 0
        assert _subscribe(second, "o-share", sandbox.tpl_cancelled)["errcode"] == 0
        assert first.access_token == second.access_token
    assert sandbox.calls()["stable_token"] == 1


def test_persistent_40001_ends_in_client_exception_after_bounded_refresh(app, sandbox):
    sandbox.grant("o-loop")
    sandbox.fault(api="subscribe_send", errcode=40001)
    with app.app_context():
        client = mini_program_client()
        with pytest.raises(WeChatClientException) as caught:
            _subscribe(client, "o-loop", sandbox.tpl_cancelled)
        retries = app.config["WECHAT_TOKEN_RETRIES"]
    assert caught.value.errcode == 40001
    calls = sandbox.calls()
    assert calls["subscribe_send"] == 1 + retries
    assert calls["stable_token"] == 1 + retries


def test_expired_token_is_refreshed_once_and_the_call_succeeds(app, sandbox):
    sandbox.grant("o-exp", count=2)
    with app.app_context():
        client = mini_program_client()
        assert _subscribe(client, "o-exp", sandbox.tpl_cancelled)["errcode"] == 0
        sandbox.fault(expire_tokens=True)
        assert _subscribe(client, "o-exp", sandbox.tpl_cancelled)["errcode"] == 0
    assert sandbox.calls()["subscribe_send"] == 3  # ok, 42001, ok after refresh
    assert len(sandbox.messages("o-exp")) == 2


def test_token_fetch_error_is_a_client_exception(app, sandbox):
    sandbox.fault(api="stable_token", errcode=-1)
    sandbox.grant("o-tok")
    with app.app_context(), pytest.raises(WeChatClientException) as caught:
        _subscribe(mini_program_client(), "o-tok", sandbox.tpl_cancelled)
    assert caught.value.errcode == -1


def test_no_subscription_is_43101_through_the_client(app, sandbox):
    sandbox.post("/users", {"openid": "o-none"})
    with app.app_context(), pytest.raises(WeChatClientException) as caught:
        _subscribe(mini_program_client(), "o-none", sandbox.tpl_cancelled)
    assert caught.value.errcode == 43101


def test_latency_beyond_the_client_timeout_is_unavailable(app, sandbox):
    app.config["WECHAT_HTTP_TIMEOUT"] = 0.3
    sandbox.grant("o-late")
    sandbox.fault(openid="o-late", api="subscribe_send", latency_ms=800, times=1)
    with app.app_context(), pytest.raises(WeChatUnavailable):
        _subscribe(mini_program_client(), "o-late", sandbox.tpl_cancelled)


def test_official_account_template_and_menu(app, sandbox):
    sandbox.follow("oa-hr-1")
    with app.app_context():
        oa = official_account_client()
        res = oa.call(lambda c: c.message.send_template(
            "oa-hr-1", sandbox.tpl_hr_alert, hr_alert_data(),
            mini_program={"appid": sandbox.mp_appid, "pagepath": "pages/interview/detail"}))
        assert res["errcode"] == 0
        dup = oa.call(lambda c: c.post("message/template/send", data={
            "touser": "oa-hr-1", "template_id": sandbox.tpl_hr_alert,
            "data": hr_alert_data(), "client_msg_id": "outbox-9"}))
        again = oa.call(lambda c: c.post("message/template/send", data={
            "touser": "oa-hr-1", "template_id": sandbox.tpl_hr_alert,
            "data": hr_alert_data(), "client_msg_id": "outbox-9"}))
        assert again["msgid"] == dup["msgid"]
        oa.call(lambda c: c.menu.create({"button": [
            {"type": "click", "name": "待审批", "key": "PENDING"}]}))
    assert len(sandbox.messages("oa-hr-1")) == 2
    assert sandbox.get("/menu")["menu"]["button"][0]["key"] == "PENDING"


def test_phone_number_through_client_post(app, sandbox):
    with app.app_context():
        mp = mini_program_client()
        res = mp.call(lambda c: c.post("wxa/business/getuserphonenumber",
                                       data={"code": "sandbox-phone:13800138000"},
                                       api_base_url=c.wxa.API_BASE_URL))
        assert res["phone_info"]["purePhoneNumber"] == "13800138000"
        with pytest.raises(WeChatClientException) as caught:
            mp.call(lambda c: c.post("wxa/business/getuserphonenumber",
                                     data={"code": "sandbox-phone:13800138000"},
                                     api_base_url=c.wxa.API_BASE_URL))
    assert caught.value.errcode == 40029


def test_code_to_session(app, sandbox):
    with app.app_context():
        session = code_to_session("sandbox:o-login")
        assert session["openid"] == "o-login" and session["session_key"]
        with pytest.raises(WeChatClientException) as caught:
            code_to_session("garbage")
    assert caught.value.errcode == 40029
