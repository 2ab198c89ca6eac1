"""SMS channel: one `SmsProvider` interface, a Redis-backed sandbox and Tencent Cloud SMS.

    provider = sms_provider_from_config(current_app.config)
    result = provider.send("13800138000", "candidate_cancel_confirmed", ["张三", "3月15日"])
    if not result.ok: ...  # result.retryable says whether a later attempt can succeed
"""
from __future__ import annotations

from app.channels.sms.base import (
    SmsConfigError,
    SmsProvider,
    SmsResult,
    is_cn_mobile,
    normalize_phone,
    template_params,
)
from app.channels.sms.codes import NEXT_DAY_CODES, explain, is_retryable
from app.channels.sms.sandbox.state import SandboxSmsProvider
from app.channels.sms.tencent import TencentSmsProvider

__all__ = ["NEXT_DAY_CODES", "SandboxSmsProvider", "SmsConfigError", "SmsProvider",
           "SmsResult", "TencentSmsProvider", "explain", "is_cn_mobile", "is_retryable",
           "normalize_phone", "sms_provider_from_config", "template_params"]

PROVIDERS = ("sandbox", "tencent", "disabled")


def sms_provider_from_config(config) -> SmsProvider | None:
    """The provider SMS_PROVIDER names: "sandbox" (default in development and testing),
    "tencent" (default in production) or "disabled" (None: no SMS channel).

    Production never uses the sandbox: it would drop messages while reporting success.
    """
    env = config.get("ENV_NAME") or ("testing" if config.get("TESTING") else "production")
    default = "sandbox" if env in ("development", "testing") else "tencent"
    name = (config.get("SMS_PROVIDER") or default).strip().lower()
    if name not in PROVIDERS:
        raise SmsConfigError(f"SMS_PROVIDER must be one of {', '.join(PROVIDERS)}, not {name!r}")
    if name == "disabled":
        return None
    if name == "sandbox":
        if env == "production":
            raise SmsConfigError("SMS_PROVIDER=sandbox is not allowed in production")
        return SandboxSmsProvider(config)
    return TencentSmsProvider.from_config(config)
