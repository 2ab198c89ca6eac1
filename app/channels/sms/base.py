"""What every SMS provider returns and promises, plus phone-number normalisation."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

# Tencent Cloud SMS: at most this many characters per template variable (an individually
# verified account; enterprise accounts have no cap, so fitting to it is safe for both).
# templates_msg.fields fits every variable to it; the sandbox refuses longer ones as
# Tencent does (InvalidParameterValue.TemplateParameterLengthLimit).
VARIABLE_MAX_CHARS = 12

CN_MOBILE_RE = re.compile(r"^\+861[3-9]\d{9}$")
_SEPARATORS_RE = re.compile(r"[\s\-()]")


@dataclass(frozen=True)
class SmsResult:
    """Outcome of one send: `message` is a Chinese explanation HR can read."""

    ok: bool
    provider_msgid: str | None
    code: str
    message: str
    retryable: bool


class SmsProvider(Protocol):
    """Sends one templated SMS; never raises for provider or network errors."""

    def send(self, phone: str, template_code: str, params: list[str] | dict, *,
             sign_name: str | None = None) -> SmsResult: ...


class SmsConfigError(RuntimeError):
    """The SMS configuration cannot work (unknown provider, missing credentials)."""


def normalize_phone(phone: str) -> str:
    """E.164 for mainland mobiles ("13800138000" -> "+8613800138000"); others cleaned only.

    Numbers that are not mainland mobiles are returned without separators so that the
    provider, not this function, decides whether it can reach them.
    """
    cleaned = _SEPARATORS_RE.sub("", phone or "")
    if cleaned.startswith("0086"):
        cleaned = "+86" + cleaned[4:]
    elif cleaned.startswith("86") and len(cleaned) == 13:
        cleaned = "+" + cleaned
    elif re.fullmatch(r"1\d{10}", cleaned):
        cleaned = "+86" + cleaned
    return cleaned


def is_cn_mobile(phone: str) -> bool:
    """True for "+86" followed by an 11-digit mainland mobile number (1[3-9]xxxxxxxxx)."""
    return bool(CN_MOBILE_RE.fullmatch(phone))


def template_params(params: list[str] | tuple | dict | None) -> list[str]:
    """Positional template parameters as strings.

    Tencent templates are positional ({1}, {2}, ...). A dict is ordered by its keys when
    they are all numbers ({"1": .., "2": ..}), otherwise by insertion order.
    """
    if params is None:
        return []
    if isinstance(params, dict):
        keys = list(params)
        if keys and all(str(k).isdigit() for k in keys):
            keys.sort(key=lambda k: int(k))
        return [str(params[k]) for k in keys]
    return [str(p) for p in params]


def mask_phone(phone: str) -> str:
    """For logs: keep the country code, the first 3 and the last 4 digits."""
    if len(phone) < 8:
        return "***"
    return phone[:-8] + "****" + phone[-4:]
