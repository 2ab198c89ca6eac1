"""Product rules HR can change in settings; defaults come from configuration.

`get_rules()` reads the settings row each time it is asked (no process cache), so a change
saved by one web process or worker takes effect at once in every other.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from flask import current_app

from app.core.errors import Forbidden, ValidationFailed
from app.extensions import db
from app.models import Setting
from app.services import audit

RULES_KEY = "rules"
AFTER_DEADLINE = ("refuse", "request")


@dataclass(frozen=True)
class Rules:
    cancel_deadline_hours: int = 2         # candidates cancel themselves until N h before
    after_deadline: str = "refuse"         # "refuse" or "request" (HR approval)
    reschedule_window_working_days: int = 3
    note_max_length: int = 200
    hr_contact: str = "请联系招聘HR"
    notify_promise_minutes: int = 60
    auto_cancel_unconfirmed_hours: int = 24
    cancel_rate_alert_percent: int = 20    # reports flag positions cancelled above this
    # Position.level values whose cancel requests need a second approval (besides the
    # positions marked is_senior).
    second_approval_levels: tuple[str, ...] = ()
    # The confirmation deadline an invitation gives: N hours before the interview starts.
    confirm_window_hours: int = 24
    # The confirmation reminder goes out N hours before that deadline.
    reminder_lead_hours: int = 12
    # Requests nobody decided (issue 11 §3): a candidate's request still open N hours
    # before the start goes to the department's recruiting managers; at the start it is
    # settled: "approve" (cancelled by the system: the candidate said they will not come)
    # or "reject" (the interview stays as it was).
    escalation_lead_hours: int = 2
    unanswered_request_at_start: str = "approve"


LIMITS = {
    "cancel_deadline_hours": (0, 168),
    "reschedule_window_working_days": (1, 30),
    "note_max_length": (10, 1000),
    "notify_promise_minutes": (5, 1440),
    "auto_cancel_unconfirmed_hours": (1, 168),
    "cancel_rate_alert_percent": (1, 100),
    "confirm_window_hours": (1, 168),
    "reminder_lead_hours": (1, 72),
    "escalation_lead_hours": (1, 72),
}
UNANSWERED_AT_START = ("approve", "reject")

# What each rule is called on the settings page (errors name the rule by it).
LABELS = {
    "cancel_deadline_hours": "候选人自助取消截止（面试前小时数）",
    "after_deadline": "超过截止时间后",
    "reschedule_window_working_days": "重新安排期限（工作日）",
    "note_max_length": "取消说明最多字数",
    "hr_contact": "HR联系方式",
    "notify_promise_minutes": "通知时效承诺（分钟）",
    "auto_cancel_unconfirmed_hours": "未确认自动取消（邀请后小时数）",
    "cancel_rate_alert_percent": "取消率预警线（%）",
    "second_approval_levels": "需要二级审批的岗位职级",
    "confirm_window_hours": "确认截止（面试前小时数）",
    "reminder_lead_hours": "确认提醒提前量（小时）",
    "escalation_lead_hours": "待审批申请上报招聘经理（面试前小时数）",
    "unanswered_request_at_start": "面试开始时仍未审批的取消申请",
}
HR_CONTACT_MAX = 100
LEVEL_MAX_LENGTH = 32
LEVELS_MAX = 50


def _defaults() -> dict:
    cfg = current_app.config
    return {"cancel_deadline_hours": cfg.get("CANCEL_DEADLINE_HOURS", 2),
            "notify_promise_minutes": cfg.get("NOTIFY_PROMISE_MINUTES", 60)}


_KNOWN = frozenset(f.name for f in fields(Rules))


def rules_from(stored: dict | None) -> Rules:
    """The rules given the stored settings value (None: nothing stored, the defaults)."""
    values = {**_defaults(), **(stored or {})}
    values = {k: v for k, v in values.items() if k in _KNOWN}
    if "second_approval_levels" in values:
        values["second_approval_levels"] = tuple(values["second_approval_levels"] or ())
    return Rules(**values)


def get_rules() -> Rules:
    """The rules in force, read from the database each time: a change made in one process
    takes effect at once in every other."""
    stored = db.session.get(Setting, RULES_KEY)
    return rules_from(stored.value if stored else None)


def _invalid(name: str, message: str, code: str = "field_invalid") -> ValidationFailed:
    return ValidationFailed(message, code=code, details={"field": name})


def clean_value(name: str, value):
    """One rule's value, checked (raises ValidationFailed naming the field in Chinese)."""
    label = LABELS.get(name, name)
    if name in LIMITS:
        low, high = LIMITS[name]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise _invalid(name, f"{label}必须是 {low} 到 {high} 之间的整数",
                           "field_out_of_range")
        return value
    if name == "after_deadline":
        if value not in AFTER_DEADLINE:
            raise _invalid(name, f"{label}只能是“拒绝”或“提交HR审批”")
        return value
    if name == "unanswered_request_at_start":
        if value not in UNANSWERED_AT_START:
            raise _invalid(name, f"{label}只能是“自动通过（系统取消）”或“自动驳回（保留面试）”")
        return value
    if name == "hr_contact":
        text = value.strip() if isinstance(value, str) else ""
        if not 0 < len(text) <= HR_CONTACT_MAX:
            raise _invalid(name, f"{label}须为 1 到 {HR_CONTACT_MAX} 个字")
        return text
    if name == "second_approval_levels":
        if not isinstance(value, list | tuple) or len(value) > LEVELS_MAX:
            raise _invalid(name, f"{label}须为职级列表（最多{LEVELS_MAX}个）")
        levels = []
        for level in value:
            level = level.strip() if isinstance(level, str) else None
            if not level or len(level) > LEVEL_MAX_LENGTH:
                raise _invalid(name, f"{label}中的每个职级须为 1 到 {LEVEL_MAX_LENGTH} 个字符")
            if level not in levels:
                levels.append(level)
        return sorted(levels)
    raise ValidationFailed(f"未知的设置项 {name}", code="unknown_setting",
                           details={"field": name})


