"""Sandbox Official Account APIs: template messages and the custom menu."""
from __future__ import annotations

import pytest
from sandbox_helpers import hr_alert_data


def _alert(sandbox, touser="oa-hr", **extra):
    return {"touser": touser, "template_id": sandbox.tpl_hr_alert, "data": hr_alert_data(),
            **extra}


def test_template_send_to_follower_is_recorded(sandbox):
    sandbox.follow("oa-hr")
    mini = {"appid": sandbox.mp_appid, "pagepath": "pages/interview/detail?id=7"}
    res = sandbox.template_send(_alert(sandbox, miniprogram=mini,
                                       url="https://example.com/console/m/7"))
    assert res["errcode"] == 0 and isinstance(res["msgid"], int)
    [item] = sandbox.messages("oa-hr")
    assert item["api"] == "template_send" and item["msgid"] == res["msgid"]
    assert item["template_id"] == sandbox.tpl_hr_alert
    assert item["page"] == "pages/interview/detail?id=7"
    assert item["miniprogram"] == mini and item["url"] == "https://example.com/console/m/7"


def test_template_send_page_is_the_url_without_miniprogram(sandbox):
    sandbox.follow("oa-hr")
    sandbox.template_send(_alert(sandbox, url="https://example.com/console/m/1"))
    assert sandbox.messages("oa-hr")[0]["page"] == "https://example.com/console/m/1"


def test_template_send_to_non_follower_43004(sandbox):
    assert sandbox.template_send(_alert(sandbox, "oa-stranger"))["errcode"] == 43004


def test_template_send_after_unfollow_43004(sandbox):
    sandbox.follow("oa-gone")
    assert sandbox.template_send(_alert(sandbox, "oa-gone"))["errcode"] == 0
    sandbox.delete("/followers", openid="oa-gone")
    assert sandbox.template_send(_alert(sandbox, "oa-gone"))["errcode"] == 43004


def test_template_send_to_mini_program_openid_40003(sandbox):
    sandbox.post("/users", {"openid": "mp-user-1"})
    assert sandbox.template_send(_alert(sandbox, "mp-user-1"))["errcode"] == 40003


def test_template_send_unknown_template_40037(sandbox):
    sandbox.follow("oa-hr")
    body = _alert(sandbox, template_id=sandbox.tpl_cancelled)  # a mini-program template
    assert sandbox.template_send(body)["errcode"] == 40037


def test_template_send_field_rules_47003(sandbox):
    sandbox.follow("oa-hr")
    body = _alert(sandbox)
    body["data"]["thing2"]["value"] = "候" * 21
    res = sandbox.template_send(body)
    assert res == {"errcode": 47003, "errmsg": "argument invalid! data.thing2.value invalid"}


@pytest.mark.parametrize("mini, errcode", [
    ({"appid": "wxother", "pagepath": "pages/interview/list"}, 40013),
    ({"appid": None, "pagepath": "pages/interview/list"}, 40013),
    ({"pagepath": "pages/not/released"}, 40165),
])
def test_template_send_miniprogram_target(sandbox, mini, errcode):
    sandbox.follow("oa-hr")
    if "appid" not in mini:
        mini = {**mini, "appid": sandbox.mp_appid}
    assert sandbox.template_send(_alert(sandbox, miniprogram=mini))["errcode"] == errcode


def test_client_msg_id_dedupes_for_ten_minutes(sandbox):
    sandbox.follow("oa-hr")
    first = sandbox.template_send(_alert(sandbox, client_msg_id="outbox-1"))
    assert first["errcode"] == 0
    sandbox.advance(599)
    again = sandbox.template_send(_alert(sandbox, client_msg_id="outbox-1"))
    assert again == {"errcode": 0, "errmsg": "ok", "msgid": first["msgid"]}
    assert len(sandbox.messages("oa-hr")) == 1
    other = sandbox.template_send(_alert(sandbox, client_msg_id="outbox-2"))
    assert other["msgid"] != first["msgid"]
    sandbox.advance(2)
    later = sandbox.template_send(_alert(sandbox, client_msg_id="outbox-1"))
    assert later["errcode"] == 0 and later["msgid"] != first["msgid"]
    assert len(sandbox.messages("oa-hr")) == 3


