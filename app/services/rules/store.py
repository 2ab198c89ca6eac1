"""Product rules HR can change in settings; defaults come from configuration."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from flask import current_app

from app.core.errors import ValidationFailed
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


LIMITS = {
    "cancel_deadline_hours": (0, 168),
    "reschedule_window_working_days": (1, 30),
    "note_max_length": (10, 1000),
    "notify_promise_minutes": (5, 1440),
    "auto_cancel_unconfirmed_hours": (1, 168),
    "cancel_rate_alert_percent": (1, 100),
}


def _defaults() -> dict:
    cfg = current_app.config
    return {"cancel_deadline_hours": cfg.get("CANCEL_DEADLINE_HOURS", 2),
            "notify_promise_minutes": cfg.get("NOTIFY_PROMISE_MINUTES", 60)}


def rules_from(stored: dict | None) -> Rules:
    """The rules given the stored settings value (None: nothing stored, the defaults)."""
    values = {**_defaults(), **(stored or {})}
    return Rules(**{k: v for k, v in values.items() if k in _KNOWN})


_KNOWN = frozenset(f.name for f in fields(Rules))


def get_rules() -> Rules:
    """The rules in force, read from the database each time: a change made in one process
    takes effect at once in every other."""
    stored = db.session.get(Setting, RULES_KEY)
    return rules_from(stored.value if stored else None)


def update_rules(changes: dict, *, actor_id: int) -> Rules:
    """HR changes rules; every value is validated and the change is audited."""
    current = asdict(get_rules())
    known = set(current)
    for name, value in changes.items():
        if name not in known:
            raise ValidationFailed(f"未知的设置项 {name}", code="unknown_setting",
                                   details={"field": name})
        if name in LIMITS:
            low, high = LIMITS[name]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ValidationFailed(f"{name} 必须是 {low} 到 {high} 之间的整数",
                                       code="field_invalid", details={"field": name})
        elif name == "after_deadline" and value not in AFTER_DEADLINE:
            raise ValidationFailed("after_deadline 只能是 refuse 或 request",
                                   code="field_invalid", details={"field": name})
        elif name == "hr_contact" and (not isinstance(value, str) or not 0 < len(value) <= 100):
            raise ValidationFailed("hr_contact 必须是 1 到 100 个字", code="field_invalid",
                                   details={"field": name})
    stored = db.session.get(Setting, RULES_KEY)
    if stored is None:
        stored = Setting(key=RULES_KEY, value={})
        db.session.add(stored)
    stored.value = {**(stored.value or {}), **changes}
    stored.updated_by = actor_id
    audit.record(actor_type="hr", actor_id=actor_id, action="settings.rules_changed",
                 object_type="settings", object_id=None,
                 data={k: {"from": current[k], "to": v} for k, v in changes.items()})
    db.session.commit()
    return get_rules()
