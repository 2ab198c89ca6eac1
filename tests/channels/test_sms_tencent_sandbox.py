"""The Tencent adapter against the sandbox emulator, over real HTTP on 127.0.0.1."""
from __future__ import annotations

import json
import threading
import time

import pytest
import requests
from channel_servers import SDK_APP_ID, SECRET_ID, SECRET_KEY, free_port
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from app.channels.sms import (
    SandboxSmsProvider,
    SmsConfigError,
    TencentSmsProvider,
    sms_provider_from_config,
    tc3,
)
from app.channels.sms.tencent import CONTENT_TYPE


def provider(server, **overrides) -> TencentSmsProvider:
    return TencentSmsProvider.from_config(server.config(**overrides))


def test_send_ok_is_recorded(sms_sandbox_server):
    result = provider(sms_sandbox_server).send(
        "13800138000", "candidate_cancel_confirmed", ["张三", "3月15日 10:00"])
    assert result.ok and result.code == "Ok" and not result.retryable
    assert result.provider_msgid.startswith("sandbox:")
    [message] = sms_sandbox_server.messages("+8613800138000")
    assert message["serial_no"] == result.provider_msgid
    assert message["template"] == "1001001"
    assert message["params"] == ["张三", "3月15日 10:00"]
    assert message["sign_name"] == "AI面试"
    assert message["sdk_app_id"] == SDK_APP_ID and message["via"] == "tencent-api"


def test_dict_params_and_explicit_sign_name(sms_sandbox_server):
    result = provider(sms_sandbox_server).send("+86 139-0000-0000", "hr_cancel_alert",
                                               {"2": "第二", "1": "第一", "10": "第十"},
                                               sign_name="招聘中心")
    assert result.ok
    [message] = sms_sandbox_server.messages("13900000000")
    assert message["params"] == ["第一", "第二", "第十"]
    assert message["sign_name"] == "招聘中心"


def test_wrong_secret_key_is_refused_by_signature_check(sms_sandbox_server):
    result = provider(sms_sandbox_server, TENCENT_SECRET_KEY="not-the-key").send(
        "13800138000", "candidate_cancel_confirmed", ["张三"])
    assert not result.ok and not result.retryable
    assert result.code == "AuthFailure.SignatureFailure"
    assert "签名校验失败" in result.message
    assert sms_sandbox_server.messages() == []


def test_unknown_secret_id(sms_sandbox_server):
    result = provider(sms_sandbox_server, TENCENT_SECRET_ID="AKIDnobody").send(
        "13800138000", "candidate_cancel_confirmed", [])
    assert (result.ok, result.code, result.retryable) == \
        (False, "AuthFailure.SecretIdNotFound", False)


@pytest.mark.parametrize("skew", [-301, 400])
def test_timestamp_skew_over_300s_expires(sms_sandbox_server, skew):
    p = TencentSmsProvider(secret_id=SECRET_ID, secret_key=SECRET_KEY, sdk_app_id=SDK_APP_ID,
                           sign_name="AI面试", endpoint=sms_sandbox_server.endpoint,
                           clock=lambda: time.time() + skew)
    result = p.send("13800138000", "1001001", ["x"])
    assert result.code == "AuthFailure.SignatureExpire"
    assert not result.ok and result.retryable  # the host clock, not the message, is wrong


def _raw_call(server, body: bytes, sign_body: bytes | None = None, **header_overrides):
    ts = int(time.time())
    host = server.endpoint.split("//", 1)[1].split("/", 1)[0]
    signed = {"Content-Type": CONTENT_TYPE, "Host": host, "X-TC-Action": "SendSms"}
    headers = {**signed, "X-TC-Timestamp": str(ts), "X-TC-Version": "2021-01-11",
               "X-TC-Region": "ap-guangzhou",
               "Authorization": tc3.authorization(SECRET_ID, SECRET_KEY, service="sms",
                                                  timestamp=ts, headers=signed,
                                                  payload=sign_body or body)}
    headers.update(header_overrides)
    return requests.post(server.endpoint + "/", data=body, headers=headers, timeout=5).json()


