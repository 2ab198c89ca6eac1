"""WeChat's payload rules: subscribe/template message field values and custom menus.

Field rules follow WECHAT.md's table (from WeChat's subscribe message documentation):

    thing             at most 20 characters
    number            at most 32 digits, decimals allowed
    letter            at most 32 letters
    symbol            at most 5 symbols
    character_string  at most 32 digits, letters or symbols
    time              24h time, may include a date; range with "~"
    date              a date, may include a time; range with "~"
    amount            1 currency sign + at most 10 digits, may end in 元
    phone_number      at most 17 digits and symbols
    car_number        at most 8 characters (first and last may be Chinese)
    name              at most 10 Chinese characters or 20 letters (mixed counts as Chinese)
    phrase            at most 5 Chinese characters
No value may be empty or contain control characters or newlines.
"""
from __future__ import annotations

import re
import unicodedata

FIELD_TYPES = ("thing", "number", "letter", "symbol", "character_string", "time", "date",
               "amount", "phone_number", "car_number", "name", "phrase")

_MONTH = r"(?:0?[1-9]|1[0-2])"
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_DATE = (rf"(?:\d{{4}}年{_MONTH}月{_DAY}日|\d{{4}}([-/.]){_MONTH}\1{_DAY}"
         rf"|{_MONTH}月{_DAY}日)")
_TIME = r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?"
_TIME_VALUE = rf"(?:{_DATE}\s?)?{_TIME}"
_DATE_VALUE = rf"{_DATE}(?:\s?{_TIME})?"
TIME_RE = re.compile(rf"{_TIME_VALUE}(?:\s?~\s?{_TIME_VALUE})?")
DATE_RE = re.compile(rf"{_DATE_VALUE}(?:\s?~\s?{_DATE_VALUE})?")
NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
LETTER_RE = re.compile(r"[A-Za-z]{1,32}")
AMOUNT_RE = re.compile(r"[¥￥$€£]?\d+(?:\.\d+)?元?")
CAR_MIDDLE_RE = re.compile(r"[A-Za-z0-9]*")


def is_chinese(ch: str) -> bool:
    code = ord(ch)
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF
            or 0xF900 <= code <= 0xFAFF or 0x20000 <= code <= 0x2FA1F)


def is_symbol(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PS"


def has_control(value: str) -> bool:
    """Control characters (newline, tab ...) and line/paragraph separators."""
    return any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in value)


def _digits(value: str) -> int:
    return sum(ch.isdigit() for ch in value)


def _name_ok(value: str) -> bool:
    if all(ch.isascii() for ch in value):
        return len(value) <= 20 and all(ch.isalpha() or ch in " .'-" for ch in value)
    return len(value) <= 10 and all(is_chinese(ch) or ch.isalpha() or ch in " ·.'-"
                                    for ch in value)


def _car_ok(value: str) -> bool:
    if len(value) > 8:
        return False
    middle = value
    if is_chinese(middle[0]):
        middle = middle[1:]
    if middle and is_chinese(middle[-1]):
        middle = middle[:-1]
    return bool(CAR_MIDDLE_RE.fullmatch(middle))


CHECKS = {
    "thing": lambda v: len(v) <= 20,
    "number": lambda v: bool(NUMBER_RE.fullmatch(v)) and _digits(v) <= 32,
    "letter": lambda v: bool(LETTER_RE.fullmatch(v)),
    "symbol": lambda v: len(v) <= 5 and all(is_symbol(ch) for ch in v),
    "character_string": lambda v: len(v) <= 32 and all(
        (ch.isascii() and ch.isalnum()) or is_symbol(ch) for ch in v),
    "time": lambda v: bool(TIME_RE.fullmatch(v)),
    "date": lambda v: bool(DATE_RE.fullmatch(v)),
    "amount": lambda v: bool(AMOUNT_RE.fullmatch(v)) and _digits(v) <= 10,
    "phone_number": lambda v: len(v) <= 17 and _digits(v) > 0 and all(
        ch.isdigit() or is_symbol(ch) or ch == " " for ch in v),
    "car_number": _car_ok,
    "name": _name_ok,
    "phrase": lambda v: len(v) <= 5 and all(is_chinese(ch) for ch in v),
}


