"""Sandbox /cgi-bin/message/subscribe/send: check order, field rules, credits."""
from __future__ import annotations

import pytest
from sandbox_helpers import ALL_TYPES, FIELD_CASES, VALID, cancelled_data

ALL_TYPES_TPL = "tpl-all-types"


@pytest.fixture
def all_types(sandbox):
    res = sandbox.post("/templates", {"app": "mp", "template_id": ALL_TYPES_TPL,
                                      "fields": [{"name": f"{t}1", "type": t}
                                                 for t in ALL_TYPES]})
    assert res["errcode"] == 0, res
    return sandbox


def _all_types_data(**overrides):
    values = {f"{t}1": VALID[t] for t in ALL_TYPES}
    values.update(overrides)
    return {k: {"value": v} for k, v in values.items()}


def _send_all_types(sandbox, openid, **overrides):
    sandbox.grant(openid, ALL_TYPES_TPL)
    return sandbox.subscribe_send({"touser": openid, "template_id": ALL_TYPES_TPL,
                                   "data": _all_types_data(**overrides)})


@pytest.mark.parametrize("ftype", ALL_TYPES)
def test_field_rule_over_http(all_types, ftype):
    """Each rule of the field table, through the real API (cases: sandbox_helpers)."""
    for value, accepted in [(v, ok) for t, v, ok in FIELD_CASES if t == ftype]:
        res = _send_all_types(all_types, "o-fields", **{f"{ftype}1": value})
        if accepted:
            assert res["errcode"] == 0, (value, res)
        else:
            assert res == {"errcode": 47003,
                           "errmsg": f"argument invalid! data.{ftype}1.value invalid"}, value


def test_newlines_and_control_characters_are_rejected(all_types):
    for field, value in (("thing1", "第一行\n第二行"), ("thing1", "tab\there"),
                         ("name1", "张三\r"), ("phrase1", "已\x07通过")):
        res = _send_all_types(all_types, "o-ctrl", **{field: value})
        assert res == {"errcode": 47003,
                       "errmsg": f"argument invalid! data.{field}.value invalid"}, value


@pytest.mark.parametrize("data, errmsg", [
    ({"thing1": {"value": "x"}}, "data.time2.value is empty"),              # fields missing
    ({**cancelled_data(), "thing3": {"value": ""}}, "data.thing3.value is empty"),
    ({**cancelled_data(), "thing3": "时间冲突"}, "data.thing3.value is empty"),  # no "value"
    ({**cancelled_data(), "thing3": {"value": 12}}, "data.thing3.value invalid"),
])
def test_every_template_field_must_be_present_and_a_string(sandbox, data, errmsg):
    sandbox.grant("o-missing")
    res = sandbox.subscribe_send({"touser": "o-missing", "template_id": sandbox.tpl_cancelled,
                                  "data": data})
    assert res == {"errcode": 47003, "errmsg": "argument invalid! " + errmsg}


def test_field_errmsg_names_the_field_of_a_real_template(sandbox):
    sandbox.grant("o-real", sandbox.tpl_request)
    data = {"thing1": {"value": "Java后端工程师"}, "time2": {"value": "2024年03月15日 14:00"},
            "phrase3": {"value": "审核已经通过"}, "thing4": {"value": "备注"}}
    res = sandbox.subscribe_send({"touser": "o-real", "template_id": sandbox.tpl_request,
                                  "data": data})
    assert res == {"errcode": 47003, "errmsg": "argument invalid! data.phrase3.value invalid"}


def test_send_is_recorded_with_msgid(sandbox):
    sandbox.grant("o-ok")
    res = sandbox.subscribe_send({"touser": "o-ok", "template_id": sandbox.tpl_cancelled,
                                  "page": "pages/interview/detail?id=AI-1",
                                  "data": cancelled_data()})
    assert res["errcode"] == 0 and res["errmsg"] == "ok"
    assert isinstance(res["msgid"], int) and 0 < res["msgid"] < 2**63
    [item] = sandbox.messages("o-ok")
    assert item["api"] == "subscribe_send" and item["msgid"] == res["msgid"]
    assert item["template_id"] == sandbox.tpl_cancelled
    assert item["page"] == "pages/interview/detail?id=AI-1"
    assert item["data"] == cancelled_data()
    assert item["at"].endswith("+08:00")
    assert sandbox.messages("someone-else") == []


def test_without_credit_43101(sandbox):
    sandbox.post("/users", {"openid": "o-nocredit"})
    res = sandbox.subscribe_send({"touser": "o-nocredit", "template_id": sandbox.tpl_cancelled,
                                  "data": cancelled_data()})
    assert res["errcode"] == 43101
    assert sandbox.messages() == []


def test_one_credit_allows_exactly_one_message(sandbox):
    sandbox.grant("o-once")
    body = {"touser": "o-once", "template_id": sandbox.tpl_cancelled, "data": cancelled_data()}
    assert sandbox.subscribe_send(body)["errcode"] == 0
    assert sandbox.subscribe_send(body)["errcode"] == 43101
    assert len(sandbox.messages("o-once")) == 1


