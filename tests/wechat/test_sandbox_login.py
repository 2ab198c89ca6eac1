"""Sandbox mini-program login (sns/jscode2session) and phone numbers."""
from __future__ import annotations

import base64

import pytest
from sandbox_helpers import cancelled_data


def test_login_with_reusable_code(sandbox):
    first = sandbox.login("sandbox:o-alice")
    assert first["openid"] == "o-alice"
    assert first["unionid"] == "sandbox-union-o-alice"
    assert len(base64.b64decode(first["session_key"])) == 16
    second = sandbox.login("sandbox:o-alice")
    assert second["openid"] == "o-alice" and second["session_key"] != first["session_key"]


def test_login_registers_a_mini_program_user(sandbox):
    sandbox.login("sandbox:o-bob")
    assert {"openid": "o-bob", "unionid": "sandbox-union-o-bob"} in sandbox.get("/users")["items"]
    sandbox.post("/subscriptions", {"openid": "o-bob", "template_id": sandbox.tpl_cancelled})
    res = sandbox.subscribe_send({"touser": "o-bob", "template_id": sandbox.tpl_cancelled,
                                  "data": cancelled_data()})
    assert res["errcode"] == 0


def test_login_returns_the_registered_unionid(sandbox):
    sandbox.post("/users", {"openid": "o-carol", "unionid": "union-carol"})
    assert sandbox.login("sandbox:o-carol")["unionid"] == "union-carol"


def test_single_use_code_40163(sandbox):
    assert sandbox.login("sandbox:o-dave:n1")["openid"] == "o-dave"
    assert sandbox.login("sandbox:o-dave:n1")["errcode"] == 40163
    assert sandbox.login("sandbox:o-dave:n2")["openid"] == "o-dave"


@pytest.mark.parametrize("code", ["", "abc", "sandbox:", "sandbox:bad openid",
                                  "wx:o-x", "sandbox:o-x:n:extra"])
def test_invalid_code_40029(sandbox, code):
    assert sandbox.login(code)["errcode"] == 40029


@pytest.mark.parametrize("params, errcode", [
    ({"appid": "wxunknown"}, 40013),
    ({"secret": "nope"}, 40125),
    ({"grant_type": "client_credential"}, 40002),
])
def test_login_credentials(sandbox, params, errcode):
    query = {"appid": sandbox.mp_appid, "secret": sandbox.mp_secret,
             "js_code": "sandbox:o-x", "grant_type": "authorization_code", **params}
    assert sandbox.get("/sns/jscode2session", **query)["errcode"] == errcode


def test_login_with_the_official_account_appid_40013(sandbox):
    res = sandbox.get("/sns/jscode2session", appid=sandbox.oa_appid, secret=sandbox.oa_secret,
                      js_code="sandbox:o-x", grant_type="authorization_code")
    assert res["errcode"] == 40013


def test_login_needs_no_access_token(sandbox):
    sandbox.fault(api="token", errcode=-1)
    assert sandbox.login("sandbox:o-notoken")["openid"] == "o-notoken"


def test_login_rate_limit_100_per_minute_per_openid_45011(sandbox):
    for i in range(100):
        assert "openid" in sandbox.login(f"sandbox:o-busy:{i}"), i
    assert sandbox.login("sandbox:o-busy:100")["errcode"] == 45011
    assert sandbox.login("sandbox:o-other")["openid"] == "o-other"
    sandbox.advance(61)
    # the refused code was not used up
    assert sandbox.login("sandbox:o-busy:100")["openid"] == "o-busy"


# --- phone number ---------------------------------------------------------------------

def _phone(sandbox, code, token=None):
    return sandbox.post("/wxa/business/getuserphonenumber", {"code": code},
                        access_token=token or sandbox.token("mp"))


def test_phone_number_code(sandbox):
    res = _phone(sandbox, "sandbox-phone:13800138000")
    assert res["errcode"] == 0
    info = res["phone_info"]
    assert info["phoneNumber"] == info["purePhoneNumber"] == "13800138000"
    assert info["countryCode"] == "86"
    assert info["watermark"]["appid"] == sandbox.mp_appid
    assert isinstance(info["watermark"]["timestamp"], int)


def test_phone_code_is_single_use_40029(sandbox):
    assert _phone(sandbox, "sandbox-phone:13800138001")["errcode"] == 0
    assert _phone(sandbox, "sandbox-phone:13800138001")["errcode"] == 40029


@pytest.mark.parametrize("code", ["13800138000", "sandbox-phone:", "sandbox-phone:abc", None])
def test_unknown_phone_code_40029(sandbox, code):
    assert _phone(sandbox, code)["errcode"] == 40029


def test_issued_phone_code_is_valid_five_minutes(sandbox):
    early = sandbox.post("/phone-codes", {"phone": "13900000001"})["code"]
    late = sandbox.post("/phone-codes", {"phone": "13900000002"})["code"]
    sandbox.advance(299)
    assert _phone(sandbox, early)["phone_info"]["purePhoneNumber"] == "13900000001"
    sandbox.advance(2)
    assert _phone(sandbox, late)["errcode"] == 40029


def test_phone_number_needs_the_mini_program_token(sandbox):
    assert _phone(sandbox, "sandbox-phone:1380013", sandbox.token("oa"))["errcode"] == 40001