def value_ok(field_type: str, value: object) -> bool:
    """Whether `value` is acceptable for a field of `field_type`."""
    if not isinstance(value, str) or not value or has_control(value):
        return False
    return CHECKS[field_type](value)


def check_data(fields, data: object) -> str | None:
    """None when `data` fills every field correctly, else WeChat's 47003 errmsg.

    `fields` is a sequence of objects with `.name` and `.type`. Keys not in the template
    are ignored, as WeChat does.
    """
    if not isinstance(data, dict):
        return "argument invalid! data invalid"
    for field in fields:
        item = data.get(field.name)
        value = item.get("value") if isinstance(item, dict) else None
        if value is None or value == "":
            return f"argument invalid! data.{field.name}.value is empty"
        if not value_ok(field.type, value):
            return f"argument invalid! data.{field.name}.value invalid"
    return None


# --- custom menu ------------------------------------------------------------------------

BUTTON_TYPES = frozenset({
    "click", "view", "miniprogram", "scancode_push", "scancode_waitmsg", "pic_sysphoto",
    "pic_photo_or_album", "pic_weixin", "location_select", "media_id", "article_id",
    "article_view_limited", "view_limited"})
KEY_TYPES = frozenset({"click", "scancode_push", "scancode_waitmsg", "pic_sysphoto",
                       "pic_photo_or_album", "pic_weixin", "location_select"})
TOP_NAME_BYTES = 16   # top-level button name
SUB_NAME_BYTES = 60   # sub-button name (WeChat's documented limit for second-level names)
KEY_BYTES = 128
URL_BYTES = 1024


def _check_leaf(button: dict, name_bytes: int, mp_appid: str) -> tuple[int, str] | None:
    name = button.get("name")
    if not isinstance(name, str) or not name or len(name.encode()) > name_bytes:
        return 40018, "invalid button name size"
    kind = button.get("type")
    if kind not in BUTTON_TYPES:
        return 40017, "invalid button type"
    key = button.get("key")
    if kind in KEY_TYPES and (not isinstance(key, str) or not key):
        return 40019, "invalid button key size"
    if key is not None and (not isinstance(key, str) or len(key.encode()) > KEY_BYTES):
        return 40019, "invalid button key size"
    if kind in ("view", "miniprogram"):
        url = button.get("url")
        if not isinstance(url, str) or not re.match(r"https?://", url) \
                or len(url.encode()) > URL_BYTES:
            return 40055, "invalid button url domain"
    if kind == "miniprogram":
        if button.get("appid") != mp_appid:
            return 40013, "invalid appid"
        if not isinstance(button.get("pagepath"), str) or not button["pagepath"]:
            return 40165, "invalid weapp pagepath"
    if kind in ("media_id", "view_limited") and not button.get("media_id"):
        return 40007, "invalid media_id"
    if kind in ("article_id", "article_view_limited") and not button.get("article_id"):
        return 47003, "argument invalid! article_id"
    return None


def check_menu(menu: object, mp_appid: str) -> tuple[int, str] | None:
    """None when WeChat would accept this menu, else (errcode, errmsg)."""
    buttons = menu.get("button") if isinstance(menu, dict) else None
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return 40016, "invalid button size"
    for button in buttons:
        if not isinstance(button, dict):
            return 40016, "invalid button size"
        subs = button.get("sub_button")
        if subs:  # an empty list means a leaf button, as menu/get returns them
            if not isinstance(subs, list) or len(subs) > 5:
                return 40023, "invalid sub button size"
            name = button.get("name")
            if not isinstance(name, str) or not name or len(name.encode()) > TOP_NAME_BYTES:
                return 40018, "invalid button name size"
            for sub in subs:
                if not isinstance(sub, dict):
                    return 40023, "invalid sub button size"
                problem = _check_leaf(sub, SUB_NAME_BYTES, mp_appid)
                if problem:
                    return problem
        else:
            problem = _check_leaf(button, TOP_NAME_BYTES, mp_appid)
            if problem:
                return problem
    return None
