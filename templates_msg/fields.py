"""Fit values to WeChat's subscribe/template message field rules (WECHAT.md), so WeChat
never answers 47003 because of us; and to the SMS provider's variable rule (sms_* below:
Tencent Cloud SMS takes at most 12 characters per template variable on an individually
verified account), so no fact of an SMS is cut.

Trap: the WeChat `time` form (2026年12月06日 14:00) is 17 characters: cut to 12 it lost
the hour (`2026年12月06日 `). SMS variables carry the short form 12月06日14:00 instead.
"""
from __future__ import annotations

import re
from datetime import datetime

from app.channels.sms.base import VARIABLE_MAX_CHARS
from app.core.timeutil import cn_datetime, local

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
ELLIPSIS = "…"


def clean(value: object) -> str:
    """No control characters or newlines in any value; collapse whitespace."""
    text = _CONTROL.sub(" ", str(value if value is not None else ""))
    return re.sub(r"\s+", " ", text).strip()


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def thing(value: object) -> str:
    """thing: at most 20 characters (cut with an ellipsis); never empty."""
    return _cut(clean(value), 20) or "无"


def phrase(value: object) -> str:
    """phrase: at most 5 Chinese characters."""
    text = "".join(_CJK.findall(clean(value)))
    return text[:5] or "无"


def time(value: datetime) -> str:
    """time: 24h time with date, e.g. 2024年03月15日 14:00 (Asia/Shanghai)."""
    return cn_datetime(value)


def character_string(value: object) -> str:
    """character_string: at most 32 digits, letters or symbols (no CJK, no spaces)."""
    text = re.sub(r"[^0-9A-Za-z\-_.:/#@+]", "", clean(value))
    return text[:32] or "-"


def name(value: object) -> str:
    """name: at most 10 Chinese characters or 20 letters (mixed counts as Chinese)."""
    text = clean(value)
    limit = 10 if _CJK.search(text) else 20
    return _cut(text, limit) or "-"


SMS_PARAM_MAX = VARIABLE_MAX_CHARS  # the SMS provider's rule (app.channels.sms.base)
# Qualifiers a long title can lose first: （上海）, (社招), 【急招】 ...
_BRACKETED = re.compile(r"[（(【\[][^）)】\]]*[）)】\]]")


def sms_time(value: datetime | None) -> str:
    """An SMS time variable: 12月06日14:00 (Asia/Shanghai), 11 characters."""
    when = local(value) if value else None
    return when.strftime("%m月%d日%H:%M") if when else "-"


TITLE_SUFFIX = "岗位"


def sms_title(value: object, limit: int = SMS_PARAM_MAX) -> tuple[str, str]:
    """A position title as TWO adjacent SMS variables, written together in the approved
    template ("您报名的{2}{3}面试"), so a title up to 2 x limit - 2 characters reaches the
    candidate whole: the first holds its first `limit` characters, the second the rest
    followed by 岗位 (never empty, which the provider refuses; a short title reads
    "Java工程师" + "岗位"). Only a title longer than that, after losing its bracketed
    qualifiers and spaces, is cut, with an ellipsis, at the end of the second."""
    text = clean(value)
    room = 2 * limit - len(TITLE_SUFFIX)
    if len(text) > room:
        text = _BRACKETED.sub("", text).strip() or text
    if len(text) > room:
        text = text.replace(" ", "")
    first, rest = text[:limit], text[limit:]
    return first or "-", _cut(rest, limit - len(TITLE_SUFFIX)) + TITLE_SUFFIX


def sms_text(value: object, limit: int = SMS_PARAM_MAX) -> str:
    """An SMS text variable within `limit` characters: whitespace and bracketed
    qualifiers go before any character of the text itself; only what still does not fit
    is cut, with an ellipsis. Never empty (the provider refuses empty variables)."""
    text = clean(value)
    if len(text) > limit:
        text = _BRACKETED.sub("", text).strip() or text
    if len(text) > limit:
        text = text.replace(" ", "")
    return _cut(text, limit) or "-"


FITTERS = {
    "thing": thing,
    "phrase": phrase,
    "time": time,
    "character_string": character_string,
    "name": name,
}