def test_client_msg_id_is_per_user(sandbox):
    sandbox.follow("oa-a")
    sandbox.follow("oa-b")
    a = sandbox.template_send(_alert(sandbox, "oa-a", client_msg_id="same"))
    b = sandbox.template_send(_alert(sandbox, "oa-b", client_msg_id="same"))
    assert a["msgid"] != b["msgid"]
    assert len(sandbox.messages()) == 2


def test_template_send_needs_no_subscription_credit(sandbox):
    sandbox.follow("oa-hr")
    for _ in range(3):
        assert sandbox.template_send(_alert(sandbox))["errcode"] == 0


# --- menu -----------------------------------------------------------------------------

def _menu(sandbox, menu):
    return sandbox.post("/cgi-bin/menu/create", menu, access_token=sandbox.token("oa"))


def _click(name="待审批", key="PENDING"):
    return {"type": "click", "name": name, "key": key}


def test_menu_create_stores_the_menu(sandbox):
    menu = {"button": [
        _click(),
        {"name": "工作台", "sub_button": [
            {"type": "view", "name": "候选人列表", "url": "https://example.com/console/m/"},
            {"type": "miniprogram", "name": "小程序", "url": "https://example.com",
             "appid": sandbox.mp_appid, "pagepath": "pages/interview/list"}]},
    ]}
    assert _menu(sandbox, menu) == {"errcode": 0, "errmsg": "ok"}
    assert sandbox.get("/menu")["menu"] == menu
    assert sandbox.get("/cgi-bin/menu/get", access_token=sandbox.token("oa"))["menu"] == menu


def test_menu_get_without_menu_46003(sandbox):
    assert sandbox.get("/cgi-bin/menu/get", access_token=sandbox.token("oa"))["errcode"] == 46003
    assert sandbox.get("/menu")["menu"] is None


@pytest.mark.parametrize("buttons", [[], [_click(key=f"K{i}") for i in range(4)]],
                         ids=["none", "four"])
def test_menu_top_level_button_count_40016(sandbox, buttons):
    assert _menu(sandbox, {"button": buttons})["errcode"] == 40016


def test_menu_sub_button_count_40023(sandbox):
    subs = [_click(key=f"K{i}") for i in range(6)]
    assert _menu(sandbox, {"button": [{"name": "更多", "sub_button": subs}]})["errcode"] == 40023
    ok = {"button": [{"name": "更多", "sub_button": subs[:5]}]}
    assert _menu(sandbox, ok)["errcode"] == 0


@pytest.mark.parametrize("name, errcode", [
    ("一二三四五", 0),        # 15 bytes
    ("一二三四五a", 0),       # 16 bytes
    ("一二三四五六", 40018),   # 18 bytes
    ("a" * 17, 40018),
    ("", 40018),
])
def test_menu_name_at_most_16_bytes_40018(sandbox, name, errcode):
    assert _menu(sandbox, {"button": [_click(name=name)]})["errcode"] == errcode


def test_menu_parent_name_limit_40018(sandbox):
    menu = {"button": [{"name": "一二三四五六", "sub_button": [_click()]}]}
    assert _menu(sandbox, menu)["errcode"] == 40018


@pytest.mark.parametrize("key, errcode", [("k" * 128, 0), ("k" * 129, 40019), (None, 40019)])
def test_menu_key_at_most_128_bytes_40019(sandbox, key, errcode):
    button = {"type": "click", "name": "待审批"}
    if key is not None:
        button["key"] = key
    assert _menu(sandbox, {"button": [button]})["errcode"] == errcode


def test_menu_button_type_40017(sandbox):
    res = _menu(sandbox, {"button": [{"type": "teleport", "name": "x", "key": "X"}]})
    assert res["errcode"] == 40017


def test_menu_view_needs_url(sandbox):
    assert _menu(sandbox, {"button": [{"type": "view", "name": "x"}]})["errcode"] == 40055


def test_menu_create_needs_the_official_account_token(sandbox):
    res = sandbox.post("/cgi-bin/menu/create", {"button": [_click()]},
                       access_token=sandbox.token("mp"))
    assert res["errcode"] == 40001
