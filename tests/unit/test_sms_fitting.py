"""SMS template variables fit the provider's rule (12 characters each) without cutting a
fact: the time keeps its hour (it reached candidates as `2026年12月06日 `), names and
reasons stay whole, and each kind sends the facts its template names."""
from __future__ import annotations

import pytest

from app.channels.sms.base import VARIABLE_MAX_CHARS
from templates_msg import MESSAGE_KINDS, render_plain
from templates_msg.fields import TITLE_SUFFIX, sms_text, sms_time, sms_title
from templates_msg.render import SMS_DEFAULT, SMS_PARAMS

# 2026-12-06 14:00 Beijing time and the other times of a message, as the outbox stores them.
CONTEXT = {"candidate_name": "欧阳娜娜", "position_title": "Java后端开发工程师",
           "reason_label": "岗位暂停招聘", "scheduled_at": "2026-12-06T06:00:00+00:00",
           "previous_scheduled_at": "2026-12-05T01:30:00+00:00",
           "confirm_by": "2026-12-05T12:00:00+00:00",
           "slot_starts_at": "2026-12-08T02:00:00+00:00", "interview_number": "AI-2026-12-06-001",
           "comment": "", "actor_type": "hr"}
TIMES = {"scheduled_at": "12月06日14:00", "previous_scheduled_at": "12月05日09:30",
         "confirm_by": "12月05日20:00", "slot_starts_at": "12月08日10:00"}
CANDIDATE_KINDS = sorted(code for code, kind in MESSAGE_KINDS.items()
                         if kind.audience == "candidate")


@pytest.mark.parametrize("kind", CANDIDATE_KINDS)
def test_every_sms_variable_fits_and_keeps_its_fact(kind):
    params = render_plain(kind, CONTEXT).sms_params
    spec = SMS_PARAMS.get(kind, SMS_DEFAULT)
    assert len(params) == len(spec) + sum(how == "title" for _, how in spec)
    assert all(0 < len(p) <= VARIABLE_MAX_CHARS for p in params), params
    values = iter(params)
    for key, how in spec:
        if how == "title":   # two variables, written together in the template
            assert next(values) + next(values) == CONTEXT[key] + TITLE_SUFFIX, (kind, key)
            continue
        expected = TIMES[key] if how == "time" else CONTEXT[key]
        value = next(values)
        assert value == expected, (kind, key, value)


@pytest.mark.parametrize("kind", CANDIDATE_KINDS)
def test_the_time_reaches_the_sms_with_its_hour(kind):
    params = render_plain(kind, CONTEXT).sms_params
    times = [p for p in params if "月" in p and ":" in p]
    assert times, params
    assert all(p.endswith(":00") or p.endswith(":30") for p in times)


def test_the_reschedule_names_both_times_and_the_reminder_its_deadline():
    assert render_plain("candidate_rescheduled", CONTEXT).sms_params[3:] == [
        "12月05日09:30", "12月06日14:00"]
    assert render_plain("candidate_confirm_reminder", CONTEXT).sms_params[3:] == [
        "12月06日14:00", "12月05日20:00"]
    assert render_plain("candidate_slot_offer", CONTEXT).sms_params[3] == "12月08日10:00"


@pytest.mark.parametrize("title", ["高级Java后端开发工程师", "Senior Backend Dev",
                                   "资深数据平台研发工程师（大数据方向）", "Java工程师"])
def test_a_position_title_up_to_22_characters_reaches_the_sms_whole(title):
    first, second = sms_title(title)
    assert len(first) <= VARIABLE_MAX_CHARS and 0 < len(second) <= VARIABLE_MAX_CHARS
    assert second.endswith(TITLE_SUFFIX)
    assert first + second == title + TITLE_SUFFIX
    kind = "candidate_cancel_confirmed"
    params = render_plain(kind, {**CONTEXT, "position_title": title}).sms_params
    assert params[1] + params[2] == title + TITLE_SUFFIX


def test_only_a_title_past_22_characters_loses_qualifiers_then_its_end():
    assert sms_title("数据平台研发工程师（上海，社招，急聘，长期有效）") == (
        "数据平台研发工程师", "岗位")
    assert sms_title("Senior Backend Developer") == ("SeniorBacken", "dDeveloper岗位")
    first, second = sms_title("一" * 40)
    assert len(first) == len(second) == VARIABLE_MAX_CHARS and second.endswith("…岗位")


def test_a_long_title_loses_its_qualifier_before_any_of_its_words():
    assert sms_text("Java工程师（上海，社招）") == "Java工程师"
    assert sms_text("前端 开发 工程师 (急招)") == "前端 开发 工程师"
    assert sms_text("Senior Backend Dev") == "SeniorBacke…"
    assert len(sms_text("一" * 40)) == VARIABLE_MAX_CHARS


def test_empty_values_are_a_dash_the_provider_accepts():
    assert sms_text("") == "-" and sms_time(None) == "-"
    assert render_plain("candidate_cancel_requested", {**CONTEXT, "reason_label": ""}
                        ).sms_params[4] == "-"
    assert sms_title("") == ("-", TITLE_SUFFIX)
