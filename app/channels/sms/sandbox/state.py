"""The SMS sandbox: messages "sent" and injected faults, kept in Redis.

`SandboxSmsProvider` (SMS_PROVIDER=sandbox) and the HTTP emulator of Tencent's API
(app.channels.sms_sandbox) share this state, so tests and the phone simulator read one
list of messages whatever path sent them, from any process.
"""
from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from app.channels.sms.base import (
    SmsResult,
    is_cn_mobile,
    mask_phone,
    normalize_phone,
    template_params,
)
from app.channels.sms.codes import result_for_code
from app.extensions import redis_store

MAX_MESSAGES = 1000           # the list keeps the newest ones
TTL_SECONDS = 7 * 86400       # forgotten sandbox state goes away
ANY_PHONE = "*"


def _key(*parts: object) -> str:
    return redis_store.key("sms-sandbox", *parts)


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def record_message(*, phone: str, template: str, params: list[str], sign_name: str | None,
                   via: str, extra: dict | None = None) -> dict:
    """Append one accepted message; returns it with its serial number and time."""
    message = {"serial_no": f"sandbox:{secrets.token_hex(10)}", "phone": phone,
               "template": template, "params": params, "sign_name": sign_name, "via": via,
               "sent_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
               **(extra or {})}
    client = redis_store.client
    pipe = client.pipeline()
    pipe.rpush(_key("messages"), _dump(message))
    pipe.ltrim(_key("messages"), -MAX_MESSAGES, -1)
    pipe.expire(_key("messages"), TTL_SECONDS)
    pipe.execute()
    return message


def list_messages(phone: str | None = None) -> list[dict]:
    """Accepted messages, oldest first; only those to `phone` when given."""
    raw = redis_store.client.lrange(_key("messages"), 0, -1)
    messages = [json.loads(item) for item in raw]
    if phone:
        wanted = normalize_phone(phone)
        messages = [m for m in messages if m["phone"] == wanted]
    return messages


def clear_messages() -> None:
    redis_store.client.delete(_key("messages"))


def set_fault(code: str, *, phone: str | None = None, message: str | None = None,
              level: str = "status", times: int | None = 1) -> dict:
    """Make the next `times` sends to `phone` (any phone when None) fail with `code`.

    level "status": the number's entry in SendStatusSet carries the code (per-number
    failures such as LimitExceeded.PhoneNumberDailyLimit); level "error": the whole
    request answers Response.Error (InternalError, RequestLimitExceeded ...).
    `times=None` keeps the fault until cleared.
    """
    if level not in ("status", "error"):
        raise ValueError("level must be 'status' or 'error'")
    target = normalize_phone(phone) if phone else ANY_PHONE
    fault = {"code": code, "message": message or code, "level": level, "phone": phone}
    client = redis_store.client
    client.set(_key("fault", target), _dump(fault), ex=TTL_SECONDS)
    if times is None:
        client.delete(_key("fault-left", target))
    else:
        client.set(_key("fault-left", target), int(times), ex=TTL_SECONDS)
    return fault


def clear_faults() -> None:
    for key in redis_store.client.scan_iter(match=_key("fault*"), count=200):
        redis_store.client.delete(key)


def take_fault(phone: str, level: str | None = None) -> dict | None:
    """The fault for this send, if any (of `level` when given), using up one of its
    `times` with an atomic DECR so that concurrent senders share the count."""
    client = redis_store.client
    for target in (phone, ANY_PHONE):
        raw = client.get(_key("fault", target))
        if raw is None:
            continue
        fault = json.loads(raw)
        if level is not None and fault["level"] != level:
            continue
        if client.exists(_key("fault-left", target)):
            if client.decr(_key("fault-left", target)) < 0:
                client.delete(_key("fault", target), _key("fault-left", target))
                continue
        return fault
    return None


class SandboxSmsProvider:
    """SMS_PROVIDER=sandbox: checks the number like Tencent, records, sends nothing."""

    def __init__(self, config=None):
        config = config or {}
        self.sign_name = config.get("TENCENT_SMS_SIGN_NAME") or "AI面试"

    def send(self, phone: str, template_code: str, params: list[str] | dict, *,
             sign_name: str | None = None) -> SmsResult:
        number = normalize_phone(phone)
        if not is_cn_mobile(number):
            return SmsResult(False, None, "InvalidParameterValue.IncorrectPhoneNumber",
                             f"手机号码格式错误（{mask_phone(number)}）", False)
        fault = take_fault(number)
        if fault is not None:
            return result_for_code(fault["code"], fault["message"])
        message = record_message(phone=number, template=template_code,
                                 params=template_params(params),
                                 sign_name=sign_name or self.sign_name, via="provider")
        return SmsResult(True, message["serial_no"], "Ok", "发送成功", False)

    # for tests and the simulator
    def messages(self, phone: str | None = None) -> list[dict]:
        return list_messages(phone)

    def clear(self) -> None:
        clear_messages()
