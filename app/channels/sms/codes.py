"""Tencent SMS result codes: what they mean for HR (Chinese) and whether to retry.

Retryable: throttling and provider-side trouble, which go away by themselves.
Final: a bad number, template, signature, balance or credentials, which need a person.
"""
from __future__ import annotations

from app.channels.sms.base import SmsResult

OK = "Ok"
# Codes this module produces itself (no answer from the provider).
NETWORK_ERROR = "NetworkError"
BAD_RESPONSE = "BadResponse"
TEMPLATE_NOT_CONFIGURED = "TemplateNotConfigured"

EXPLANATIONS = {
    OK: "发送成功",
    "InvalidParameterValue.IncorrectPhoneNumber": "手机号码格式错误",
    "FailedOperation.PhoneNumberInBlacklist": "该手机号已退订短信",
    "FailedOperation.InsufficientBalanceInSmsPackage": "短信套餐包余量不足，请管理员充值",
    "FailedOperation.TemplateIncorrectOrUnapproved":
        "短信模板不存在或未审核通过，请管理员检查模板配置",
    "FailedOperation.SignatureIncorrectOrUnapproved":
        "短信签名不存在或未审核通过，请管理员检查签名配置",
    "FailedOperation.JsonParseFail": "短信请求格式错误",
    "InvalidParameterValue.TemplateParameterFormatError": "短信模板参数格式错误",
    "InvalidParameterValue.TemplateParameterLengthLimit": "短信模板参数超出长度限制",
    "InvalidParameterValue.SdkAppIdNotExist": "短信应用SdkAppId不存在，请管理员检查配置",
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail": "短信应用SdkAppId校验失败，请管理员检查配置",
    "LimitExceeded.PhoneNumberCountLimit": "单次发送的手机号数量超出上限",
    "LimitExceeded.PhoneNumberDailyLimit": "该手机号今日接收短信已达上限",
    "LimitExceeded.PhoneNumberOneHourLimit": "该手机号1小时内接收短信已达上限",
    "LimitExceeded.PhoneNumberThirtySecondLimit": "该手机号30秒内接收短信过于频繁",
    "LimitExceeded.PhoneNumberSameContentDailyLimit": "该手机号今日接收相同内容短信已达上限",
    "LimitExceeded.DeliveryFrequencyLimit": "短信下发频率超限",
    "LimitExceeded.AppDailyLimit": "短信应用今日发送量已达上限",
    "RequestLimitExceeded": "短信接口调用过于频繁",
    "InternalError": "短信服务内部错误",
    "AuthFailure.SignatureFailure": "短信服务签名校验失败，请管理员检查密钥配置",
    "AuthFailure.SecretIdNotFound": "短信服务密钥不存在，请管理员检查密钥配置",
    "AuthFailure.InvalidAuthorization": "短信服务认证信息格式错误",
    "AuthFailure.SignatureExpire": "服务器时间与短信服务相差过大，请检查服务器时钟",
    NETWORK_ERROR: "短信服务不可达",
    BAD_RESPONSE: "短信服务返回了无法识别的应答",
    TEMPLATE_NOT_CONFIGURED: "未配置该消息的短信模板，请管理员检查短信模板配置",
}

# Prefixes of transient codes (Tencent's error classes: InternalError.*, LimitExceeded.* ...).
_RETRYABLE_PREFIXES = ("InternalError", "RequestLimitExceeded", "LimitExceeded",
                       "ResourceUnavailable", NETWORK_ERROR, BAD_RESPONSE)
# Exceptions to those prefixes: asking again the same way cannot succeed.
_FINAL_CODES = {"LimitExceeded.PhoneNumberCountLimit"}
# The host clock is off: fixed by NTP, not by the message, so keep the message.
_RETRYABLE_CODES = {"AuthFailure.SignatureExpire"}

# Codes best retried on the next day (the provider counts per calendar day).
NEXT_DAY_CODES = frozenset({"LimitExceeded.PhoneNumberDailyLimit",
                            "LimitExceeded.PhoneNumberSameContentDailyLimit",
                            "LimitExceeded.AppDailyLimit"})


def is_retryable(code: str) -> bool:
    if code in _FINAL_CODES:
        return False
    if code in _RETRYABLE_CODES:
        return True
    return code.split(".", 1)[0] in _RETRYABLE_PREFIXES


def explain(code: str) -> str:
    """Chinese explanation of a code, falling back on its class."""
    if code in EXPLANATIONS:
        return EXPLANATIONS[code]
    head = code.split(".", 1)[0]
    if head in EXPLANATIONS:
        return EXPLANATIONS[head]
    if head == "LimitExceeded":
        return "短信发送频率超限"
    if head == "AuthFailure":
        return "短信服务认证失败，请管理员检查密钥配置"
    return "短信服务拒绝了该消息"


def result_for_code(code: str, provider_message: str | None = None) -> SmsResult:
    """A failed SmsResult for `code`: HR-readable message (the Chinese explanation, then
    the provider's own words when they add something), retryable per the rules above."""
    text = explain(code)
    if provider_message and provider_message != code:
        text = f"{text}：{provider_message}"
    return SmsResult(False, None, code, text, is_retryable(code))
