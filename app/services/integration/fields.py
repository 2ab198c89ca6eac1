"""The field checks of the upserts (pure: no database): every field of one object is
checked and all errors are raised together (UpsertInvalid, details["errors"]). The field
list and its rules: app.services.integration.upsert's docstring."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from app.core import crypto
from app.core.errors import ValidationFailed
from app.core.timeutil import SHANGHAI

EXTERNAL_ID_RE = re.compile(r"^\S{1,64}$")
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
URL_RE = re.compile(r"^https?://\S+$", re.IGNORECASE)
TRUE_WORDS = frozenset({"true", "1", "yes", "y", "是", "对", "√"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "否", "不", "×"})
LOCAL_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")


class UpsertInvalid(ValidationFailed):
    """One or more fields are wrong; details["errors"] lists each."""

    code = "upsert_invalid"


def _not_found(name: str, message: str):
    return UpsertInvalid(message, code=f"{name}_not_found", details={
        "field": name, "errors": [{"field": name, "code": f"{name}_not_found",
                                   "message": message}]})


def _field_error(name: str, code: str, message: str) -> UpsertInvalid:
    return UpsertInvalid(message, code=code, details={
        "field": name, "errors": [{"field": name, "code": code, "message": message}]})


@dataclass
class _Errors:
    items: list[dict] = field(default_factory=list)

    def add(self, name: str, code: str, message: str) -> None:
        self.items.append({"field": name, "code": code, "message": message})

    def raise_any(self) -> None:
        if self.items:
            first = self.items[0]
            raise UpsertInvalid(first["message"], code=first["code"],
                                details={"field": first["field"], "errors": list(self.items)})


# --- field readers (pure: no database) ---------------------------------------------------

def _text(data: dict, name: str, errors: _Errors, label: str, *, required: bool,
          max_len: int) -> str | None:
    value = data.get(name)
    if value is None:
        value = ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a spreadsheet number cell
    if not isinstance(value, str | int):
        errors.add(name, f"{name}_invalid", f"{label}格式不正确")
        return None
    value = str(value).strip()
    if not value:
        if required:
            errors.add(name, f"{name}_required", f"请填写{label}")
        return None
    if len(value) > max_len:
        errors.add(name, f"{name}_too_long", f"{label}不能超过{max_len}个字符")
        return None
    return value


def _external_id(data: dict, name: str, errors: _Errors, label: str,
                 required: bool = True) -> str | None:
    value = _text(data, name, errors, label, required=required, max_len=64)
    if value is not None and not EXTERNAL_ID_RE.match(value):
        errors.add(name, f"{name}_invalid", f"{label}不能包含空格")
        return None
    return value


def _bool(data: dict, name: str, errors: _Errors, label: str) -> bool | None:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    errors.add(name, f"{name}_invalid", f"{label}请填写“是”或“否”")
    return None


def _int(data: dict, name: str, errors: _Errors, label: str, *, required: bool,
         low: int, high: int) -> int | None:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(name, f"{name}_required", f"请填写{label}")
        return None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        try:
            number = int(str(value).strip())
        except ValueError:
            number = None
    if number is None:
        errors.add(name, f"{name}_invalid", f"{label}必须是整数")
        return None
    if not low <= number <= high:
        errors.add(name, f"{name}_out_of_range", f"{label}必须在{low}到{high}之间")
        return None
    return number


def parse_time(value) -> datetime | None:
    """ISO 8601 with offset, or Beijing local time; None when it is not a time."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip()
        moment = None
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            for fmt in LOCAL_FORMATS:
                try:
                    moment = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
        if moment is None:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return moment


def _time(data: dict, name: str, errors: _Errors, label: str, *,
          required: bool) -> datetime | None:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(name, f"{name}_required", f"请填写{label}")
        return None
    moment = parse_time(value)
    if moment is None:
        errors.add(name, f"{name}_invalid",
                   f"{label}格式不正确，请使用如 2026-12-03 14:00 的北京时间或带时区的 ISO 8601")
    return moment


