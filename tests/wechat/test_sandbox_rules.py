"""The sandbox's WeChat payload rules as plain functions (no app needed: fast)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from sandbox_helpers import ALL_TYPES, FIELD_CASES, VALID

from app.wechat.sandbox import rules

MP_APPID = "wxsandboxmp00000001"


@pytest.mark.parametrize("ftype, value, accepted", FIELD_CASES,
                         ids=[f"{t}-{i}" for i, (t, _, _) in enumerate(FIELD_CASES)])
def test_field_rule(ftype, value, accepted):
    assert rules.value_ok(ftype, value) is accepted


def test_every_type_has_a_rule_and_cases():
    assert set(rules.FIELD_TYPES) == set(ALL_TYPES) == set(rules.CHECKS)
    for ftype in ALL_TYPES:
        cases = [ok for t, _, ok in FIELD_CASES if t == ftype]
        assert True in cases and False in cases, ftype


@pytest.mark.parametrize("ftype", ALL_TYPES)
@pytest.mark.parametrize("bad", ["\n", "\r", "\t", "\x00", "\x1b", "\u2028"],
                         ids=["lf", "cr", "tab", "nul", "esc", "line-separator"])
def test_control_characters_invalid_in_every_type(ftype, bad):
    value = VALID[ftype]
    assert rules.value_ok(ftype, value)
    assert not rules.value_ok(ftype, value[:1] + bad + value[1:])


@pytest.mark.parametrize("ftype", ALL_TYPES)
@pytest.mark.parametrize("value", ["", None, 5, ["a"]])
def test_empty_or_non_string_values_invalid(ftype, value):
    assert not rules.value_ok(ftype, value)


def test_check_data_names_the_first_bad_field():
    fields = [SimpleNamespace(name="thing1", type="thing"),
              SimpleNamespace(name="time2", type="time")]
    good = {"thing1": {"value": "岗位"}, "time2": {"value": "14:00"}, "extra": {"value": 1}}
    assert rules.check_data(fields, good) is None
    assert rules.check_data(fields, {**good, "time2": {"value": "soon"}}) == \
        "argument invalid! data.time2.value invalid"
    assert rules.check_data(fields, {"time2": {"value": "14:00"}}) == \
        "argument invalid! data.thing1.value is empty"
    assert rules.check_data(fields, None) == "argument invalid! data invalid"


def _leaf(**over):
    return {"type": "click", "name": "菜单", "key": "K", **over}


@pytest.mark.parametrize("menu, expected", [
    ({"button": [_leaf()]}, None),
    ({"button": []}, 40016),
    ({"button": [_leaf()] * 4}, 40016),
    ({}, 40016),
    ({"button": [{"name": "父", "sub_button": [_leaf()] * 6}]}, 40023),
    ({"button": [{"name": "父", "sub_button": [_leaf()] * 5}]}, None),
    ({"button": [{"name": "父", "sub_button": []} | _leaf()]}, None),   # empty list: a leaf
    ({"button": [_leaf(name="x" * 17)]}, 40018),
    ({"button": [{"name": "x" * 17, "sub_button": [_leaf()]}]}, 40018),
    ({"button": [{"name": "父", "sub_button": [_leaf(name="子" * 20)]}]}, None),  # 60 bytes
    ({"button": [{"name": "父", "sub_button": [_leaf(name="子" * 21)]}]}, 40018),
    ({"button": [_leaf(key="k" * 129)]}, 40019),
    ({"button": [_leaf(key=None)]}, 40019),
    ({"button": [_leaf(type="unknown")]}, 40017),
    ({"button": [{"type": "view", "name": "网页", "url": "https://example.com"}]}, None),
    ({"button": [{"type": "view", "name": "网页"}]}, 40055),
    ({"button": [{"type": "miniprogram", "name": "小程序", "url": "https://example.com",
                  "appid": MP_APPID, "pagepath": "pages/interview/list"}]}, None),
    ({"button": [{"type": "miniprogram", "name": "小程序", "url": "https://example.com",
                  "appid": "wxother", "pagepath": "pages/interview/list"}]}, 40013),
])
def test_menu_rules(menu, expected):
    problem = rules.check_menu(menu, MP_APPID)
    assert (problem[0] if problem else None) == expected
