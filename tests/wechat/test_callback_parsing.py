"""wechat_handlers.parsing: the dict handlers receive is what xmltodict gives for every
kind of message WeChat sends (handlers and wechatpy's parse_message read the same XML)."""
from __future__ import annotations

import pytest
import xmltodict
from wechat_sender import (
    event,
    subscribe_change,
    subscribe_popup,
    subscribe_sent,
    template_finished,
)

from app.wechat.sandbox.oa_inbound import inbound_xml
from wechat_handlers.parsing import UnsafeXml, dedupe_id, list_items, parse_xml

TPL = "tpl-interview-cancelled"


def _messages(app):
    with app.app_context():
        inbound = [inbound_xml("oa-u", "text", content="  驳回 AI-2026-12-03-001 时间冲突 "),
                   inbound_xml("oa-u", "click", key="PENDING"),
                   inbound_xml("oa-u", "subscribe", key="qrscene_bind:abc", ticket="t-1"),
                   inbound_xml("oa-u", "unsubscribe")]
    return inbound + [
        template_finished("oa-u", 123, "failed: system failed"),
        subscribe_sent("o-c", [(TPL, 1, 0, "success")]),
        subscribe_sent("o-c", [(TPL, 1, 0, "success"), ("tpl-b", 2, 10005, "failed")]),
        subscribe_popup("o-c", {TPL: "accept", "tpl-b": "reject"}),
        subscribe_change("o-c", {TPL: "reject"}),
        event("o-c", "VIEW", "<EventKey><![CDATA[]]></EventKey>"),
        '<?xml version="1.0" encoding="utf-8"?><xml><A>1</A><B/><C> </C></xml>',
    ]


def test_the_shape_is_xmltodicts_for_every_wechat_message(app):
    for xml in _messages(app):
        assert parse_xml(xml) == xmltodict.parse(xml)["xml"], xml
        assert parse_xml(xml.encode()) == xmltodict.parse(xml)["xml"]


def test_list_items_are_a_list_for_one_item_or_several():
    one = parse_xml(subscribe_popup("o-c", {TPL: "accept"}))
    two = parse_xml(subscribe_popup("o-c", {TPL: "accept", "tpl-b": "reject"}))
    assert [i["TemplateId"] for i in list_items(one)] == [TPL]
    assert [i["SubscribeStatusString"] for i in list_items(two)] == ["accept", "reject"]


def test_two_popup_taps_in_one_second_are_two_events_and_a_retry_is_one():
    first = parse_xml(subscribe_popup("o-c", {TPL: "accept"}, create_time=1800000000))
    again = parse_xml(subscribe_popup("o-c", {TPL: "accept"}, create_time=1800000000))
    other = parse_xml(subscribe_popup("o-c", {TPL: "reject"}, create_time=1800000000))
    assert dedupe_id(first) == dedupe_id(again) != dedupe_id(other)


@pytest.mark.parametrize("body", [
    '<!DOCTYPE xml [<!ENTITY a "b">]><xml><A>&a;</A></xml>',
    "<xml><!-- comment --><A>1</A></xml>",
    '<xml><A>1</A></xml><!ENTITY x "y">',
    "<other><A>1</A></other>", "<xml>text</xml>", "<xml></xml>", "<xml><A>", "", "\xff",
])
def test_anything_else_is_refused(body):
    with pytest.raises(UnsafeXml):
        parse_xml(body)
