"""templates_msg fits values to WeChat's field rules before sending."""
import re
from datetime import UTC, datetime

import pytest

from templates_msg import MESSAGE_KINDS, fields, render

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


KINDS_CTX = {"position_title": "Java后端开发工程师", "scheduled_at": "2024-03-15T14:00:00+08:00",
             "reason_label": "岗位暂停招聘", "candidate_name": "张三",
             "interview_number": "AI-2024-03-15-001", "confirm_by": "2024-03-14T14:00:00+08:00",
             "slot_starts_at": "2024-03-18T10:00:00+08:00", "comment": "",
             "cancelled": 12, "pending": 3, "failed": 1, "day": "2024-03-15",
             "day_end_at": "2024-03-15T23:59:00+08:00", "endpoint_name": "ATS",
             "endpoint_url": "https://ats.example.com/hook", "disabled_at":
             "2024-03-15T10:00:00+08:00", "consecutive_failures": 5,
             "scope": "2024年3月15日 14:00-16:00", "skipped": 1, "actor_name": "李经理",
             "cancelled_at": "2024-03-15T09:00:00+08:00",
             # staff_watchdog_alert (app.services.watchdogs.alerts)
             "alert_title": "候选人通知超时未发出", "subject": "技术部 3条候选人通知未发出",
             "detail": "最早一条已等待75分钟，超过60分钟的通知时效承诺",
             "opened_at": "2024-03-15T10:00:00+08:00",
             # staff_promise_at_risk (app.services.interviews.promises)
             "due_at": "2024-03-20T23:59:59+08:00"}
CONFIG_ALL = {**CONFIG, "WECHAT_TPL_INTERVIEW_CHANGED": "tpl-ch",
              "WECHAT_TPL_CONFIRM_REMINDER": "tpl-rem", "WECHAT_TPL_SLOT_OFFER": "tpl-offer"}


@pytest.mark.parametrize("kind", sorted(MESSAGE_KINDS))  # every kind, new ones too
def test_every_kind_renders_within_wechat_rules(kind):
    from templates_msg import MESSAGE_KINDS, render_plain

    k = MESSAGE_KINDS[kind]
    ctx = {**KINDS_CTX, "previous_scheduled_at": "2024-03-14T10:00:00+08:00"}
    for app_name in ("mp", "oa"):
        if (k.mp_template_key if app_name == "mp" else k.oa_template_key) is None:
            continue
        msg = render(kind, ctx, app=app_name, config=CONFIG_ALL, open_token="t")
        for field, value in msg.data.items():
            v = value["value"]
            assert v and "\n" not in v
            if field.startswith("thing"):
                assert len(v) <= 20, (field, v)
            if field.startswith("phrase"):
                assert len(v) <= 5
            if field.startswith("time"):
                assert re.fullmatch(r"\d{4}年\d{2}月\d{2}日 \d{2}:\d{2}", v)
    plain = render_plain(kind, ctx)
    assert plain.subject and plain.text


def test_company_cancel_follows_the_seed_wording():
    from templates_msg import render_plain

    text = render_plain("candidate_cancelled_by_company", {**KINDS_CTX, "reschedule_days": 3}).text
    assert text.startswith("尊敬的张三，因岗位暂停招聘，您原定2024年03月15日 14:00的AI面试已取消，"
                           "我们将在3个工作日内为您重新安排，感谢理解。")


def test_company_cancel_says_what_happens_next_and_whom_to_ask():
    """With 为候选人重新安排 the promise of a new slot; without it, whom to contact."""
    from templates_msg import render_plain

    ctx = {**KINDS_CTX, "actor_type": "hr", "hr_contact": "请联系招聘HR王女士 010-12345678",
           "reschedule_days": 3}
    promised = render_plain("candidate_cancelled_by_company",
                            {**ctx, "reschedule_by": "2024-03-20T23:59:59+08:00"}).text
    assert "我们将在3个工作日内为您重新安排" in promised and "010-12345678" in promised
    plain = render_plain("candidate_cancelled_by_company", ctx).text
    assert "重新安排" not in plain.replace("重新预约", "")
    assert "如需重新预约请联系招聘HR" in plain and "010-12345678" in plain