def _body(**fields) -> bytes:
    body = {"PhoneNumberSet": ["+8613800138000"], "SmsSdkAppId": SDK_APP_ID,
            "SignName": "AI面试", "TemplateId": "1001001", "TemplateParamSet": ["a"], **fields}
    return json.dumps(body, ensure_ascii=False).encode()


def test_sandbox_accepts_correct_raw_request_and_rejects_tampering(sms_sandbox_server):
    ok = _raw_call(sms_sandbox_server, _body())
    assert ok["Response"]["SendStatusSet"][0]["Code"] == "Ok"
    assert ok["Response"]["RequestId"]
    # body changed after signing
    tampered = _raw_call(sms_sandbox_server, _body(PhoneNumberSet=["+8613900000000"]),
                         sign_body=_body())
    assert tampered["Response"]["Error"]["Code"] == "AuthFailure.SignatureFailure"
    # a signed header changed after signing
    other_action = _raw_call(sms_sandbox_server, _body(), **{"X-TC-Action": "SendSmsX"})
    assert other_action["Response"]["Error"]["Code"] == "AuthFailure.SignatureFailure"
    missing = _raw_call(sms_sandbox_server, _body(), Authorization="TC3-HMAC-SHA256 junk")
    assert missing["Response"]["Error"]["Code"] == "AuthFailure.InvalidAuthorization"
    assert len(sms_sandbox_server.messages()) == 1


@pytest.mark.parametrize("header,value,code", [
    ("X-TC-Version", "2019-07-11", "NoSuchVersion"),
    ("X-TC-Region", "mars-1", "UnsupportedRegion"),
])
def test_sandbox_checks_common_parameters(sms_sandbox_server, header, value, code):
    assert _raw_call(sms_sandbox_server, _body(), **{header: value})["Response"]["Error"][
        "Code"] == code


@pytest.mark.parametrize("fields,code", [
    ({"SmsSdkAppId": "1400999999"}, "InvalidParameterValue.SdkAppIdNotExist"),
    ({"TemplateId": "abc"}, "FailedOperation.TemplateIncorrectOrUnapproved"),
    ({"SignName": ""}, "FailedOperation.SignatureIncorrectOrUnapproved"),
    ({"TemplateParamSet": [1]}, "InvalidParameterValue.TemplateParameterFormatError"),
    ({"PhoneNumberSet": []}, "MissingParameter"),
])
def test_sandbox_checks_send_sms_parameters(sms_sandbox_server, fields, code):
    assert _raw_call(sms_sandbox_server, _body(**fields))["Response"]["Error"]["Code"] == code


@pytest.mark.parametrize("phone", ["12345", "+861380013800", "+8612800138000", "+14155550100",
                                   "138001380001"])
def test_bad_phone_number_is_final(sms_sandbox_server, phone):
    result = provider(sms_sandbox_server).send(phone, "candidate_cancel_confirmed", ["x"])
    assert (result.ok, result.code, result.retryable) == \
        (False, "InvalidParameterValue.IncorrectPhoneNumber", False)
    assert "手机号码格式错误" in result.message
    assert sms_sandbox_server.messages() == []


@pytest.mark.parametrize("code,level,retryable", [
    ("LimitExceeded.PhoneNumberDailyLimit", "status", True),
    ("LimitExceeded.PhoneNumberThirtySecondLimit", "status", True),
    ("FailedOperation.InsufficientBalanceInSmsPackage", "status", False),
    ("FailedOperation.PhoneNumberInBlacklist", "status", False),
    ("InternalError.Timeout", "status", True),
    ("InternalError", "error", True),
    ("RequestLimitExceeded", "error", True),
])
def test_provider_failures_are_classified(sms_sandbox_server, code, level, retryable):
    sms_sandbox_server.fault(code=code, level=level, phone="13800138000", times=1)
    p = provider(sms_sandbox_server)
    failed = p.send("13800138000", "candidate_cancel_confirmed", ["x"])
    assert (failed.ok, failed.code, failed.retryable) == (False, code, retryable)
    assert failed.provider_msgid is None
    # the fault was used up: the next send goes through
    assert p.send("13800138000", "candidate_cancel_confirmed", ["x"]).ok
    assert len(sms_sandbox_server.messages()) == 1