def test_credit_is_per_template(sandbox):
    sandbox.grant("o-tpl", sandbox.tpl_changed)
    res = sandbox.subscribe_send({"touser": "o-tpl", "template_id": sandbox.tpl_cancelled,
                                  "data": cancelled_data()})
    assert res["errcode"] == 43101
    assert sandbox.get("/subscriptions", openid="o-tpl")["items"] == [
        {"openid": "o-tpl", "template_id": sandbox.tpl_changed, "credits": 1}]


def test_failed_validation_does_not_use_the_credit(sandbox):
    sandbox.grant("o-keep")
    bad = {"touser": "o-keep", "template_id": sandbox.tpl_cancelled,
           "data": cancelled_data(thing1="x" * 21)}
    assert sandbox.subscribe_send(bad)["errcode"] == 47003
    good = {**bad, "data": cancelled_data()}
    assert sandbox.subscribe_send(good)["errcode"] == 0


def test_unknown_template_40037(sandbox):
    sandbox.grant("o-tplx")
    res = sandbox.subscribe_send({"touser": "o-tplx", "template_id": "no-such-template",
                                  "data": cancelled_data()})
    assert res["errcode"] == 40037


def test_oa_template_on_subscribe_send_40037(sandbox):
    sandbox.grant("o-oatpl")
    res = sandbox.subscribe_send({"touser": "o-oatpl", "template_id": sandbox.tpl_hr_alert,
                                  "data": cancelled_data()})
    assert res["errcode"] == 40037


@pytest.mark.parametrize("page, errcode", [
    ("pages/interview/list", 0),
    ("pages/message/open?token=abc&x=1", 0),
    ("pages/interview/reschedule", 0),
    ("pages/unknown/page", 41030),
    ("pages/interview", 41030),
])
def test_page_must_be_released_41030(sandbox, page, errcode):
    sandbox.grant("o-page")
    res = sandbox.subscribe_send({"touser": "o-page", "template_id": sandbox.tpl_cancelled,
                                  "page": page, "data": cancelled_data()})
    assert res["errcode"] == errcode


def test_unknown_openid_40003(sandbox):
    res = sandbox.subscribe_send({"touser": "o-nobody", "template_id": sandbox.tpl_cancelled,
                                  "data": cancelled_data()})
    assert res["errcode"] == 40003


def test_official_account_openid_on_subscribe_send_40003(sandbox):
    sandbox.follow("oa-openid-1")
    res = sandbox.subscribe_send({"touser": "oa-openid-1", "template_id": sandbox.tpl_cancelled,
                                  "data": cancelled_data()})
    assert res["errcode"] == 40003


def test_check_order_openid_before_template_before_page_before_data(sandbox):
    bad_all = {"touser": "o-order", "template_id": "nope", "page": "pages/nope",
               "data": {"thing1": {"value": "x" * 30}}}
    assert sandbox.subscribe_send(bad_all)["errcode"] == 40003
    sandbox.post("/users", {"openid": "o-order"})
    assert sandbox.subscribe_send(bad_all)["errcode"] == 40037
    bad_all["template_id"] = sandbox.tpl_cancelled
    assert sandbox.subscribe_send(bad_all)["errcode"] == 41030
    bad_all["page"] = "pages/interview/list"
    assert sandbox.subscribe_send(bad_all)["errcode"] == 47003
    bad_all["data"] = cancelled_data()
    assert sandbox.subscribe_send(bad_all)["errcode"] == 43101


@pytest.mark.parametrize("field, value, errcode", [
    ("miniprogram_state", "formal", 0),
    ("miniprogram_state", "trial", 0),
    ("miniprogram_state", "developer", 0),
    ("miniprogram_state", "production", 47003),
    ("lang", "en_US", 0),
    ("lang", "zh_TW", 0),
    ("lang", "fr_FR", 47003),
])
def test_miniprogram_state_and_lang(sandbox, field, value, errcode):
    sandbox.grant("o-opts")
    res = sandbox.subscribe_send({"touser": "o-opts", "template_id": sandbox.tpl_cancelled,
                                  "data": cancelled_data(), field: value})
    assert res["errcode"] == errcode
    if errcode:
        assert field in res["errmsg"]


def test_body_that_is_not_json_47001(sandbox):
    res = sandbox.post("/cgi-bin/message/subscribe/send", raw=b"<xml/>",
                       access_token=sandbox.token("mp"))
    assert res["errcode"] == 47001


def test_messages_delete_clears(sandbox):
    sandbox.grant("o-clear")
    sandbox.subscribe_send({"touser": "o-clear", "template_id": sandbox.tpl_cancelled,
                            "data": cancelled_data()})
    assert len(sandbox.messages()) == 1
    assert sandbox.delete("/messages")["errcode"] == 0
    assert sandbox.messages() == []


def test_subscription_for_unknown_template_is_refused(sandbox):
    status, res = sandbox.post_status("/subscriptions", {"openid": "o-x",
                                                         "template_id": "nope"})
    assert status == 400 and res["errcode"] == 40037
