"""SandboxSmsProvider on each backend's Redis (the `app` fixture), plus the pure helpers."""
from __future__ import annotations

import pytest

from app.channels.sms import (
    SandboxSmsProvider,
    explain,
    is_retryable,
    normalize_phone,
    sms_provider_from_config,
    template_params,
)
from app.channels.sms.sandbox import state as sms_state


@pytest.fixture
def ctx(app):
    """The dispatcher sends inside the app context; so do these tests."""
    with app.app_context():
        yield app


def test_records_messages_in_redis(ctx):
    app = ctx
    provider = sms_provider_from_config(app.config)
    assert isinstance(provider, SandboxSmsProvider)
    result = provider.send("13800138000", "candidate_cancel_confirmed", ["张三", "明天"],
                           sign_name="AI面试")
    assert result.ok and result.code == "Ok" and result.provider_msgid
    provider.send("13900000000", "hr_cancel_alert", {"1": "李四"})
    # another provider object (another process, in production) sees the same list
    other = SandboxSmsProvider(app.config)
    assert [m["phone"] for m in other.messages()] == ["+8613800138000", "+8613900000000"]
    [first] = other.messages("138 0013 8000")
    assert first == {**first, "template": "candidate_cancel_confirmed",
                     "params": ["张三", "明天"], "sign_name": "AI面试", "via": "provider",
                     "serial_no": result.provider_msgid}
    from app.extensions import redis_store

    assert redis_store.client.exists(redis_store.key("sms-sandbox", "messages"))
    other.clear()
    assert provider.messages() == []


def test_rejects_bad_numbers_like_tencent(ctx, app):
    result = SandboxSmsProvider(app.config).send("10086", "candidate_cancel_confirmed", [])
    assert (result.ok, result.code, result.retryable) == \
        (False, "InvalidParameterValue.IncorrectPhoneNumber", False)
    assert sms_state.list_messages() == []


def test_faults_apply_to_the_sandbox_provider(ctx, app):
    provider = SandboxSmsProvider(app.config)
    sms_state.set_fault("LimitExceeded.PhoneNumberDailyLimit", phone="13800138000", times=2)
    sms_state.set_fault("FailedOperation.InsufficientBalanceInSmsPackage", times=1)
    daily = [provider.send("13800138000", "k", []) for _ in range(2)]
    assert all(not r.ok and r.retryable for r in daily)
    assert "今日接收短信已达上限" in daily[0].message
    balance = provider.send("13800138000", "k", [])  # phone fault used up: the global one
    assert (balance.ok, balance.retryable) == (False, False)
    assert "余量不足" in balance.message
    assert provider.send("13800138000", "k", []).ok
    sms_state.set_fault("InternalError", times=None)
    assert not provider.send("13900000000", "k", []).ok
    sms_state.clear_faults()
    assert provider.send("13900000000", "k", []).ok


@pytest.mark.parametrize("raw,expected", [
    ("13800138000", "+8613800138000"),
    ("138 0013 8000", "+8613800138000"),
    ("138-0013-8000", "+8613800138000"),
    ("8613800138000", "+8613800138000"),
    ("008613800138000", "+8613800138000"),
    ("+86 138 0013 8000", "+8613800138000"),
    ("+14155550100", "+14155550100"),
    ("12345", "12345"),
])
def test_normalize_phone(raw, expected):
    assert normalize_phone(raw) == expected


def test_template_params_order():
    assert template_params(["a", 1]) == ["a", "1"]
    assert template_params({"2": "b", "1": "a", "10": "j"}) == ["a", "b", "j"]
    assert template_params({"name": "张三", "time": "10:00"}) == ["张三", "10:00"]
    assert template_params(None) == []


@pytest.mark.parametrize("code,retryable", [
    ("InternalError.Timeout", True),
    ("InternalError.SendAndRecvFail", True),
    ("RequestLimitExceeded", True),
    ("LimitExceeded.PhoneNumberOneHourLimit", True),
    ("LimitExceeded.PhoneNumberCountLimit", False),
    ("AuthFailure.SignatureExpire", True),
    ("AuthFailure.SignatureFailure", False),
    ("InvalidParameterValue.IncorrectPhoneNumber", False),
    ("FailedOperation.TemplateIncorrectOrUnapproved", False),
    ("FailedOperation.InsufficientBalanceInSmsPackage", False),
    ("UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber", False),
    ("SomethingNew", False),
])
def test_retry_classification(code, retryable):
    assert is_retryable(code) is retryable
    assert explain(code)  # always a Chinese explanation