def test_fault_for_one_number_leaves_others_alone(sms_sandbox_server):
    sms_sandbox_server.fault(code="FailedOperation.InsufficientBalanceInSmsPackage",
                             phone="13800138000", times=None)
    p = provider(sms_sandbox_server)
    assert p.send("13900000000", "candidate_cancel_confirmed", []).ok
    for _ in range(2):
        assert not p.send("13800138000", "candidate_cancel_confirmed", []).ok
    assert requests.delete(sms_sandbox_server.endpoint + "/faults", timeout=5).ok
    assert p.send("13800138000", "candidate_cancel_confirmed", []).ok


def test_unconfigured_template_fails_without_calling(sms_sandbox_server):
    result = provider(sms_sandbox_server).send("13800138000", "no_such_kind", [])
    assert (result.ok, result.code, result.retryable) == (False, "TemplateNotConfigured", False)
    assert "短信模板" in result.message


def test_unreachable_endpoint_is_retryable():
    p = TencentSmsProvider(secret_id=SECRET_ID, secret_key=SECRET_KEY, sdk_app_id=SDK_APP_ID,
                           sign_name="AI面试", endpoint=f"http://127.0.0.1:{free_port()}",
                           timeout=2)
    result = p.send("13800138000", "1001001", [])
    assert (result.ok, result.code, result.retryable) == (False, "NetworkError", True)


def test_http_error_is_retryable(sms_sandbox_server):
    p = provider(sms_sandbox_server, TENCENT_SMS_ENDPOINT=sms_sandbox_server.base + "/nowhere")
    result = p.send("13800138000", "candidate_cancel_confirmed", [])
    assert (result.ok, result.code, result.retryable) == (False, "NetworkError", True)


@pytest.mark.parametrize("answer", [b"<html>gateway</html>", b'{"Error": "no Response"}',
                                   b'{"Response": {"SendStatusSet": []}}'])
def test_unrecognised_answer_is_retryable(answer):
    app = Response(answer, content_type="application/json")
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        p = TencentSmsProvider(secret_id=SECRET_ID, secret_key=SECRET_KEY,
                               sdk_app_id=SDK_APP_ID, sign_name="AI面试",
                               endpoint=f"http://127.0.0.1:{server.port}")
        result = p.send("13800138000", "1001001", [])
    finally:
        server.shutdown()
        server.server_close()
    assert (result.ok, result.code, result.retryable) == (False, "BadResponse", True)


# --- choosing the provider ------------------------------------------------------------

def test_provider_from_config(sms_sandbox_server):
    cfg = sms_sandbox_server.config()
    assert isinstance(sms_provider_from_config(cfg), TencentSmsProvider)
    assert isinstance(sms_provider_from_config({"ENV_NAME": "testing"}), SandboxSmsProvider)
    assert isinstance(sms_provider_from_config({"ENV_NAME": "development"}), SandboxSmsProvider)
    assert sms_provider_from_config({"SMS_PROVIDER": "disabled"}) is None
    with pytest.raises(SmsConfigError, match="TENCENT_SECRET_ID"):
        sms_provider_from_config({"ENV_NAME": "production"})
    with pytest.raises(SmsConfigError, match="not allowed in production"):
        sms_provider_from_config({"ENV_NAME": "production", "SMS_PROVIDER": "sandbox"})
    with pytest.raises(SmsConfigError, match="SMS_PROVIDER"):
        sms_provider_from_config({"SMS_PROVIDER": "carrier-pigeon"})


def test_templates_from_a_json_string(sms_sandbox_server):
    cfg = sms_sandbox_server.config(TENCENT_SMS_TEMPLATES='{"candidate_rescheduled": 1001003}')
    p = sms_provider_from_config(cfg)
    assert p.template_id("candidate_rescheduled") == "1001003"
    assert p.send("13800138000", "candidate_rescheduled", ["x"]).ok
    assert sms_sandbox_server.messages()[0]["template"] == "1001003"
    for bad in ("not json", "[1, 2]"):
        with pytest.raises(SmsConfigError, match="TENCENT_SMS_TEMPLATES"):
            sms_provider_from_config(sms_sandbox_server.config(TENCENT_SMS_TEMPLATES=bad))