# --- validation per kind (pure) -----------------------------------------------------------

def clean_position(data: dict) -> dict:
    """The position's fields, checked (raises UpsertInvalid listing every bad field)."""
    e = _Errors()
    out = {"external_id": _external_id(data, "external_id", e, "岗位编号"),
           "title": _text(data, "title", e, "岗位名称", required=True, max_len=100),
           "department": _text(data, "department", e, "部门", required=True, max_len=100),
           "level": _text(data, "level", e, "级别", required=True, max_len=32),
           "is_senior": _bool(data, "is_senior", e, "是否高级岗位"),
           "cancel_requires_review": _bool(data, "cancel_requires_review", e, "取消是否需审批")}
    e.raise_any()
    return out


def clean_session(data: dict) -> dict:
    """The session's fields, checked."""
    e = _Errors()
    out = {"external_id": _external_id(data, "external_id", e, "场次编号"),
           "position_external_id": _external_id(data, "position_external_id", e, "岗位编号"),
           "starts_at": _time(data, "starts_at", e, "开始时间", required=True),
           "ends_at": _time(data, "ends_at", e, "结束时间", required=True),
           "capacity": _int(data, "capacity", e, "容量", required=True, low=1, high=10000)}
    if out["starts_at"] and out["ends_at"] and out["ends_at"] <= out["starts_at"]:
        e.add("ends_at", "ends_at_before_start", "结束时间必须晚于开始时间")
    e.raise_any()
    return out


def clean_candidate(data: dict) -> dict:
    """The candidate's fields, checked (the phone normalised: digits, no +86)."""
    e = _Errors()
    out = {"external_id": _external_id(data, "external_id", e, "候选人编号"),
           "name": _text(data, "name", e, "姓名", required=True, max_len=64),
           "phone": _text(data, "phone", e, "手机号", required=True, max_len=20),
           "email": _text(data, "email", e, "邮箱", required=False, max_len=254)}
    if out["phone"] is not None:
        out["phone"] = crypto.normalize_phone(out["phone"])
        if not MOBILE_RE.match(out["phone"]):
            e.add("phone", "phone_invalid", "手机号格式不正确，请填写11位中国大陆手机号")
    if out["email"] is not None and not EMAIL_RE.match(out["email"]):
        e.add("email", "email_invalid", "邮箱格式不正确")
    e.raise_any()
    return out


def clean_interview(data: dict) -> dict:
    """The interview's fields, checked."""
    e = _Errors()
    out = {"external_id": _external_id(data, "external_id", e, "面试编号(外部)"),
           "candidate_external_id": _external_id(data, "candidate_external_id", e,
                                                 "候选人编号"),
           "position_external_id": _external_id(data, "position_external_id", e, "岗位编号"),
           "session_external_id": _external_id(data, "session_external_id", e, "场次编号",
                                               required=False),
           "scheduled_at": _time(data, "scheduled_at", e, "面试时间", required=True),
           "duration_minutes": _int(data, "duration_minutes", e, "面试时长(分钟)",
                                    required=False, low=5, high=480),
           "interviewer_username": _text(data, "interviewer_username", e, "面试官账号",
                                         required=False, max_len=64),
           "join_url": _text(data, "join_url", e, "面试链接", required=False, max_len=500),
           "confirm_by": _time(data, "confirm_by", e, "确认截止时间", required=False),
           "number": _text(data, "number", e, "面试编号", required=False, max_len=32)}
    if out["join_url"] is not None and not URL_RE.match(out["join_url"]):
        e.add("join_url", "join_url_invalid", "面试链接必须以 http:// 或 https:// 开头")
    if out["confirm_by"] and out["scheduled_at"] and out["confirm_by"] > out["scheduled_at"]:
        e.add("confirm_by", "confirm_by_after_start", "确认截止时间不能晚于面试时间")
    e.raise_any()
    return out


CLEANERS = {"position": clean_position, "session": clean_session,
            "candidate": clean_candidate, "interview": clean_interview}
