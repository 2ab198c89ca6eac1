"""Sandbox fault injection: per-openid vs global, times, latency, listing and clearing."""
from __future__ import annotations

import time

from sandbox_helpers import cancelled_data


def _send(sandbox, openid):
    sandbox.grant(openid)
    return sandbox.subscribe_send({"touser": openid, "template_id": sandbox.tpl_cancelled,
                                   "data": cancelled_data()})


def test_per_openid_fault_applies_only_to_that_openid(sandbox):
    sandbox.fault(openid="o-unlucky", api="subscribe_send", errcode=45009)
    assert _send(sandbox, "o-unlucky") == {"errcode": 45009,
                                           "errmsg": "reach max api daily quota limit"}
    assert _send(sandbox, "o-lucky")["errcode"] == 0
    assert _send(sandbox, "o-unlucky")["errcode"] == 45009  # until cleared


def test_global_fault_applies_to_everybody(sandbox):
    sandbox.fault(api="subscribe_send", errcode=-1, errmsg="system error")
    assert _send(sandbox, "o-a") == {"errcode": -1, "errmsg": "system error"}
    assert _send(sandbox, "o-b")["errcode"] == -1


def test_fault_without_api_applies_to_every_api_for_that_openid(sandbox):
    sandbox.fault(openid="o-all", errcode=40226)
    assert sandbox.login("sandbox:o-all")["errcode"] == 40226
    assert _send(sandbox, "o-all")["errcode"] == 40226
    assert sandbox.login("sandbox:o-fine")["openid"] == "o-fine"


def test_fault_on_another_api_does_not_apply(sandbox):
    sandbox.fault(api="template_send", errcode=-1)
    assert _send(sandbox, "o-c")["errcode"] == 0


def test_times_limits_the_fault(sandbox):
    sandbox.fault(api="subscribe_send", errcode=-1, times=2)
    assert [_send(sandbox, "o-t")["errcode"] for _ in range(3)] == [-1, -1, 0]
    assert sandbox.get("/faults")["items"] == []


def test_faults_are_listed_with_remaining_times_and_cleared(sandbox):
    fault = sandbox.fault(api="jscode2session", errcode=-1, times=3)
    sandbox.login("sandbox:o-x")
    [listed] = sandbox.get("/faults")["items"]
    assert listed["id"] == fault["id"] and listed["remaining"] == 2
    assert sandbox.delete("/faults")["errcode"] == 0
    assert sandbox.get("/faults")["items"] == []
    assert sandbox.login("sandbox:o-x")["openid"] == "o-x"


def test_per_openid_fault_wins_over_global(sandbox):
    sandbox.fault(api="subscribe_send", errcode=-1)
    sandbox.fault(openid="o-special", api="subscribe_send", errcode=45009)
    assert _send(sandbox, "o-special")["errcode"] == 45009
    assert _send(sandbox, "o-normal")["errcode"] == -1


def test_latency_fault_delays_the_answer(sandbox):
    sandbox.fault(api="subscribe_send", latency_ms=400, times=1)
    sandbox.grant("o-slow", count=2)
    body = {"touser": "o-slow", "template_id": sandbox.tpl_cancelled, "data": cancelled_data()}
    token = sandbox.token("mp")
    started = time.monotonic()
    assert sandbox.subscribe_send(body, token)["errcode"] == 0
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    assert sandbox.subscribe_send(body, token)["errcode"] == 0
    assert time.monotonic() - started < 0.4


def test_latency_with_errcode(sandbox):
    sandbox.fault(api="token", latency_ms=200, errcode=-1, times=1)
    started = time.monotonic()
    res = sandbox.post("/cgi-bin/stable_token", {"grant_type": "client_credential",
                                                 "appid": sandbox.mp_appid,
                                                 "secret": sandbox.mp_secret})
    assert res["errcode"] == -1 and time.monotonic() - started >= 0.2


def test_token_fault(sandbox):
    sandbox.fault(api="token", errcode=-1, times=1)
    res = sandbox.get("/cgi-bin/token", grant_type="client_credential",
                      appid=sandbox.oa_appid, secret=sandbox.oa_secret)
    assert res["errcode"] == -1
    assert sandbox.token("oa")


def test_fault_on_getuserphonenumber_and_menu(sandbox):
    sandbox.fault(api="getuserphonenumber", errcode=-1, times=1)
    sandbox.fault(api="menu_create", errcode=-1, times=1)
    res = sandbox.post("/wxa/business/getuserphonenumber", {"code": "sandbox-phone:138"},
                       access_token=sandbox.token("mp"))
    assert res["errcode"] == -1
    menu = {"button": [{"type": "click", "name": "x", "key": "X"}]}
    res = sandbox.post("/cgi-bin/menu/create", menu, access_token=sandbox.token("oa"))
    assert res["errcode"] == -1


def test_fault_does_not_use_the_credit(sandbox):
    sandbox.fault(openid="o-keep", api="subscribe_send", errcode=-1, times=1)
    assert _send(sandbox, "o-keep")["errcode"] == -1
    assert sandbox.get("/subscriptions", openid="o-keep")["items"][0]["credits"] == 1


def test_invalid_fault_specs_are_refused(sandbox):
    for spec in ({}, {"api": "teleport", "errcode": -1}, {"errcode": "x"},
                 {"errcode": -1, "times": 0}, {"errcode": 0}, {"latency_ms": -5}):
        status, res = sandbox.post_status("/faults", spec)
        assert status == 400 and res["errcode"] != 0, spec


def test_delivery_status_fault_is_not_an_api_fault(sandbox):
    sandbox.fault(openid="o-block", delivery_status="failed:user block")
    assert _send(sandbox, "o-block")["errcode"] == 0
