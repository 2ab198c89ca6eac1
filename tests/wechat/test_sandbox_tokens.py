"""Sandbox access tokens: /cgi-bin/token, /cgi-bin/stable_token and the token checks."""
from __future__ import annotations

import pytest
from sandbox_helpers import cancelled_data


def _token(sandbox, **params):
    base = {"grant_type": "client_credential", "appid": sandbox.mp_appid,
            "secret": sandbox.mp_secret}
    base.update(params)
    return sandbox.get("/cgi-bin/token", **base)


def _stable(sandbox, **body):
    base = {"grant_type": "client_credential", "appid": sandbox.mp_appid,
            "secret": sandbox.mp_secret}
    base.update(body)
    return sandbox.post("/cgi-bin/stable_token", base)


@pytest.mark.parametrize("fetch", [_token, _stable], ids=["token", "stable_token"])
@pytest.mark.parametrize("params, errcode", [
    ({"appid": "wxunknown0000000"}, 40013),
    ({"secret": "wrong-secret"}, 40125),
    ({"grant_type": "password"}, 40002),
])
def test_token_credentials_are_checked(sandbox, fetch, params, errcode):
    res = fetch(sandbox, **params)
    assert res["errcode"] == errcode
    assert "access_token" not in res


@pytest.mark.parametrize("fetch", [_token, _stable], ids=["token", "stable_token"])
def test_token_lasts_7200_seconds(sandbox, fetch):
    res = fetch(sandbox)
    assert res["expires_in"] == 7200 and res["access_token"]
    sandbox.grant("o-token")
    body = {"touser": "o-token", "template_id": sandbox.tpl_cancelled, "data": cancelled_data()}
    sandbox.advance(7199)
    sandbox.grant("o-token")
    assert sandbox.subscribe_send(body, res["access_token"])["errcode"] == 0
    sandbox.advance(2)
    assert sandbox.subscribe_send(body, res["access_token"])["errcode"] == 42001


def test_cgi_token_issues_new_token_and_old_one_works_five_minutes(sandbox):
    first = _token(sandbox)["access_token"]
    second = _token(sandbox)["access_token"]
    assert first != second
    sandbox.grant("o-old", count=3)
    body = {"touser": "o-old", "template_id": sandbox.tpl_cancelled, "data": cancelled_data()}
    sandbox.advance(299)
    assert sandbox.subscribe_send(body, first)["errcode"] == 0
    sandbox.advance(2)
    assert sandbox.subscribe_send(body, first)["errcode"] == 42001
    assert sandbox.subscribe_send(body, second)["errcode"] == 0


def test_stable_token_returns_current_unless_force_refresh(sandbox):
    first = _stable(sandbox)
    sandbox.advance(100)
    again = _stable(sandbox)
    assert again["access_token"] == first["access_token"]
    assert again["expires_in"] == pytest.approx(7100, abs=2)
    forced = _stable(sandbox, force_refresh=True)
    assert forced["access_token"] != first["access_token"]
    assert forced["expires_in"] == 7200
    assert _stable(sandbox)["access_token"] == forced["access_token"]


def test_stable_and_cgi_tokens_are_independent(sandbox):
    stable = _stable(sandbox)["access_token"]
    _token(sandbox)
    _token(sandbox)
    assert _stable(sandbox)["access_token"] == stable


@pytest.mark.parametrize("token, errcode", [
    (None, 41001),
    ("not-a-token", 40001),
])
def test_api_rejects_missing_or_unknown_token(sandbox, token, errcode):
    body = {"touser": "o-x", "template_id": sandbox.tpl_cancelled, "data": cancelled_data()}
    params = {} if token is None else {"access_token": token}
    res = sandbox.post("/cgi-bin/message/subscribe/send", body, **params)
    assert res["errcode"] == errcode


def test_token_of_the_other_app_is_rejected(sandbox):
    sandbox.grant("o-cross")
    sandbox.follow("oa-cross")
    mp_body = {"touser": "o-cross", "template_id": sandbox.tpl_cancelled,
               "data": cancelled_data()}
    assert sandbox.subscribe_send(mp_body, sandbox.token("oa"))["errcode"] == 40001
    oa_body = {"touser": "oa-cross", "template_id": sandbox.tpl_hr_alert, "data": {}}
    assert sandbox.template_send(oa_body, sandbox.token("mp"))["errcode"] == 40001


def test_expire_tokens_fault_expires_every_issued_token(sandbox):
    mp, oa = sandbox.token("mp"), sandbox.token("oa")
    sandbox.fault(expire_tokens=True)
    sandbox.grant("o-exp")
    body = {"touser": "o-exp", "template_id": sandbox.tpl_cancelled, "data": cancelled_data()}
    assert sandbox.subscribe_send(body, mp)["errcode"] == 42001
    assert sandbox.post("/cgi-bin/menu/create", {"button": []},
                        access_token=oa)["errcode"] == 42001
    fresh = sandbox.token("mp")  # the stable token expired too: a new one is issued
    assert fresh != mp
    assert sandbox.subscribe_send(body, fresh)["errcode"] == 0


@pytest.mark.parametrize("body", [{"appid": ["x"]}, {"secret": {"a": 1}}, {"grant_type": None}])
def test_stable_token_odd_json_types_are_wechat_errors(sandbox, body):
    assert _stable(sandbox, **body)["errcode"] in (40002, 40013, 40125)


def test_stable_token_with_a_body_that_is_not_json(sandbox):
    assert sandbox.post("/cgi-bin/stable_token", raw=b"appid=x")["errcode"] == 47001
