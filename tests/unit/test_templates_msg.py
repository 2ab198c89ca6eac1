"""templates_msg fits values to WeChat's field rules before sending."""
from datetime import UTC, datetime

import pytest

from templates_msg import fields, render

CONFIG = {"WECHAT_TPL_INTERVIEW_CANCELLED": "tpl-c", "WECHAT_TPL_CANCEL_REQUEST": "tpl-r",
          "WECHAT_OA_TPL_HR_ALERT": "tpl-oa"}


@pytest.mark.parametrize("raw,expected_len", [("岗" * 20, 20), ("岗" * 21, 20), ("a" * 50, 20)])
def test_thing_is_at_most_20_characters(raw, expected_len):
    value = fields.thing(raw)
    assert len(value) == expected_len
    if len(raw) > 20:
        assert value.endswith(fields.ELLIPSIS)


def test_no_control_characters_or_newlines():
    assert fields.thing("第一行\n第二行\t\x00结束") == "第一行 第二行 结束"


def test_phrase_is_at_most_5_chinese_characters():
    assert fields.phrase("审核中请等待一下") == "审核中请等"
    assert fields.phrase("ok审核") == "审核"


def test_time_is_24h_with_date_in_shanghai():
    when = datetime(2024, 3, 15, 6, 0, tzinfo=UTC)
    assert fields.time(when) == "2024年03月15日 14:00"


def test_character_string_and_name():
    assert fields.character_string("AI-2024-03-15-001 号") == "AI-2024-03-15-001"
    assert len(fields.character_string("x" * 40)) == 32
    assert len(fields.name("欧阳" * 8)) == 10
    assert len(fields.name("a" * 30)) == 20


def test_render_candidate_cancelled_carries_open_token_and_fits_fields():
    ctx = {"position_title": "非常非常长的岗位名称用于测试二十个字符的截断规则是否生效",
           "scheduled_at": "2024-03-15T14:00:00+08:00", "reason_label": "时间冲突",
           "candidate_name": "张三", "interview_number": "AI-2024-03-15-001"}
    msg = render("candidate_cancel_confirmed", ctx, app="mp", config=CONFIG, open_token="tok")
    assert msg.template_id == "tpl-c"
    assert msg.page == "pages/message/open?t=tok"
    assert set(msg.data) == {"thing1", "time2", "thing3", "thing4"}
    assert all(len(v["value"]) <= 20 for k, v in msg.data.items() if k.startswith("thing"))
    assert msg.data["time2"]["value"] == "2024年03月15日 14:00"
    assert "张三" in msg.text and "时间冲突" in msg.text


def test_render_refuses_an_app_without_template():
    with pytest.raises(ValueError):
        render("staff_candidate_cancelled", {"scheduled_at": "2024-03-15T14:00:00+08:00"},
               app="mp", config=CONFIG, open_token=None)


def test_candidate_who_follows_the_oa_gets_the_notice_template():
    ctx = {"position_title": "Java后端开发工程师", "scheduled_at": "2024-03-15T14:00:00+08:00",
           "reason_label": "岗位暂停招聘", "candidate_name": "张三"}
    msg = render("candidate_cancel_confirmed", ctx, app="oa", config=CONFIG, open_token="t")
    assert msg.template_id == "tpl-oa"
    assert msg.data["thing1"]["value"] == "面试已取消"
    assert msg.data["thing4"]["value"] == "岗位暂停招聘"


def test_plain_text_for_sms_and_email():
    from templates_msg import render_plain

    ctx = {"position_title": "Java后端开发工程师", "scheduled_at": "2024-03-15T14:00:00+08:00",
           "reason_label": "时间冲突", "candidate_name": "张三"}
    plain = render_plain("candidate_cancel_confirmed", ctx, open_url="https://x/o?t=1")
    assert plain.subject == "面试取消通知"
    assert "尊敬的张三" in plain.text and "2024年03月15日 14:00" in plain.text
    assert plain.text.endswith("https://x/o?t=1")
    assert all(len(p) <= 12 for p in plain.sms_params)