def all_errors(errors: list[ValidationFailed]) -> ValidationFailed:
    """One error for a form: the first field's message and code, and every field's in
    details["errors"] ({field: {"code", "message"}}), so each is shown beside its field."""
    first = errors[0]
    return ValidationFailed(first.message, code=first.code, details={
        "field": first.details.get("field"),
        "errors": {e.details.get("field"): {"code": e.code, "message": e.message}
                   for e in errors}})


def update_rules(changes: dict, *, actor_id: int | None, ip: str | None = None) -> Rules:
    """HR changes rules; every value is validated (nothing is saved when one is bad) and
    the change is audited with the values before and after."""
    current = asdict(get_rules())
    clean, errors = {}, []
    for name, value in changes.items():
        try:
            if name not in current:
                raise ValidationFailed(f"未知的设置项 {name}", code="unknown_setting",
                                       details={"field": name})
            clean[name] = clean_value(name, value)
        except ValidationFailed as exc:
            errors.append(exc)
    if errors:
        raise all_errors(errors)
    stored_before = {k: list(v) if isinstance(v, tuple) else v for k, v in current.items()}
    changed = {k: v for k, v in clean.items() if stored_before[k] != v}
    if not changed:
        return get_rules()
    stored = db.session.get(Setting, RULES_KEY, with_for_update=True)
    if stored is None:
        stored = Setting(key=RULES_KEY, value={})
        db.session.add(stored)
    stored.value = {**(stored.value or {}), **changed}
    stored.updated_by = actor_id
    audit.record(actor_type="hr" if actor_id is not None else "system", actor_id=actor_id,
                 action="settings.rules_changed", object_type="settings", object_id=None,
                 ip=ip, data={"before": {k: stored_before[k] for k in changed},
                              "after": changed})
    db.session.commit()
    return get_rules()


def change_rules(actor, changes: dict, *, ip: str | None = None) -> Rules:
    """An admin (permission "settings") changes rules; they take effect at once."""
    require_settings(actor)
    return update_rules(changes, actor_id=actor.id, ip=ip)


def require_settings(actor) -> None:
    """Settings are for users with the "settings" permission (admins)."""
    if actor is None or not actor.can("settings") or not actor.is_hr:
        raise Forbidden("只有系统管理员可以修改系统设置", code="settings_forbidden")
